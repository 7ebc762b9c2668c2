"""The Dask runner: the only module that talks to Dask.

Every (step, shard) pair is one task. Map steps are chained shard by shard (shard i of
step k depends only on shard i of step k-1), so a shard flows through the whole workflow
without waiting for the slowest shard of each step. Later steps get higher priority, so
shards finish depth-first and a killed run leaves whole finished shards behind.
"""

from __future__ import annotations

import json
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from gristmill.pipeline.progress import Progress, print_summary
from gristmill.pipeline.shard_task import ShardJob, format_error, read_marker, run_shard
from gristmill.pipeline.shards import expand_inputs, list_parts, write_json_atomic
from gristmill.pipeline.stage import Stage
from gristmill.pipeline.workflow import Step, Workflow, WorkflowError

log = logging.getLogger("gristmill")

SOURCE_SUFFIXES = None  # a source stage decides what it can read
PARQUET = (".parquet",)


class RunFailed(RuntimeError):
    pass


@dataclass
class StepResult:
    name: str
    stage: str
    out_dir: str
    stats: dict = field(default_factory=dict)


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None):
    """A client on `scheduler` (tcp://host:port), or on a fresh LocalCluster sized to this
    machine: one single-threaded worker process per core (stages are CPU-bound Python)."""
    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _resources_for(client, stage: Stage) -> dict | None:
    """The stage's resources if some worker offers them; None means: any worker (CPU fallback)."""
    if not stage.resources:
        return None
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    for w in workers.values():
        have = w.get("resources", {}) or {}
        if all(have.get(k, 0) >= v for k, v in stage.resources.items()):
            return dict(stage.resources)
    log.warning("no worker offers %s for %s; running it on CPU workers", stage.resources, stage.versioned_name)
    return None


def plan_inputs(wf: Workflow) -> list[str]:
    first = wf.steps[0].stage
    if not wf.inputs:
        raise WorkflowError("workflow has no inputs")
    files = expand_inputs(wf.inputs, suffixes=SOURCE_SUFFIXES if first.kind == "source" else PARQUET)
    if not files:
        raise WorkflowError(f"no input files found in {wf.inputs}")
    return files


def run(wf: Workflow, workdir: str | None = None, out_dirs: dict[str, str] | None = None,
        scheduler: str | None = None, workers: int | None = None, quiet: bool = False,
        client=None) -> list[StepResult]:
    """Run `wf`. Each step writes to `out_dirs[step]` or `workdir/<step>/`.

    Finished shards (those with a marker) are skipped, so re-running resumes. Returns the
    per-step stats; raises RunFailed (after writing what finished) if any shard failed.
    """
    out_dirs = dict(out_dirs or {})
    for step in wf.steps:
        if step.name not in out_dirs:
            if workdir is None:
                raise ValueError(f"no output folder for step {step.name}")
            out_dirs[step.name] = os.path.join(workdir, step.name)
    inputs = plan_inputs(wf)
    scheduler = scheduler or wf.scheduler
    t0 = time.time()
    if client is not None:
        failures, results = _run_on(client, wf, inputs, out_dirs, quiet)
    else:
        with dask_client(scheduler, workers or wf.workers) as c:
            failures, results = _run_on(c, wf, inputs, out_dirs, quiet)
    wall = time.time() - t0
    if workdir is not None:
        write_json_atomic({"workflow": wf.name, "wall_seconds": round(wall, 2),
                           "order": [r.name for r in results], "steps": {r.name: r.stats for r in results}},
                          os.path.join(workdir, "run_summary.json"))
    if not quiet:
        print_summary(wf.name, results, wall, failures)
    if failures:
        raise RunFailed(f"{len(failures)} shard(s) failed; first: {failures[0]}. "
                        "Finished shards are kept: fix the cause and re-run to resume.")
    return results


class FitContext:
    """What a corpus-wide stage's `fit()` gets: its inputs, a folder for its state, and
    the cluster, through `map` (one task per item) or `client` (e.g. Dask DataFrame
    shuffles; a DataFrame computed while this client is current runs on the cluster)."""

    def __init__(self, client, inputs: list[str], state_dir: str, workers: int):
        self.client = client
        self.inputs = inputs
        self.state_dir = state_dir
        self.workers = workers

    def map(self, fn, items, **kwargs) -> list:
        futures = self.client.map(fn, list(items), pure=False, **kwargs)
        return self.client.gather(futures)


