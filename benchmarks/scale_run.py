"""Run the scale workflow on a generated corpus and measure it, step by step.

    python benchmarks/scale_run.py --corpus /work/scratch_scale16/c1m --workdir /work/scratch_scale16/r1m \
        --label 1M --results benchmarks/results/scale.json

What it does, as a user would: copies benchmarks/scale_workflow.yaml beside the run with its
`inputs:` set to the corpus and runs `gristmill run workflow.yaml --workdir DIR` (the runner's
own LocalCluster: one single-threaded worker process per core) as a child process, while
sampling once a second:
- the resident memory (RSS) of every process of the run: the driver (runner + scheduler) and
  each Dask worker (found as the driver's children by psutil);
- which step is running, from the step folders the runner writes (a corpus or sink step
  starts when it creates `_state/`, its fit ends at `_state/_fitted`, its shards at the last
  `_done/` marker; the next step's `_state/` ends it);
- the disk used by the run's folder and by Dask's spill folder (DASK_TEMPORARY_DIRECTORY,
  set to DIR/dask-tmp so the p2p shuffle's files are counted).
Afterwards: per step wall time, docs/s, peak RSS per worker, disk (documents written,
intermediate `_state/`), the dedupe's precision and recall against the corpus's planted
duplicates, and the run's totals; merged into `--results` (one entry per `--label`).
`--plot` draws benchmarks/results/scale.png from that JSON.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STEPS = ("dedupe_exact", "dedupe_fuzzy", "tokenize", "shards")
DEDUPE_STEPS = ("dedupe_exact", "dedupe_fuzzy")


def du(path: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


def step_disk(folder: str) -> dict:
    state = du(os.path.join(folder, "_state"))
    dropped = du(os.path.join(folder, "dropped"))
    return {"state_bytes": state, "dropped_bytes": dropped, "total_bytes": du(folder),
            "output_bytes": du(folder) - state - dropped}


class Sampler(threading.Thread):
    """Samples memory per process, the running step and disk, until stopped."""

    def __init__(self, pid: int, workdir: str, scratch: str, every: float = 1.0):
        super().__init__(daemon=True)
        self.proc, self.workdir, self.scratch, self.every = psutil.Process(pid), workdir, scratch, every
        self.samples: list[dict] = []  # t, step, rss per pid (MiB)
        self.events: dict[str, dict] = {s: {} for s in STEPS}
        self.disk: list[tuple[float, int, int]] = []
        self.roles: dict[int, str] = {}
        self.stop = threading.Event()
        self.t0 = time.time()

    def step_now(self, now: float) -> str | None:
        current = None
        for s in STEPS:
            folder = os.path.join(self.workdir, s)
            ev = self.events[s]
            if "start" not in ev and os.path.isdir(os.path.join(folder, "_state")):
                ev["start"] = now
            if "fit_end" not in ev and os.path.exists(os.path.join(folder, "_state", "_fitted")):
                ev["fit_end"] = now
            done = os.path.join(folder, "_done")
            if os.path.isdir(done):
                n = len(os.listdir(done))
                if n != ev.get("markers"):
                    ev["markers"], ev["last_marker"] = n, now
            if "start" in ev:
                current = s
        return current

    def run(self):
        last_disk = 0.0
        while not self.stop.is_set():
            now = time.time() - self.t0
            try:
                procs = [self.proc] + self.proc.children(recursive=True)
            except psutil.NoSuchProcess:
                break
            rss, cpu = {}, {}
            for p in procs:
                try:
                    rss[p.pid] = p.memory_info().rss / 2**20
                    c = p.cpu_times()
                    cpu[p.pid] = c.user + c.system
                    if p.pid not in self.roles:
                        cmd = " ".join(p.cmdline())
                        self.roles[p.pid] = ("driver" if p.pid == self.proc.pid else
                                             "worker" if "multiprocessing.spawn" in cmd or "spawn_main" in cmd else
                                             "other:" + cmd[:60])
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            self.samples.append({"t": round(now, 1), "step": self.step_now(now), "rss": rss, "cpu": cpu})
            if now - last_disk >= 10:
                self.disk.append((round(now, 1), du(self.workdir), du(self.scratch)))
                last_disk = now
            self.stop.wait(self.every)


def step_windows(events: dict, wall: float) -> dict:
    """Each step: [start, end) where end is the next step's start (or the run's end)."""
    out, starts = {}, [(s, events[s].get("start")) for s in STEPS]
    for i, (s, t) in enumerate(starts):
        if t is None:
            continue
        end = next((u for _, u in starts[i + 1:] if u is not None), wall)
        out[s] = {"start": round(t, 1), "end": round(end, 1), "seconds": round(end - t, 1),
                  "fit_seconds": round(events[s].get("fit_end", end) - t, 1)}
    return out


def _texts_of(corpus: str, wanted: set[str]) -> dict[str, str]:
    value_set = pa.array(sorted(wanted), pa.string())
    out = {}
    for p in sorted(glob.glob(os.path.join(corpus, "part-*.parquet"))):
        t = pq.read_table(p, columns=["id", "text"])
        t = t.filter(pc.is_in(t.column("id"), value_set=value_set))
        out.update(zip(t.column("id").to_pylist(), t.column("text").to_pylist()))
    return out


def dedupe_quality(corpus: str, workdir: str, threshold: float = 0.8) -> dict:
    """Precision/recall of the documents removed by both dedupe steps against the planted truth.

    A planted cluster is an original and its copies that are true duplicates (every exact copy;
    a near copy when its measured Jaccard to the original is >= threshold): all but one of its
    members should go. A removed document is right if it belongs to such a cluster (and the
    cluster has not already lost all but one); recall = right removals / (size - 1) summed.
    Only clusters whose original is in the corpus are planted ones (a corpus cut from a bigger
    one, e.g. its first shards, lacks some originals). A removal outside them is checked by
    measuring the Jaccard (dedupe_data's definition) to the copy it names as kept: >= threshold
    is a real duplicate the plant did not label (two copies of an absent original; two documents
    that share a long real sentence, e.g. from two editions of one book), which counts as right;
    below it is a false positive (a cluster joined through a third document)."""
    sys.path.insert(0, HERE)
    from dedupe_data import jaccard, shingle_set

    truth = pa.concat_tables([pq.read_table(p, columns=["id", "truth_kind", "truth_of", "truth_jaccard"])
                              for p in sorted(glob.glob(os.path.join(corpus, "part-*.parquet")))])
    dropped = []
    for s in DEDUPE_STEPS:
        for p in sorted(glob.glob(os.path.join(workdir, s, "dropped", "part-*.parquet"))):
            dropped.append(pq.read_table(p, columns=["id", "reason", "duplicate_of"]))
    dropped = pa.concat_tables(dropped) if dropped else pa.table({c: pa.array([], pa.string())
                                                                  for c in ("id", "reason", "duplicate_of")})
    kind = truth.column("truth_kind").to_numpy(zero_copy_only=False)
    jac = truth.column("truth_jaccard").to_numpy()
    ids = truth.column("id").to_numpy(zero_copy_only=False)
    of = truth.column("truth_of").to_numpy(zero_copy_only=False)
    true_copy = (kind == "exact") | ((kind == "near") & (jac >= threshold))
    # a corpus cut from a bigger one lacks some originals (np.isin on object arrays is quadratic)
    present = pc.fill_null(pc.is_in(truth.column("truth_of"), value_set=truth.column("id")), False).to_numpy(
        zero_copy_only=False)
    label = {}  # document in a true planted cluster -> the original's id
    for i in np.flatnonzero(true_copy & present):
        label[ids[i]] = of[i]
        label.setdefault(of[i], of[i])
    del truth, kind, jac, ids, of, present
    sizes: dict[str, int] = {}
    for v in label.values():
        sizes[v] = sizes.get(v, 0) + 1
    should_remove = sum(n - 1 for n in sizes.values())
    removed_in: dict[str, int] = {}
    right, outside = 0, []
    for d, kept in zip(dropped.column("id").to_pylist(), dropped.column("duplicate_of").to_pylist()):
        c = label.get(d)
        if c is not None and removed_in.get(c, 0) < sizes[c] - 1:
            removed_in[c] = removed_in.get(c, 0) + 1
            right += 1
        else:
            outside.append((d, kept))
    texts = _texts_of(corpus, {x for pair in outside for x in pair if x})
    measured = [jaccard(shingle_set(texts[d]), shingle_set(texts[k])) if k in texts else 0.0 for d, k in outside]
    accidental = sum(j >= threshold for j in measured)
    n_removed = dropped.num_rows
    reasons = pc.value_counts(dropped.column("reason")).to_pylist() if n_removed else []
    good = right + accidental
    return {"planted_true_copies": len(label) - len(sizes), "planted_clusters": len(sizes), "should_remove": should_remove,
            "removed": n_removed, "removed_planted": right, "removed_real_duplicates_outside_plant": int(accidental),
            "removed_false_positives": len(outside) - int(accidental),
            "false_positive_jaccard_to_kept": sorted(round(j, 3) for j in measured if j < threshold)[:50],
            "precision": round(good / n_removed, 5) if n_removed else None,
            "recall_of_planted": round(right / should_remove, 5) if should_remove else None,
            "removed_by_reason": {r["values"]: r["counts"] for r in reasons}}


def markers_total(folder: str) -> dict:
    """A stopped run writes no stats.json: sum the finished shards' markers instead."""
    out = {"docs_in": 0, "docs_out": 0, "shards_done": 0}
    for p in glob.glob(os.path.join(folder, "_done", "*.json")):
        m = json.load(open(p))
        out["docs_in"] += m["docs_in"]
        out["docs_out"] += m["docs_out"]
        out["shards_done"] += 1
    fitted = os.path.join(folder, "_state", "_fitted")
    if os.path.exists(fitted):
        out["fit"] = json.load(open(fitted))
    return out


def summarise(label: str, corpus: str, workdir: str, sampler: Sampler, wall: float, rc: int, cmd: list[str]) -> dict:
    info = json.load(open(os.path.join(corpus, "corpus.json")))
    windows = step_windows(sampler.events, wall)
    workers = sorted(p for p, r in sampler.roles.items() if r == "worker")
    steps = {}
    prev = None
    for s, w in windows.items():
        inside = [x for x in sampler.samples if w["start"] <= x["t"] < w["end"]]
        peak = {str(p): round(max((x["rss"].get(p, 0) for x in inside), default=0)) for p in workers}
        # CPU seconds of the run's processes in the window: what the step costs whatever the
        # machine's load (wall time on a shared machine is not)
        # (per process: last value seen minus first, as workers are gone by the run's last samples)
        seen: dict[int, list[float]] = {}
        for x in inside:
            for p, v in x["cpu"].items():
                seen.setdefault(p, []).append(v)
        cpu_s = sum(max(v) - min(v) for v in seen.values())
        stats_path = os.path.join(workdir, s, "stats.json")
        stats = json.load(open(stats_path)) if os.path.exists(stats_path) else markers_total(os.path.join(workdir, s))
        docs_in = stats.get("docs_in") or (steps[prev]["docs_out"] if prev in steps else None)  # a sink: its input
        steps[s] = {**w, "docs_in": docs_in, "docs_out": stats.get("docs_out"),
                    "complete": bool(stats.get("complete") or (stats.get("shards_done") == info["shards"])),
                    "docs_per_s": round(docs_in / w["seconds"]) if docs_in and w["seconds"] else None,
                    "cpu_seconds": round(cpu_s, 1),
                    "peak_rss_mib_per_worker": peak,
                    "peak_rss_mib_max_worker": max(peak.values(), default=0),
                    "peak_rss_mib_driver": round(max((x["rss"].get(sampler.proc.pid, 0) for x in inside), default=0)),
                    "disk": step_disk(os.path.join(workdir, s)),
                    "fit": stats.get("fit") or stats.get("product")}
        prev = s
    manifest_path = os.path.join(workdir, "shards", "manifest.json")
    manifest = json.load(open(manifest_path)) if os.path.exists(manifest_path) else {}
    return {
        "label": label, "rc": rc, "command": " ".join(cmd), "wall_seconds": round(wall, 1),
        "corpus": info, "input_bytes": info["parquet_bytes"],
        "tokens": manifest.get("total_tokens"), "token_documents": manifest.get("total_documents"),
        "steps": steps, "dedupe": dedupe_quality(corpus, workdir)
        if all(steps.get(s, {}).get("complete") for s in DEDUPE_STEPS) else None,
        "peak_disk_bytes_run": max((d[1] for d in sampler.disk), default=0),
        "peak_disk_bytes_dask_spill": max((d[2] for d in sampler.disk), default=0),
        "final_disk_bytes_run": du(workdir),
        "workers": len(workers), "cpu_count": os.cpu_count(), "loadavg_end": os.getloadavg(),
        "memory_timeline": [{"t": x["t"], "step": x["step"],
                             "workers": [round(x["rss"].get(p, 0)) for p in workers],
                             "driver": round(x["rss"].get(sampler.proc.pid, 0))} for x in sampler.samples[::5]],
        "disk_timeline": sampler.disk,
    }


def run(args) -> dict:
    os.makedirs(args.workdir, exist_ok=True)
    wf = open(os.path.join(HERE, "scale_workflow.yaml")).read()
    wf = wf.replace("CORPUS/*.parquet", os.path.join(os.path.abspath(args.corpus), "part-*.parquet"))
    wf = wf.replace("../workflows/workflow.schema.json", os.path.join(ROOT, "workflows", "workflow.schema.json"))
    yaml_path = os.path.join(args.workdir, "workflow.yaml")
    open(yaml_path, "w").write(wf)
    run_dir = os.path.join(args.workdir, "run")
    scratch = os.path.join(args.workdir, "dask-tmp")
    os.makedirs(scratch, exist_ok=True)
    gristmill = os.path.join(os.path.dirname(sys.executable), "gristmill")
    cmd = [gristmill, "run", yaml_path, "--workdir", run_dir] + (["--workers", str(args.workers)] if args.workers else [])
    env = dict(os.environ, DASK_TEMPORARY_DIRECTORY=scratch)
    print("load average before:", os.getloadavg(), "\n$", " ".join(cmd), flush=True)
    t0 = time.time()
    proc = subprocess.Popen(cmd, env=env)
    sampler = Sampler(proc.pid, run_dir, scratch)
    sampler.start()
    while True:
        try:
            rc = proc.wait(timeout=5)
            break
        except subprocess.TimeoutExpired:
            if args.stop_after and time.time() - t0 > args.stop_after:
                print(f"stopping the run after {args.stop_after}s (--stop-after)", flush=True)
                stop(proc)
                rc = "stopped"
                break
    wall = time.time() - t0
    sampler.stop.set()
    sampler.join()
    return summarise(args.label, args.corpus, run_dir, sampler, wall, rc, cmd)


def stop(proc: subprocess.Popen) -> None:
    """End the run we started: the driver, then any of its worker processes still alive."""
    kids = psutil.Process(proc.pid).children(recursive=True)
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for k in kids:
        try:
            k.kill()
        except psutil.NoSuchProcess:
            pass


def plot(results_path: str, png: str) -> None:
    """Top: wall minutes, CPU minutes and peak worker RSS per step, per corpus; bottom: memory
    over the run of the corpora measured with the final code (labels without "before")."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = json.load(open(results_path))
    labels = list(res)
    runs = [lab for lab in labels if "before" not in lab]
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5))
    width = 0.8 / len(labels)
    x = np.arange(len(STEPS))
    bars = (("wall minutes per step (shared, loaded machine)", lambda w: w.get("seconds", 0) / 60),
            ("CPU minutes per step (driver + workers)", lambda w: (w.get("cpu_seconds") or 0) / 60),
            ("peak RSS of the largest worker, MiB", lambda w: w.get("peak_rss_mib_max_worker", 0)))
    for ax, (title, value) in zip(axes[0], bars):
        for j, lab in enumerate(labels):
            ax.bar(x + j * width, [value(res[lab]["steps"].get(s, {})) for s in STEPS], width,
                   label=f"{lab} ({res[lab]['corpus']['docs']:,} docs)")
        ax.set_xticks(x + width * (len(labels) - 1) / 2, STEPS)
        ax.set_title(title)
    axes[0][0].legend(fontsize=7)
    for ax, lab in zip(axes[1], runs[:3]):
        tl = res[lab]["memory_timeline"]
        t = [p["t"] / 60 for p in tl]
        for w in range(max((len(p["workers"]) for p in tl), default=0)):
            ax.plot(t, [p["workers"][w] if w < len(p["workers"]) else 0 for p in tl], label=f"worker {w}")
        ax.plot(t, [p["driver"] for p in tl], label="driver", color="gray")
        top = max((max(p["workers"] + [p["driver"]]) for p in tl), default=1)
        for s, w in res[lab]["steps"].items():
            ax.axvline(w["start"] / 60, color="k", lw=0.5)
            ax.text(w["start"] / 60, top, " " + s, fontsize=7, rotation=90, va="top")
        ax.set_xlabel("minutes")
        ax.set_ylabel("RSS MiB")
        ax.set_title(f"memory over the run, {lab}")
        ax.legend(fontsize=7, loc="center left")
    for ax in axes[1][len(runs[:3]):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def table(results_path: str) -> str:
    """The README's table: one row per (size, step)."""
    res = json.load(open(results_path))
    gb = 1e9
    rows = ["| corpus | docs | text GB | tokens | step | wall min | CPU min | docs/s (wall) | peak RSS per worker MiB "
            "| driver MiB | output GB | state GB |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for lab, r in res.items():
        c = r["corpus"]
        for i, s in enumerate(STEPS):
            w = r["steps"].get(s)
            if not w:
                continue
            head = (f"| {lab} | {c['docs']:,} | {c['text_bytes'] / gb:.2f} (input Parquet {r['input_bytes'] / gb:.2f}) "
                    f"| {r['tokens'] / 1e6:.0f}M |" if r.get("tokens") else
                    f"| {lab} | {c['docs']:,} | {c['text_bytes'] / gb:.2f} (input Parquet {r['input_bytes'] / gb:.2f}) | - |") \
                if i == 0 else "| | | | |"
            peak = " / ".join(str(v) for v in w["peak_rss_mib_per_worker"].values())
            cpu = f"{w['cpu_seconds'] / 60:.1f}" if w.get("cpu_seconds") else "-"
            done = "" if w.get("complete", True) else " (stopped)"
            rows.append(f"{head} {s}{done} | {w['seconds'] / 60:.1f} | {cpu} | {w['docs_per_s'] or '-'} | {peak} "
                        f"| {w['peak_rss_mib_driver']} | {(w['disk']['output_bytes'] + w['disk']['dropped_bytes']) / gb:.2f} "
                        f"| {w['disk']['state_bytes'] / gb:.2f} |")
    rows += ["", "| corpus | planted duplicates to remove | removed | planted removed (recall) | real duplicates "
             "outside the plant | below 0.8 to the kept copy | precision (pair with the kept copy >= 0.8) |",
             "|---|---|---|---|---|---|---|"]
    for lab, r in res.items():
        q = r.get("dedupe")
        if q and "recall_of_planted" in q:
            rows.append(f"| {lab} | {q['should_remove']:,} | {q['removed']:,} | {q['removed_planted']:,} "
                        f"({q['recall_of_planted']:.5f}) | {q['removed_real_duplicates_outside_plant']:,} "
                        f"| {q['removed_false_positives']:,} | {q['precision']:.4f} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus")
    ap.add_argument("--workdir")
    ap.add_argument("--label")
    ap.add_argument("--workers", type=int)
    ap.add_argument("--stop-after", type=float, help="seconds: stop the run then and report the steps it finished")
    ap.add_argument("--results", default=os.path.join(HERE, "results", "scale.json"))
    ap.add_argument("--plot", action="store_true", help="only (re)draw the PNG from --results")
    ap.add_argument("--table", action="store_true", help="only print the README's table from --results")
    a = ap.parse_args(argv)
    png = os.path.splitext(a.results)[0] + ".png"
    if a.table:
        print(table(a.results))
        return 0
    if not a.plot:
        out = run(a)
        res = json.load(open(a.results)) if os.path.exists(a.results) else {}
        res[a.label] = out
        os.makedirs(os.path.dirname(a.results), exist_ok=True)
        with open(a.results, "w") as f:
            json.dump(res, f, indent=1)
        brief = {k: v for k, v in out.items() if k not in ("memory_timeline", "disk_timeline")}
        print(json.dumps(brief, indent=1))
        print("load average after:", os.getloadavg())
        if out["rc"] not in (0, "stopped"):
            return out["rc"]
    plot(a.results, png)
    print("plot:", png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
