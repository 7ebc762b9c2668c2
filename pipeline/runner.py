"""The Dask runner: it starts or joins the cluster, and it alone submits work to it.

Every (step, shard) pair is one task. Map steps are chained shard by shard (shard i of
step k depends only on shard i of step k-1), so a shard flows through the whole workflow
without waiting for the slowest shard of each step. Later steps get higher priority, so
shards finish depth-first and a killed run leaves whole finished shards behind.

Corpus-wide phases (a corpus stage's `fit`, a sink's `write`) reach the cluster only
through the FitContext built here (`ctx.map`, `ctx.compute`, `ctx.client`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from gristmill.pipeline import timing
from gristmill.pipeline.context import FitContext, ShardContext, StepContext
from gristmill.pipeline.inline import InlineClient, without_pandas_probe, worker_environ
from gristmill.pipeline.layout import RUN_SUMMARY, StepLayout, list_parts
from gristmill.pipeline.progress import Progress, print_summary
from gristmill.pipeline.shard_task import format_error, run_scoped_stages, run_shard
from gristmill.pipeline.shards import expand_inputs, remove_temp_files, write_json_atomic
from gristmill.pipeline.stage import Stage
from gristmill.pipeline.workflow import Step, Workflow, WorkflowError

log = logging.getLogger("gristmill")

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
    n = workers or default_workers()
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    timing.mark("cluster_up", workers=n)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
        timing.mark("cluster_down")


def default_workers() -> int:
    """One worker per usable core (Dask's count honours cgroup and affinity limits)."""
    from dask.system import CPU_COUNT

    return max(1, int(CPU_COUNT or os.cpu_count() or 1))


def runs_in_process(wf: Workflow, scheduler: str | None, workers: int | None) -> bool:
    """One worker on this machine and only shard-by-shard steps (source, map): the tasks run
    in this process (`InlineClient`), with no cluster to start. Corpus-wide steps keep the
    cluster even then: their fits compute Dask collections on it."""
    if scheduler or any(s.stage.kind not in ("source", "map") for s in wf.steps):
        return False
    return (workers or default_workers()) == 1


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
    files = expand_inputs(wf.inputs, suffixes=first.input_suffixes if first.kind == "source" else PARQUET)
    if not files and first.kind != "sink":
        raise WorkflowError(f"no input files found in {wf.inputs}")
    return files


def step_layouts(wf: Workflow, out_dirs: dict[str, str]) -> dict[str, StepLayout]:
    """Each step's layout; a step whose folder an earlier step already uses is not its owner."""
    owners: set[str] = set()
    layouts = {}
    for step in wf.steps:
        d = os.path.abspath(out_dirs[step.name]) if "://" not in out_dirs[step.name] else out_dirs[step.name]
        layouts[step.name] = StepLayout(out_dirs[step.name], step.name, owner=d not in owners)
        owners.add(d)
    return layouts


def _input_folder(inputs: list[str]) -> str | None:
    """The folder the first step reads, when its inputs are one folder's parts (a sink run on
    an earlier output, e.g. `gristmill mix apply TOKENIZED`): its tokenizer and fit live there."""
    folders = {os.path.dirname(p) for p in inputs}
    return folders.pop() if len(folders) == 1 else None


def run(wf: Workflow, workdir: str | None = None, out_dirs: dict[str, str] | None = None,
        scheduler: str | None = None, workers: int | None = None, quiet: bool = False,
        client=None, in_process: bool | None = None) -> list[StepResult]:
    """Run `wf`. Each step writes to `out_dirs[step]` or `workdir/<step>/`.

    Finished shards (those with a marker) are skipped, so re-running resumes. Returns the
    per-step stats; raises RunFailed (after writing what finished) if any shard failed.
    `in_process` None: in this process when `runs_in_process` says so; False: always on a
    cluster (tests compare the two paths); True: in this process (map/source steps only).
    """
    out_dirs = dict(out_dirs or {})
    for step in wf.steps:
        if step.name not in out_dirs:
            if workdir is None:
                raise ValueError(f"no output folder for step {step.name}")
            out_dirs[step.name] = os.path.join(workdir, step.name)
    inputs = plan_inputs(wf)
    scheduler = scheduler or wf.scheduler
    workers = workers or wf.workers
    t0 = time.time()
    timing.mark("run_start")
    if in_process is None:
        in_process = client is None and runs_in_process(wf, scheduler, workers)
    if client is not None:
        failures, results = _run_on(client, wf, inputs, out_dirs, quiet, workdir)
    elif in_process:
        if not runs_in_process(wf, None, 1):
            raise ValueError(f"workflow {wf.name} has corpus-wide steps: it needs a cluster")
        no_pandas = not any(s.stage.uses_pandas for s in wf.steps)
        with worker_environ(), run_scoped_stages(), without_pandas_probe(no_pandas):
            failures, results = _run_on(InlineClient(), wf, inputs, out_dirs, quiet, workdir)
    else:
        with dask_client(scheduler, workers) as c:
            failures, results = _run_on(c, wf, inputs, out_dirs, quiet, workdir)
    wall = time.time() - t0
    for r in results:
        timing.mark("phases", step=r.name, seconds=r.stats.get("phases", {}))
    if workdir is not None:
        write_json_atomic({"workflow": wf.name, "wall_seconds": round(wall, 2),
                           "order": [r.name for r in results], "steps": {r.name: r.stats for r in results}},
                          os.path.join(workdir, RUN_SUMMARY))
    timing.mark("run_done")
    if not quiet:
        print_summary(wf.name, results, wall, failures)
    if failures:
        raise RunFailed(f"{len(failures)} shard(s) failed; first: {failures[0]}. "
                        "Finished shards are kept: fix the cause and re-run to resume.")
    return results


def _run_on(client, wf: Workflow, inputs: list[str], out_dirs: dict[str, str], quiet: bool,
            workdir: str | None = None):
    if isinstance(client, InlineClient):
        as_completed = client.as_completed
    else:
        from distributed import as_completed

    futures: dict = {}
    failures: list[str] = []
    n = len(inputs)
    layouts = step_layouts(wf, out_dirs)
    doc_steps = [s.name for s in wf.steps if s.stage.kind != "sink"]
    progress = Progress(doc_steps, n, enabled=not quiet and bool(doc_steps))

    def drain():
        for fut in as_completed(list(futures)):
            step_name = futures.pop(fut)
            try:
                progress.update(step_name, fut.result())
            except Exception as e:  # noqa: BLE001 - reported per shard, the rest go on
                failures.append(f"{step_name}: {format_error(e)}")
                progress.fail(step_name)

    try:  # the bars are closed even when a step raises (an error line then starts a line)
        upstream: list = [None] * n
        redone: dict[str, dict[str, int]] = {}  # step -> reason -> shards redone on this run
        upstream_dir = _input_folder(inputs)
        upstream_fit = StepLayout(upstream_dir).read_fit() if upstream_dir else None
        documents_dir = upstream_dir
        srcs = list(inputs)
        for depth, step in enumerate(wf.steps):
            layout = layouts[step.name]
            os.makedirs(layout.out_dir, exist_ok=True)
            ctx = StepContext(step=step.name, layout=layout, workdir=workdir, upstream_dir=upstream_dir,
                              upstream_fit=upstream_fit, documents_dir=documents_dir)
            kind = step.stage.kind
            refit = False
            if kind in ("corpus", "sink"):
                drain()  # a corpus-wide step needs every upstream shard
                if failures:
                    break
                # a shard redone upstream changes what the fit (or the sink) saw: do it again
                refit = any(u is not None for u in upstream)
                fit = _corpus_phase(client, step, ctx, srcs if kind == "corpus" else list_parts(documents_dir or ""),
                                    force=refit)
                ctx = ctx.with_fit(fit)
                upstream = [None] * n
            upstream_dir, upstream_fit = layout.out_dir, ctx.fit
            if kind == "sink":
                continue
            resources = _resources_for(client, step.stage)
            current: list = [None] * n
            for i in range(n):
                done = layout.read_marker(i)
                problem = _untrusted(layout, i, done)
                if not problem and done is not None and (upstream[i] is not None or refit):
                    os.remove(layout.marker(i))  # its input (or the fit) is made again: so is this shard
                    problem = "refit" if refit else "upstream_redone"
                if problem:
                    redone.setdefault(step.name, {})[problem] = redone.get(step.name, {}).get(problem, 0) + 1
                elif done is not None:  # resume: finished shards are not even submitted
                    progress.update(step.name, done, skipped=True)
                    continue
                deps = [upstream[i]] if upstream[i] is not None else []
                fut = client.submit(run_shard, step.stage, ShardContext(ctx, i, srcs[i]), *deps,
                                    key=f"{wf.name}-{step.name}-{i:05d}-{os.urandom(3).hex()}",
                                    priority=depth, resources=resources, pure=False, retries=1)
                futures[fut] = step.name
                current[i] = fut
            upstream = current
            documents_dir = layout.out_dir
            srcs = [layout.part(i) for i in range(n)]
        drain()
    finally:
        progress.close()
    timing.mark("shards_done")
    # no shard task runs now: what a worker killed mid-write left (its task ran again elsewhere)
    leftovers = {s.name: sum(remove_temp_files(d) for d in layouts[s.name].shard_folders())
                 for s in wf.steps if s.stage.kind != "sink" and layouts[s.name].owner}
    results = [StepResult(s.name, s.stage.versioned_name, layouts[s.name].out_dir,
                          collect_stats(layouts[s.name], s, n)) for s in wf.steps]
    for r in results:
        if r.name in redone:
            r.stats["redone_by_reason"] = dict(sorted(redone[r.name].items()))
        if leftovers.get(r.name):
            r.stats["temp_files_removed"] = leftovers[r.name]
    for r in results:
        write_json_atomic(r.stats, layouts[r.name].stats_path)
    return failures, results


def _untrusted(layout: StepLayout, index: int, marker: dict | None) -> str | None:
    """Why shard `index` must be redone although it looks finished (None: trust it or it is
    simply not done). A marker whose files are missing or changed, or a part file left
    without a marker (`part_without_marker`: a run killed between the two writes), or a
    source shard whose file met transient read errors every time (`transient_read_error`)."""
    if marker is not None:
        problem = "transient_read_error" if marker.get("retry") else layout.verify(index, marker)
        if problem:
            os.remove(layout.marker(index))  # the worker then redoes the shard
        return problem
    return "part_without_marker" if os.path.exists(layout.part(index)) else None


def _corpus_phase(client, step: Step, ctx: StepContext, inputs: list[str], force: bool = False) -> dict:
    """Run a corpus stage's fit (or a sink's write) once; the fit marker makes a re-run skip it
    unless `force` (an upstream shard was redone). A sink's product is a function of its
    parameters: one written under other parameters (a re-mix into the same folder) is made again."""
    done = None if force else ctx.layout.read_fit()
    params = json.loads(json.dumps(step.stage.params, sort_keys=True, default=str))
    if done is not None and (step.stage.kind != "sink" or done.get("params") == params):
        return done
    os.makedirs(ctx.state_dir, exist_ok=True)
    workers = len(client.scheduler_info(n_workers=-1).get("workers", {})) or 1
    t0 = time.time()
    fctx = FitContext(step=ctx, inputs=inputs, client=client, workers=workers)
    info = (step.stage.write(fctx) if step.stage.kind == "sink" else step.stage.fit(fctx)) or {}
    result = {"seconds": round(time.time() - t0, 3), **info}
    if step.stage.kind == "sink":
        result["params"] = params
    write_json_atomic(result, ctx.layout.fit_marker)
    return result


def collect_stats(layout: StepLayout, step: Step, n_shards: int) -> dict:
    """Sum the shard markers of one step into its stats.json content."""
    if step.stage.kind == "sink":
        return _sink_stats(layout, step)
    totals = {"stage": step.stage.versioned_name, "kind": step.stage.kind, "params": step.stage.params,
              "shards": n_shards, "shards_done": 0, "docs_in": 0, "docs_out": 0, "docs_dropped": 0,
              "dropped_by_reason": {}, "counters": {}, "seconds": 0.0, "phases": {}, "workers": {}}
    for i in range(n_shards):
        m = layout.read_marker(i)
        if m is None:
            continue
        totals["shards_done"] += 1
        if m.get("retry"):  # the next run reads these files again
            totals["shards_to_retry"] = totals.get("shards_to_retry", 0) + 1
        for k in ("docs_in", "docs_out", "docs_dropped"):
            totals[k] += m[k]
        if m.get("generated"):  # a stage that adds rows (rephrase@1)
            totals["generated"] = totals.get("generated", 0) + m["generated"]
        for k, v in m["dropped_by_reason"].items():
            totals["dropped_by_reason"][k] = totals["dropped_by_reason"].get(k, 0) + v
        for k, v in m["counters"].items():
            totals["counters"][k] = totals["counters"].get(k, 0) + v
        totals["seconds"] += m["seconds"]
        for k, v in m.get("phases", {}).items():  # markers written before phases were timed have none
            totals["phases"][k] = totals["phases"].get(k, 0.0) + v
        totals["workers"][m["worker"]] = totals["workers"].get(m["worker"], 0) + 1
    totals["seconds"] = round(totals["seconds"], 3)
    totals["phases"] = {k: round(v, 3) for k, v in sorted(totals["phases"].items())}
    fitted = layout.read_fit()
    if step.stage.kind == "corpus" and fitted is not None:  # what the corpus-wide fit did and took
        totals["fit"] = fitted
    totals["complete"] = totals["shards_done"] == n_shards
    totals["balanced"] = totals["docs_in"] + totals.get("generated", 0) == totals["docs_out"] + totals["docs_dropped"]
    totals["parts"] = len(list_parts(layout.out_dir))
    return totals


def _sink_stats(layout: StepLayout, step: Step) -> dict:
    """A sink writes no documents: its totals are what it made (its `write` result)."""
    product = layout.read_fit()
    return {"stage": step.stage.versioned_name, "kind": "sink", "params": step.stage.params,
            "complete": product is not None, "product": product or {},
            "seconds": (product or {}).get("seconds", 0.0)}
