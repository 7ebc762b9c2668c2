"""A Dask scheduler and two workers on separate namespaced hosts, a workflow run on them from
a fourth host, and the comparison of its outputs with a LocalCluster run's.

Used by tests/cluster/test_netns_cluster.py and benchmarks/netns_cluster.py. The hosts come
from tests/support/netns.py (`sched`, `w1`, `w2`, `client`, each with its own address on a
bridge inside the namespaces); the shard store is one folder every host sees (the
filesystem is not namespaced), the same absolute paths for every host, so document ids
(hashed from origin paths) are the same as a LocalCluster run's.

The workflow is corpus-wide dedupe (exact, then MinHash) and a trained tokenizer, its token
shards packed by a sink: every kind of distributed work the runner does (per-shard tasks,
`ctx.map` fan-outs, Dask DataFrame shuffles) crosses the hosts.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time

import yaml

from tests.support.netns import Hosts
from tests.support.paths import REPO, SAMPLE

SCHEDULER_PORT = 8786
HOSTS = ["sched", "w1", "w2", "client"]
WORKFLOW_NAME = "cluster"
# what bookkeeping JSON may differ between two equal runs: how long, on which worker, and how
# many temp files a killed worker's cut-off writes left for the runner to remove
VOLATILE_KEYS = {"seconds", "wall_seconds", "worker", "workers", "phases", "phase_seconds", "phase_worker_mib",
                 "temp_files_removed"}


def sample_inputs(dst: str, docs_per_file: int = 40) -> str:
    """The first `docs_per_file` documents of every bundled sample file (14 files, 484
    documents at 40: exact and near duplicates included), one shard each."""
    os.makedirs(dst, exist_ok=True)
    for name in sorted(f for f in os.listdir(SAMPLE) if f.endswith(".jsonl.gz")):
        with gzip.open(os.path.join(SAMPLE, name), "rt") as f:
            lines = [line for _, line in zip(range(docs_per_file), f)]
        with gzip.open(os.path.join(dst, name), "wt") as out:
            out.writelines(lines)
    return dst


def write_workflow(path: str, inputs: str) -> str:
    spec = {"name": WORKFLOW_NAME, "inputs": [os.path.abspath(inputs)], "steps": [
        {"name": "read", "stage": "read_documents@1"},
        {"name": "dedupe_exact", "stage": "dedupe_exact@1"},
        {"name": "dedupe_fuzzy", "stage": "dedupe_fuzzy@1", "params": {"threshold": 0.8}},
        {"name": "tokenize", "stage": "tokenize@1", "params": {"vocab_size": 1024}},
        # small shards, so the packer's gather tasks spread over both workers
        {"name": "shards", "stage": "token_shards@1", "params": {"val_fraction": 0.05, "seed": 0,
                                                                 "shard_tokens": 100_000}}]}
    with open(path, "w") as f:
        yaml.safe_dump(spec, f, sort_keys=False)
    return path


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))


def _gristmill(workflow: str, workdir: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "gristmill.pipeline.cli", "run", workflow, "--workdir", workdir, "--quiet", *extra]


def run_local(workflow: str, workdir: str, workers: int = 2, timeout: float = 300) -> float:
    """The reference: the same workflow on a LocalCluster (loopback) of `workers` processes."""
    t0 = time.perf_counter()
    r = subprocess.run(_gristmill(workflow, workdir, "--workers", str(workers)), capture_output=True, text=True,
                       timeout=timeout, env=_env())
    if r.returncode != 0:
        raise RuntimeError(f"LocalCluster run failed:\n{r.stdout}\n{r.stderr}")
    return time.perf_counter() - t0


class NetnsCluster:
    """`dask scheduler` on host sched, `dask worker` (no nanny: a killed worker stays dead) on
    w1 and w2; `run()` runs gristmill on host client against the scheduler's address."""

    def __init__(self, scratch: str):
        self.scratch = scratch
        self.logs = os.path.join(scratch, "logs")
        os.makedirs(self.logs, exist_ok=True)
        t0 = time.perf_counter()
        self.hosts = Hosts(HOSTS)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        self.start_seconds = time.perf_counter() - t0

    @property
    def address(self) -> str:
        return f"tcp://{self.hosts.addr['sched']}:{SCHEDULER_PORT}"

    def log(self, name: str) -> str:
        return os.path.join(self.logs, f"{name}.log")

    def _start(self) -> None:
        env = _env()
        self.hosts.popen("sched", [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                                   self.hosts.addr["sched"], "--port", str(SCHEDULER_PORT), "--no-dashboard"],
                         log=self.log("sched"), env=env)
        self.worker_procs = {}
        for name in ("w1", "w2"):
            self.worker_procs[name] = self.hosts.popen(
                name, [sys.executable, "-m", "distributed.cli.dask_worker", self.address, "--name", name,
                       "--host", self.hosts.addr[name], "--nthreads", "1", "--no-nanny", "--no-dashboard",
                       "--death-timeout", "120", "--local-directory", os.path.join(self.scratch, f"dask-{name}")],
                log=self.log(name), env=env)
        r = self.hosts.run("client", [sys.executable, "-m", "tests.support.cluster_probe", "wait", self.address, "2"],
                           timeout=180, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"cluster did not come up: {r.stderr[-2000:]}\n" + self._tail_logs())
        self.workers = json.loads(r.stdout.strip().splitlines()[-1])  # name -> address, pid

    def _tail_logs(self) -> str:
        out = []
        for name in ("sched", "w1", "w2"):
            if os.path.exists(self.log(name)):
                out.append(f"--- {name}\n" + open(self.log(name), errors="replace").read()[-1500:])
        return "\n".join(out)

    def run(self, workflow: str, workdir: str, kill: tuple[str, str] | None = None, timeout: float = 300) -> dict:
        """Run `workflow` from host client. `kill=(worker, step)`: SIGKILL that worker's process
        while it is executing a shard task of that step (cluster_probe stop-mid-step finds the
        moment); `kill=(worker, "fn:NAME")`: while it runs a fit-phase task of function NAME
        (`fn:sign_shard`: fuzzy dedupe's signing, `fn:_gather_job`: token packing)."""
        env = _env()
        t0 = time.perf_counter()
        runner = self.hosts.popen("client", _gristmill(workflow, workdir, "--scheduler", self.address),
                                  log=self.log("runner"), env=env)
        report: dict = {"killed": None}
        if kill is not None:
            worker, step = kill
            probe_log = self.log("probe")
            if step.startswith("fn:"):
                prefix, markers = f"{step[3:]}-", "-"
            else:
                prefix, markers = f"{WORKFLOW_NAME}-{step}-", os.path.join(workdir, step, "_done")
            probe = self.hosts.popen("client", [sys.executable, "-m", "tests.support.cluster_probe", "stop-mid-step",
                                                self.address, worker, prefix, markers], log=probe_log, env=env)
            while probe.poll() is None and runner.poll() is None:
                time.sleep(0.01)
            if probe.wait(timeout=60) != 0:
                raise RuntimeError(f"no mid-step kill: {open(probe_log).read()[-2000:]}")
            caught = json.loads(open(probe_log).read().strip().splitlines()[-1])
            proc = self.worker_procs[worker]
            if caught["pid"] != proc.pid:
                raise RuntimeError(f"worker {worker} reports pid {caught['pid']}, its process is {proc.pid}")
            proc.send_signal(signal.SIGKILL)  # it was frozen mid-task by the probe; now it is gone
            proc.wait(timeout=30)
            report["killed"] = {**caught, "step": step, "at_seconds": round(time.perf_counter() - t0, 2),
                                "returncode": proc.returncode}
        try:
            rc = runner.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"the run did not finish in {timeout}s\n" + open(self.log("runner")).read()[-3000:])
        report.update(returncode=rc, seconds=round(time.perf_counter() - t0, 2),
                      output=open(self.log("runner"), errors="replace").read()[-3000:])
        return report

    def close(self) -> None:
        self.hosts.close()

    def __enter__(self) -> "NetnsCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def shards_by_worker(workdir: str) -> dict[str, dict[str, int]]:
    """Step -> worker address -> shards that worker wrote (from the shard markers)."""
    out: dict[str, dict[str, int]] = {}
    for step in sorted(os.listdir(workdir)):
        done = os.path.join(workdir, step, "_done")
        if not os.path.isdir(done):
            continue
        for name in sorted(os.listdir(done)):
            if name.endswith(".json"):
                w = json.load(open(os.path.join(done, name)))["worker"]
                out.setdefault(step, {})[w] = out.setdefault(step, {}).get(w, 0) + 1
    return out


