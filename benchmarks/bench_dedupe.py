"""Fuzzy dedupe side by side: datatrove's four MinHash stages vs gristmill's dedupe_fuzzy,
same documents, same shingle/band/row settings, one process (datatrove) vs one Dask worker
(gristmill), in one run; prints time, docs/s, precision/recall/F1 on the labelled
near-duplicate benchmark (dedupe_data.py) and the speed ratio. Then, with --scale, gristmill
alone on synthetic corpora of the given sizes: time and peak memory per worker.

    python benchmarks/bench_dedupe.py --pairs 1000 --bands 20 --rows 5
    python benchmarks/bench_dedupe.py --skip-compare --scale 100000,1000000 --workers 2
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dedupe_data  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "shared", "data")


def labelled_docs(args):
    cache = os.path.join(args.workdir, f"labelled-{args.pairs}-{args.seed}.pkl")
    if os.path.exists(cache):
        return pickle.load(open(cache, "rb"))
    built = dedupe_data.build(args.data, args.pairs, seed=args.seed)
    os.makedirs(args.workdir, exist_ok=True)
    pickle.dump(built, open(cache, "wb"))
    return built


def write_inputs(docs, folder, shards=4):
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.join(folder, "parquet"))
    os.makedirs(os.path.join(folder, "jsonl"))
    with open(os.path.join(folder, "jsonl", "docs.jsonl"), "w") as f:
        for d in docs:
            f.write(json.dumps({"id": d["id"], "text": d["text"]}) + "\n")
    step = -(-len(docs) // shards)
    for i in range(shards):
        part = docs[i * step:(i + 1) * step]
        pq.write_table(pa.table({"id": [d["id"] for d in part], "text": [d["text"] for d in part]}),
                       os.path.join(folder, "parquet", f"part-{i:05d}.parquet"))


def run_datatrove(folder, args) -> tuple[float, dict]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    out = os.path.join(folder, "datatrove")
    shutil.rmtree(out, ignore_errors=True)
    cfg = MinhashConfig(n_grams=args.shingle_size, num_buckets=args.bands, hashes_per_bucket=args.rows, seed=1)
    src = os.path.join(folder, "jsonl")
    stages = [
        ([JsonlReader(src), MinhashDedupSignature(output_folder=f"{out}/sigs", config=cfg)], 1),
        ([MinhashDedupBuckets(input_folder=f"{out}/sigs", output_folder=f"{out}/buckets", config=cfg)], args.bands),
        ([MinhashDedupCluster(input_folder=f"{out}/buckets", output_folder=f"{out}/remove", config=cfg,
                              save_cluster_id=True)], 1),
        ([JsonlReader(src), MinhashDedupFilter(input_folder=f"{out}/remove", load_cluster_ids=True,
                                               exclusion_writer=JsonlWriter(f"{out}/removed")),
          JsonlWriter(f"{out}/kept")], 1),
    ]
    t0 = time.perf_counter()
    for i, (pipeline, tasks) in enumerate(stages):
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1,
                              logging_dir=f"{out}/logs{i}").run()
    seconds = time.perf_counter() - t0
    clusters = {}
    for f in glob.glob(f"{out}/kept/*.jsonl.gz") + glob.glob(f"{out}/removed/*.jsonl.gz"):
        for line in gzip.open(f, "rt"):
            d = json.loads(line)
            c = d.get("metadata", {}).get("minhash_cluster_id", -1)
            clusters[d["id"]] = None if c == -1 else c
    return seconds, clusters


def gristmill_stage(args):
    from gristmill.pipeline import registry

    return registry.resolve("dedupe_fuzzy@1")(threshold=args.threshold, shingle_size=args.shingle_size,
                                              bands=args.bands, rows=args.rows, verify=args.verify)


def run_gristmill(inputs, out, args, client) -> tuple[float, dict]:
    from gristmill.pipeline import runner
    from gristmill.pipeline.workflow import Step, Workflow

    shutil.rmtree(out, ignore_errors=True)
    wf = Workflow(name="bench", inputs=[inputs], steps=[Step("dedupe", gristmill_stage(args))])
    t0 = time.perf_counter()
    runner.run(wf, out_dirs={"dedupe": out}, client=client, quiet=True)
    seconds = time.perf_counter() - t0
    clusters = {}
    for f in glob.glob(f"{out}/part-*.parquet") + glob.glob(f"{out}/dropped/part-*.parquet"):
        t = pq.read_table(f, columns=["id", "dup_cluster"]).to_pydict()
        clusters.update(zip(t["id"], t["dup_cluster"]))
    return seconds, clusters


def compare(args, client):
    docs, pairs, _ = labelled_docs(args)
    folder = os.path.join(args.workdir, "compare")
    write_inputs(docs, folder)
    texts = {d["id"]: d["text"] for d in docs}
    mb = sum(len(d["text"].encode()) for d in docs) / 1e6
    n_pos = sum(1 for p in pairs if p[2] >= args.threshold)
    print(f"labelled benchmark: {len(docs)} documents ({mb:.1f} MB), {len(pairs)} labelled pairs, "
          f"{n_pos} with Jaccard >= {args.threshold}; shingles={args.shingle_size} words, "
          f"bands={args.bands} x rows={args.rows} = {args.bands * args.rows} hashes, threshold={args.threshold}")
    rows = []
    g_sec, g_cl = run_gristmill(os.path.join(folder, "parquet"), os.path.join(folder, "gristmill"), args, client)
    rows.append(("gristmill dedupe_fuzzy@1", g_sec, dedupe_data.score(g_cl, pairs, texts, args.threshold)))
    if not args.skip_datatrove:
        d_sec, d_cl = run_datatrove(folder, args)
        rows.append(("datatrove MinHash 4 stages", d_sec, dedupe_data.score(d_cl, pairs, texts, args.threshold)))
    print(f"\n{'tool':28s} {'seconds':>8s} {'docs/s':>8s} {'P':>7s} {'R':>7s} {'F1':>7s}")
    for name, sec, sc in rows:
        print(f"{name:28s} {sec:8.1f} {len(docs) / sec:8.0f} {sc['precision']:7.3f} {sc['recall']:7.3f} "
              f"{sc['f1']:7.3f}   (tp={sc['tp']} fp={sc['fp']} fn={sc['fn']})")
    if len(rows) == 2:
        print(f"\nspeed ratio gristmill/datatrove, one worker each: {rows[1][1] / rows[0][1]:.1f}x")
    by_kind = {}
    for a, b, j, kind in pairs:
        hit = g_cl.get(a) is not None and g_cl.get(a) == g_cl.get(b)
        s = by_kind.setdefault(kind, [0, 0, 0, 0])
        s[(j >= args.threshold) * 2 + hit] += 1
    print("\ngristmill per kind (pairs: true-neg kept apart, false-pos, false-neg, true-pos):")
    for kind, (tn, fp, fn, tp) in sorted(by_kind.items()):
        print(f"  {kind:12s} tn={tn:4d} fp={fp:4d} fn={fn:4d} tp={tp:4d}")


def synthetic_corpus(folder, n_docs, docs_per_shard, seed=0):
    """Word-salad documents with real vocabulary and frequencies (real passages' words), ~300
    words each, plus 10% near-duplicate copies (edits + truncation) so clustering has work."""
    if os.path.exists(os.path.join(folder, "_complete")):
        return
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    rng = np.random.default_rng(seed)
    text = open(os.path.join(DATA, "text", "gutenberg", "pg1342_pride_and_prejudice.txt")).read().split()
    vocab, counts = np.unique(np.array(text), return_counts=True)
    prob = counts / counts.sum()
    vocab_arr = pa.array(vocab.tolist())
    for shard, lo in enumerate(range(0, n_docs, docs_per_shard)):
        n = min(docs_per_shard, n_docs - lo)
        lens = np.clip(rng.lognormal(5.6, 0.5, n).astype(int), 20, 3000)
        idx = rng.choice(len(vocab), size=int(lens.sum()), p=prob)
        offsets = pa.array(np.r_[0, np.cumsum(lens)].astype(np.int32))
        docs = pa.compute.binary_join(pa.ListArray.from_arrays(offsets, vocab_arr.take(idx)), " ").to_pylist()
        for i in rng.choice(np.arange(1, n), size=n // 10, replace=False):  # near-duplicate of the previous doc
            src = docs[i - 1].split(" ")
            cut = src[: max(5, int(len(src) * rng.uniform(0.85, 1.0)))]
            for j in rng.choice(len(cut), size=max(1, len(cut) // 50)):
                cut[j] = vocab[rng.integers(len(vocab))]
            docs[i] = " ".join(cut)
        ids = [f"s{lo + i:08d}" for i in range(n)]
        pq.write_table(pa.table({"id": ids, "text": docs}), os.path.join(folder, f"part-{shard:05d}.parquet"))
    open(os.path.join(folder, "_complete"), "w").close()


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from
    the parent process across fork/exec)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scale_one(args):
    """One scale run (in its own process, the corpus made in another, so peak-memory numbers
    are this run's)."""
    from gristmill.pipeline.layout import StepLayout
    from gristmill.pipeline.runner import dask_client

    n = args.scale_one
    folder = os.path.join(args.workdir, f"scale-{n}")
    if args.generate_only:
        return synthetic_corpus(os.path.join(folder, "in"), n, args.docs_per_shard)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--scale-one", str(n), "--generate-only", "--workdir", args.workdir,
                    "--docs-per-shard", str(args.docs_per_shard)], check=True)
    gen = time.perf_counter() - t0
    with dask_client(workers=args.workers) as client:
        sec, clusters = run_gristmill(os.path.join(folder, "in"), os.path.join(folder, "out"), args, client)
        peaks = client.run(peak_rss_mib)
    fit = StepLayout(os.path.join(folder, "out")).read_fit()
    stats = json.load(open(os.path.join(folder, "out", "stats.json")))
    driver = peak_rss_mib()
    # the fit resets each worker's high-water mark per phase (and records each phase's): the
    # worker's peak over the whole run is the largest of those and of the peak since the fit
    phase_mib = fit.get("phase_worker_mib", {})
    worker_peaks = []
    for addr, after_fit in peaks.items():
        port = addr.rsplit(":", 1)[-1]
        during = [m[port]["hwm"] for m in phase_mib.values() if port in m and "hwm" in m[port]]
        worker_peaks.append(round(max([after_fit, *during])))
    print(json.dumps({"docs": n, "workers": args.workers, "seconds": round(sec, 1), "fit_seconds": fit["seconds"],
                      "docs_per_s": round(n / sec), "dropped": stats["docs_dropped"],
                      "peak_rss_mib_per_worker": sorted(worker_peaks),
                      "apply_peak_rss_mib_per_worker": sorted(round(v) for v in peaks.values()),
                      "driver_peak_rss_mib": round(driver), "generate_seconds": round(gen, 1),
                      "fit": fit}))
    shutil.rmtree(os.path.join(folder, "out"), ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DATA)
    p.add_argument("--workdir", default="/tmp/bench_dedupe")
    p.add_argument("--pairs", type=int, default=1000, help="generated (passage, variant) pairs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shingle-size", type=int, default=5)
    p.add_argument("--bands", type=int, default=20)
    p.add_argument("--rows", type=int, default=5)
    p.add_argument("--threshold", type=float, default=0.8)
    p.add_argument("--verify", default="jaccard", choices=["jaccard", "minhash"])
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--skip-datatrove", action="store_true")
    p.add_argument("--skip-compare", action="store_true")
    p.add_argument("--scale", default="", help="comma-separated corpus sizes, e.g. 100000,1000000")
    p.add_argument("--docs-per-shard", type=int, default=10_000)
    p.add_argument("--scale-one", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    if args.scale_one:
        return scale_one(args)
    if not args.skip_compare:
        from gristmill.pipeline.runner import dask_client

        with dask_client(workers=1) as client:  # started before timing: cluster start-up is not dedupe
            compare(args, client)
    for n in filter(None, args.scale.split(",")):
        cmd = [sys.executable, __file__, "--scale-one", n, "--workdir", args.workdir, "--workers", str(args.workers),
               "--bands", str(args.bands), "--rows", str(args.rows), "--shingle-size", str(args.shingle_size),
               "--threshold", str(args.threshold), "--verify", args.verify,
               "--docs-per-shard", str(args.docs_per_shard)]
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
