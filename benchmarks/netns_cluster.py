"""gristmill on a real multi-host Dask cluster, here: a scheduler and two workers on their own
network-namespace hosts (tests/support/netns.py), the runner on a fourth, a shared folder as
the shard store. Runs a dedupe + tokenize workflow on a LocalCluster (the reference), then on
the cluster undisturbed, then on the cluster with worker w2 SIGKILLed while it runs a task of
`--kill-step`; compares every output file of each cluster run with the reference and prints
timings, shards per worker and the comparison. Needs root (ip netns); exits 1 on a difference.

    sudo .venv/bin/python benchmarks/netns_cluster.py [--docs-per-file 40] [--kill-step tokenize]
        [--skip-clean-run] [--keep] [--scratch DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.support import netns, netns_cluster as nc  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs-per-file", type=int, default=40, help="documents taken from each of the 14 sample files")
    ap.add_argument("--kill-step", default="tokenize",
                    help="step during one of whose shard tasks worker w2 is SIGKILLed, or fn:NAME for a "
                         "fit-phase task (fn:sign_shard, fn:hash_shard, fn:sample_texts, fn:_gather_job)")
    ap.add_argument("--skip-clean-run", action="store_true", help="only the run with the killed worker")
    ap.add_argument("--scratch", default=None, help="working folder (default: a temp folder, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = ap.parse_args()
    why = netns.unavailable()
    if why:
        print(f"cannot make namespaced hosts here: {why}")
        return 2
    scratch = args.scratch or tempfile.mkdtemp(prefix="gm-netns-")
    os.makedirs(scratch, exist_ok=True)
    ok = True
    try:
        inputs = nc.sample_inputs(os.path.join(scratch, "in"), args.docs_per_file)
        wf = nc.write_workflow(os.path.join(scratch, "wf.yaml"), inputs)
        ref = os.path.join(scratch, "local")
        local_s = nc.run_local(wf, ref)
        print(f"LocalCluster (2 workers, loopback): {local_s:.1f}s")
        with nc.NetnsCluster(scratch) as cluster:
            print(f"cluster up in {cluster.start_seconds:.1f}s: scheduler {cluster.address}, workers "
                  + ", ".join(f"{n}={w['address']}" for n, w in sorted(cluster.workers.items())))
            runs = [] if args.skip_clean_run else [("clean", None)]
            runs.append(("killed", ("w2", args.kill_step)))
            for label, kill in runs:
                workdir = os.path.join(scratch, label)
                r = cluster.run(wf, workdir, kill=kill)
                cmp = nc.compare_trees(ref, workdir)
                same = r["returncode"] == 0 and nc.identical(cmp)
                ok &= same
                print(f"\n{label}: rc={r['returncode']} {r['seconds']:.1f}s wall "
                      f"(ratio to LocalCluster {r['seconds'] / local_s:.2f})")
                if r["killed"]:
                    k = r["killed"]
                    redo = (f"; shard {k['shard']} redone by {nc.marker(workdir, k['step'], k['shard'])['worker']}"
                            if k["shard"] is not None else "")
                    print(f"  SIGKILL of {k['worker']} (pid {k['pid']}) at {k['at_seconds']}s while it ran {k['key']} "
                          f"({k['tries']} tries){redo}")
                for step, by in nc.shards_by_worker(workdir).items():
                    print(f"  {step:13s} shards per worker: {json.dumps(by)}")
                print(f"  compared {cmp['files']} files: {cmp['bytes_identical']} byte-identical, "
                      f"{cmp['json_equal']} JSON equal but for timings/worker names; by kind {json.dumps(cmp['by_kind'])}")
                print(f"  -> {'IDENTICAL' if same else 'DIFFERENT'} to the LocalCluster run"
                      + ("" if same else f": {json.dumps({k: cmp[k] for k in ('only_in_reference', 'only_in_other', 'differ')})}"
                                         f"\n{r['output']}"))
    finally:
        if not args.keep and not args.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
              f"on {os.cpu_count()} cores")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