def _run_on(client, wf: Workflow, inputs: list[str], out_dirs: dict[str, str], quiet: bool):
    from distributed import as_completed

    futures: dict = {}
    failures: list[str] = []
    n = len(inputs)
    progress = Progress([s.name for s in wf.steps], n, enabled=not quiet)

    def drain():
        for fut in as_completed(list(futures)):
            step_name = futures.pop(fut)
            try:
                progress.update(step_name, fut.result())
            except Exception as e:  # noqa: BLE001 - reported per shard, the rest go on
                failures.append(f"{step_name}: {format_error(e)}")
                progress.fail(step_name)

    upstream: list = [None] * n
    for depth, step in enumerate(wf.steps):
        out_dir = out_dirs[step.name]
        os.makedirs(out_dir, exist_ok=True)
        resources = _resources_for(client, step.stage)
        prev_dir = out_dirs[wf.steps[depth - 1].name] if depth else None
        srcs = [inputs[i] if depth == 0 else os.path.join(prev_dir, f"part-{i:05d}.parquet") for i in range(n)]
        if step.stage.kind == "corpus":
            drain()  # a corpus-wide step needs every upstream shard
            if failures:
                break
            _fit(client, step, srcs, out_dir)
            upstream = [None] * n
        current: list = [None] * n
        for i in range(n):
            done = read_marker(out_dir, i)
            if done is not None:  # resume: finished shards are not even submitted
                progress.update(step.name, done, skipped=True)
                continue
            job = ShardJob(step=step.name, out_dir=out_dir, index=i, input_path=srcs[i])
            deps = [upstream[i]] if upstream[i] is not None else []
            fut = client.submit(run_shard, step.stage, job, *deps,
                                key=f"{wf.name}-{step.name}-{i:05d}-{os.urandom(3).hex()}",
                                priority=depth, resources=resources, pure=False, retries=1)
            futures[fut] = step.name
            current[i] = fut
        upstream = current
    drain()
    progress.close()
    results = [StepResult(s.name, s.stage.versioned_name, out_dirs[s.name],
                          collect_stats(out_dirs[s.name], s, n)) for s in wf.steps]
    for r in results:
        write_json_atomic(r.stats, os.path.join(r.out_dir, "stats.json"))
    return failures, results


def _fit(client, step: Step, srcs: list[str], out_dir: str) -> None:
    """Run a corpus stage's fit once; its `_state/_fitted` marker makes a re-run skip it."""
    state_dir = os.path.join(out_dir, "_state")
    step.stage.state_dir = state_dir
    done_marker = os.path.join(state_dir, "_fitted")
    if os.path.exists(done_marker):
        return
    os.makedirs(state_dir, exist_ok=True)
    workers = len(client.scheduler_info(n_workers=-1).get("workers", {})) or 1
    t0 = time.time()
    info = step.stage.fit(FitContext(client, srcs, state_dir, workers)) or {}
    write_json_atomic({"seconds": round(time.time() - t0, 3), **info}, done_marker)


def collect_stats(out_dir: str, step: Step, n_shards: int) -> dict:
    """Sum the shard markers of one step into its stats.json content."""
    totals = {"stage": step.stage.versioned_name, "params": step.stage.params, "shards": n_shards,
              "shards_done": 0, "docs_in": 0, "docs_out": 0, "docs_dropped": 0,
              "dropped_by_reason": {}, "counters": {}, "seconds": 0.0, "workers": {}}
    for i in range(n_shards):
        m = read_marker(out_dir, i)
        if m is None:
            continue
        totals["shards_done"] += 1
        for k in ("docs_in", "docs_out", "docs_dropped"):
            totals[k] += m[k]
        for k, v in m["dropped_by_reason"].items():
            totals["dropped_by_reason"][k] = totals["dropped_by_reason"].get(k, 0) + v
        for k, v in m["counters"].items():
            totals["counters"][k] = totals["counters"].get(k, 0) + v
        totals["seconds"] += m["seconds"]
        totals["workers"][m["worker"]] = totals["workers"].get(m["worker"], 0) + 1
    totals["seconds"] = round(totals["seconds"], 3)
    fitted = os.path.join(out_dir, "_state", "_fitted")
    if step.stage.kind == "corpus" and os.path.exists(fitted):  # what the corpus-wide fit did and took
        with open(fitted) as f:
            totals["fit"] = json.load(f)
    totals["complete"] = totals["shards_done"] == n_shards
    totals["balanced"] = totals["docs_in"] == totals["docs_out"] + totals["docs_dropped"]
    totals["parts"] = len(list_parts(out_dir))
    return totals