def marker(workdir: str, step: str, shard: int) -> dict:
    return json.load(open(os.path.join(workdir, step, "_done", f"part-{shard:05d}.json")))


def _normalised(obj, workdir: str):
    if isinstance(obj, dict):
        return {k: _normalised(v, workdir) for k, v in obj.items() if k not in VOLATILE_KEYS}
    if isinstance(obj, list):
        return [_normalised(v, workdir) for v in obj]
    if isinstance(obj, str):
        return obj.replace(workdir, "<WORKDIR>")
    return obj


def _files(root: str) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs}


def compare_trees(reference: str, other: str) -> dict:
    """Every file of two workdirs: the same set of names; Parquet parts, drop logs, decision and
    signature files, token .bin/.index and the tokenizer byte for byte; the bookkeeping JSON
    (markers, stats, fits, manifest) equal once timings, worker names and the workdir's own
    path are taken out. Returns counts and the differences (empty lists: identical)."""
    a, b = _files(reference), _files(other)
    out = {"files": len(a), "only_in_reference": sorted(a - b), "only_in_other": sorted(b - a),
           "bytes_identical": 0, "json_equal": 0, "differ": [], "by_kind": {}}
    for rel in sorted(a & b):
        pa_, pb = os.path.join(reference, rel), os.path.join(other, rel)
        raw_a, raw_b = open(pa_, "rb").read(), open(pb, "rb").read()
        kind = _kind(rel)
        if raw_a == raw_b:
            same, how = True, "bytes_identical"
        elif kind == "json":
            same = _normalised(json.loads(raw_a), reference) == _normalised(json.loads(raw_b), other)
            how = "json_equal"
        else:
            same, how = False, ""
        if same:
            out[how] += 1
            out["by_kind"][kind] = out["by_kind"].get(kind, 0) + 1
        else:
            out["differ"].append(rel)
    return out


def _kind(rel: str) -> str:
    name = os.path.basename(rel)
    if name.endswith(".json") or name == "_fitted":
        return "json"
    if name.endswith(".index.arrow"):
        return "token_index"
    if name.endswith(".bin"):
        return "token_bin"
    if name.endswith(".parquet"):
        return "drop_log" if "/dropped/" in f"/{rel}" else ("part" if "/" not in rel.split("/", 1)[-1] else "state")
    return name.rsplit(".", 1)[-1]


def identical(cmp: dict) -> bool:
    return not (cmp["only_in_reference"] or cmp["only_in_other"] or cmp["differ"])
