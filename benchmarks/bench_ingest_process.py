"""Ingest as users run it: whole processes, wall clock from exec to exit, on one WARC of
the 990 real pages of the trafilatura evaluation set (eval_warc.py builds it).

* datatrove: a `python -c` script running LocalPipelineExecutor(WarcReader -> Trafilatura ->
  JsonlWriter, tasks=1), Trafilatura with datatrove's defaults.
* gristmill: `gristmill ingest WARC --out DIR --workers 1` (the in-process path).
* gristmill, LocalCluster: the same command forced onto the cluster path it took before
  (`runner.runs_in_process` patched to say no), to show what the cluster costs.

Each round runs the three back to back; the best of `--repeat` rounds is reported (and
every round's ratio). docs/s = documents written / wall seconds; CPU = user + system
seconds of the process and its children. F1 scores each side's output against the gold
snippets (eval_extraction.py's scoring; a page with no document scores as empty text). The
phase table comes from the timestamps gristmill writes with GRISTMILL_TIMINGS set and the
per-phase seconds its shards record (pipeline/timing.py).

    python benchmarks/bench_ingest.py --whole-process [--repeat 3] [--warc PATH] [--no-cluster-row]
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eval_warc  # noqa: E402

DATATROVE = """
import os, sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.readers import WarcReader
from datatrove.pipeline.writers import JsonlWriter
warc, out = sys.argv[1:3]
LocalPipelineExecutor(pipeline=[WarcReader(os.path.dirname(warc), glob_pattern=os.path.basename(warc)),
                                Trafilatura(), JsonlWriter(os.path.join(out, "docs"))],
                      tasks=1, workers=1, logging_dir=os.path.join(out, "logs")).run()
"""
# The gristmill command line with the in-process path turned off: what --workers 1 did before.
ON_CLUSTER = ("import sys; from gristmill.pipeline import runner; runner.runs_in_process = lambda *a: False; "
              "from gristmill.pipeline.cli import main; sys.exit(main())")


def timed(cmd: list[str], env: dict | None = None) -> dict:
    """Run `cmd` to its exit: wall seconds from exec, CPU seconds, and the exec timestamp."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t_exec = time.time()
    t0 = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        proc = subprocess.run(cmd, env=env, stdout=devnull, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} exited {proc.returncode}: {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "t_exec": t_exec, "t_exit": t_exec + wall}


def gristmill_bin() -> str:
    path = os.path.join(os.path.dirname(sys.executable), "gristmill")
    return path if os.path.exists(path) else shutil.which("gristmill") or "gristmill"


def run_gristmill(warc: str, out: str, on_cluster: bool) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    log = out + ".timings.jsonl"
    if os.path.exists(log):
        os.remove(log)
    env = {**os.environ, "GRISTMILL_TIMINGS": log}
    head = [sys.executable, "-c", ON_CLUSTER] if on_cluster else [gristmill_bin()]
    r = timed(head + ["ingest", warc, "--out", out, "--workers", "1"], env=env)
    import pyarrow.parquet as pq

    table = pq.read_table(glob.glob(os.path.join(out, "part-*.parquet")), columns=["url", "text"])
    r["texts"] = dict(zip(table.column("url").to_pylist(), table.column("text").to_pylist()))
    r["docs"] = table.num_rows
    with open(log, encoding="utf-8") as f:
        r["events"] = [json.loads(line) for line in f if line.strip()]
    return r


def run_datatrove(warc: str, out: str) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    r = timed([sys.executable, "-c", DATATROVE, warc, out])
    texts = {}
    for path in glob.glob(os.path.join(out, "docs", "*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                texts[d["metadata"]["url"]] = d["text"]
    r["texts"], r["docs"] = texts, len(texts)
    return r


def phases(r: dict) -> list[tuple[str, float]]:
    """Wall seconds of one gristmill run by phase; they add up to its wall time."""
    ev: dict = {}
    for e in r["events"]:
        ev.setdefault(e["event"], e)
    step = ev["phases"]["seconds"]
    cluster_start = ev["cluster_up"]["t"] - ev["run_start"]["t"] if "cluster_up" in ev else 0.0
    cluster_stop = ev["cluster_down"]["t"] - ev["shards_done"]["t"] if "cluster_down" in ev else 0.0
    window = ev["shards_done"]["t"] - ev["run_start"]["t"] - cluster_start
    sub = {k.split(".", 1)[1]: v for k, v in step.items() if k.startswith("process.")}
    rows = [
        ("start-up: interpreter, imports, options", ev["cli"]["t"] - r["t_exec"]),
        ("workflow check", ev["run_start"]["t"] - ev["cli"]["t"]),
        ("cluster start (LocalCluster, worker process)", cluster_start),
        ("stage set-up (extractor imports, LID model)", step.get("setup", 0.0)),
        ("reading records (WARC, HTTP, table)", step.get("process", 0.0) - sum(sub.values())),
        ("charset decoding", sub.get("decode", 0.0)),
        ("license / opt-out signals", sub.get("signals", 0.0)),
        ("extraction", sub.get("extract", 0.0)),
        ("language ID", sub.get("language_id", 0.0)),
        ("writing (Parquet, checksums)", step.get("write", 0.0)),
        ("task scheduling, transfer", window - step.get("setup", 0.0) - step.get("process", 0.0)
         - step.get("write", 0.0)),
        ("cluster stop", cluster_stop),
        ("stats, summary, exit", r["t_exit"] - ev["shards_done"]["t"] - cluster_stop),
    ]
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--warc", default=os.path.join(tempfile.gettempdir(), "gristmill_bench", "trafilatura_eval.warc.gz"),
                    help="where the eval WARC is (built there from --root if missing)")
    ap.add_argument("--root", default=eval_warc.DEFAULT_ROOT,
                    help="pages in the trafilatura evaluation set's layout (default: that set; eval_wceb.py "
                    "--write-evalset writes another)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the best of them is reported")
    ap.add_argument("--no-cluster-row", action="store_true", help="skip the LocalCluster run of gristmill")
    args = ap.parse_args(argv)
    if not os.path.exists(os.path.join(args.root, "evaldata.json")):
        print(f"evaluation set not found: {args.root}", file=sys.stderr)
        return 2
    warc = os.path.abspath(eval_warc.ensure(args.warc, args.root))
    gold = eval_warc.gold(args.root)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  "
          f"({os.cpu_count()} cores; ratios are measured back to back)")
    work = tempfile.mkdtemp(prefix="gristmill_bench_")
    names = ["datatrove", "gristmill"] + ([] if args.no_cluster_row else ["gristmill_cluster"])
    runs: dict[str, list[dict]] = {n: [] for n in names}
    try:
        for i in range(args.repeat):
            runs["datatrove"].append(run_datatrove(warc, os.path.join(work, "dt")))
            runs["gristmill"].append(run_gristmill(warc, os.path.join(work, "gm"), on_cluster=False))
            if "gristmill_cluster" in runs:
                runs["gristmill_cluster"].append(run_gristmill(warc, os.path.join(work, "gmc"), on_cluster=True))
            rates = {n: runs[n][-1]["docs"] / runs[n][-1]["wall"] for n in names}
            print(f"round {i + 1}: " + ", ".join(f"{n} {rates[n]:.1f} docs/s" for n in names)
                  + f"; ratio {rates['gristmill'] / rates['datatrove']:.2f}x  (load {os.getloadavg()[0]:.2f})",
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best = {n: min(runs[n], key=lambda r: r["wall"]) for n in names}
    labels = {"datatrove": "datatrove WarcReader -> Trafilatura -> JsonlWriter (1 task)",
              "gristmill": "gristmill ingest --workers 1 (in process)",
              "gristmill_cluster": "gristmill ingest --workers 1 on a LocalCluster (before)"}
    print(f"\n{len(gold)} pages in one WARC ({warc}); whole processes, best of {args.repeat}\n")
    print("| pipeline (whole process) | docs | wall s | CPU s | docs/s | F1 |")
    print("|---|---|---|---|---|---|")
    for n in names:
        r = best[n]
        f1 = eval_warc.score(r["texts"], gold)["f1"]
        print(f"| {labels[n]} | {r['docs']} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['docs'] / r['wall']:.1f} | {f1:.3f} |")
    if os.path.abspath(args.root) == os.path.abspath(eval_warc.DEFAULT_ROOT):
        print(f"(F1 over these {len(gold)} pages: the default `blocks` engine was trained on them, so gristmill's is"
              " in-sample; its held-out F1 by site is what benchmarks/train_block_extractor.py --cv-only prints)")
    rate = {n: best[n]["docs"] / best[n]["wall"] for n in names}
    print(f"\nratio gristmill / datatrove (best of {args.repeat}): {rate['gristmill'] / rate['datatrove']:.2f}x"
          + (f"  (on a LocalCluster: {rate['gristmill_cluster'] / rate['datatrove']:.2f}x)"
             if "gristmill_cluster" in rate else ""))
    print("\nwhere gristmill's wall time goes (best run, seconds):\n")
    cols = [n for n in names if n.startswith("gristmill")]
    table = {n: phases(best[n]) for n in cols}
    print("| phase | " + " | ".join(labels[n].split(" (")[0] if n == "gristmill" else "on a LocalCluster"
                                    for n in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for i, (label, _) in enumerate(table["gristmill"]):
        print(f"| {label} | " + " | ".join(f"{table[n][i][1]:.2f}" for n in cols) + " |")
    print("| **total (wall)** | " + " | ".join(f"**{best[n]['wall']:.2f}**" for n in cols) + " |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
