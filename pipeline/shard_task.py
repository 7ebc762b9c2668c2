"""What one Dask task does: run one stage on one shard, write outputs, leave a marker.

Runs on a worker process; knows nothing about Dask beyond reporting where it ran.
Outputs appear in this order, each atomically: kept part, drop-log part, marker. A shard
with a marker is finished; anything else is redone on resume.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import traceback
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.pipeline import transient
from gristmill.pipeline.context import ShardContext, StepContext
from gristmill.pipeline.schema import column_type, conform, drop_log, empty_drops, stable_id
from gristmill.pipeline.shards import write_json_atomic, write_parquet_atomic
from gristmill.pipeline.stage import Stage, StageOutput, reason_counts
from gristmill.pipeline.timing import Phases

# Per-worker-process cache of set-up stages: a model is built once per worker and step,
# not per shard. The step context is part of the key: the same stage class with the same
# params in two steps (or two runs) reads different state.
_STAGES: dict[str, Stage] = {}


def stage_key(stage: Stage, step: StepContext) -> str:
    return (f"{type(stage).__module__}:{type(stage).__qualname__}:{step.out_dir}:{step.state_dir}:"
            + json.dumps(stage.params, sort_keys=True, default=str)
            + json.dumps(step.fit, sort_keys=True, default=str))


@contextmanager
def run_scoped_stages():
    """Set-up stages cached for one run only: the runner's in-process path is a worker that
    lives as long as its run, as a LocalCluster's workers do, so a later run in the same
    process (tests, notebooks) sets its stages up afresh (an OCR stage's PDF child process,
    started in another folder, is not reused)."""
    global _STAGES
    saved, _STAGES = _STAGES, {}
    try:
        yield
    finally:
        _STAGES = saved


def _cached(stage: Stage, step: StepContext) -> Stage:
    key = stage_key(stage, step)
    ready = _STAGES.get(key)
    if ready is None:
        stage.ensure_setup(step)
        _STAGES[key] = ready = stage
    return ready


def _process_isolating(stage: Stage, table: pa.Table, ctx: ShardContext) -> StageOutput:
    """Run a map stage; if it raises, bisect the shard so only the offending documents are
    dropped (reason `stage_error`) and the rest of the shard goes through."""
    try:
        return stage.process(table, ctx)
    except Exception as e:  # noqa: BLE001 - any stage bug or bad document is isolated
        if table.num_rows <= 1:
            msg = f"{type(e).__name__}: {e}"[:500]
            return StageOutput(table.slice(0, 0), drop_log(table, stage.versioned_name, "stage_error", msg),
                               {"stage_errors": table.num_rows})
        mid = table.num_rows // 2
        a = _process_isolating(stage, table.slice(0, mid), ctx)
        b = _process_isolating(stage, table.slice(mid), ctx)
        counters = dict(a.counters)
        for k, v in b.counters.items():
            counters[k] = counters.get(k, 0) + v
        return StageOutput(
            pa.concat_tables([conform(a.table), conform(b.table)], promote_options="permissive"),
            pa.concat_tables([a.drops, b.drops]), counters, generated=a.generated + b.generated)


def _process_empty(stage: Stage, table: pa.Table, ctx: ShardContext) -> StageOutput:
    """An empty shard still gets the stage's columns, so every part has one schema."""
    try:
        return stage.process(table, ctx)
    except Exception:  # noqa: BLE001 - some stages cannot run on nothing; add their columns
        for name in stage.provides():
            if name not in table.column_names:
                typ = column_type(name) or pa.string()
                table = table.append_column(pa.field(name, typ), pa.nulls(0, typ))
        return StageOutput(table)


def _raise_if_stage_broken(stage: Stage, out: StageOutput, docs_in: int) -> None:
    """Every document failing with one same error means the stage is broken (a missing
    package, a bad param), not the data: fail the shard loudly instead of dropping it all."""
    if docs_in < 2 or out.table.num_rows or out.drops.num_rows != docs_in:
        return
    reasons = set(out.drops.column("reason").to_pylist())
    details = set(out.drops.column("detail").to_pylist())
    if reasons == {"stage_error"} and len(details) == 1:
        raise RuntimeError(f"stage {stage.versioned_name} failed on every document: {details.pop()}")


def _run_source(stage: Stage, ctx: ShardContext) -> tuple[StageOutput, bool]:
    """Read one input file. A transient error (pipeline/transient.py: a dropped connection,
    HTTP 503) reads the whole file again, `READ_TRIES` times in all; the second value says
    the last try still met one, so the marker asks the next run to read the file again."""
    path = ctx.input_path
    tries = max(1, transient.READ_TRIES)
    for attempt in range(1, tries + 1):
        if attempt > 1:
            time.sleep(transient.RETRY_PAUSE_S * 2 ** (attempt - 2))
        try:
            out = stage.process_file(path, ctx)
        except Exception as e:  # noqa: BLE001 - a file that cannot be read is reported, not fatal
            flaky = transient.is_transient(e)
            if flaky and attempt < tries:
                continue
            t = pa.table({"id": [stable_id(path)], "origin_file": [path]})
            msg = f"{type(e).__name__}: {e}"[:500]
            if flaky:
                msg = f"transient, {tries} tries; a rerun reads it again: {msg}"
            counters = {"unreadable_files": 1, **({transient.TRANSIENT_COUNTER: 1} if flaky else {})}
            if attempt > 1:
                counters["read_retries"] = attempt - 1
            empty = conform(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}))
            return StageOutput(empty, drop_log(t, stage.versioned_name, "unreadable_file", msg),
                               counters, records_in=1), flaky
        flaky = bool(out.counters.get(transient.TRANSIENT_COUNTER))
        if flaky and attempt < tries:
            continue
        break
    if out.records_in is None:
        raise RuntimeError(f"source stage {stage.versioned_name} did not report records_in for {path}")
    if attempt > 1:
        out.counters = {**out.counters, "read_retries": attempt - 1}
    return out, flaky


def run_shard(stage: Stage, ctx: ShardContext, *upstream) -> dict:
    """Process one shard end to end and return its stats (also written as the marker).

    `upstream` holds the upstream task's result so Dask orders the two; it is not used.
    """
    layout = ctx.step.layout
    done = layout.read_marker(ctx.index)
    if done is not None and not done.get("retry") and layout.verify(ctx.index, done) is None:
        return {**done, "skipped": True}
    t0 = time.perf_counter()
    phases = Phases()
    with phases.timed("setup"):  # models are built on a worker's first shard only
        stage = _cached(stage, ctx.step)
    with phases.timed("process"):
        retry = False
        if stage.kind == "source":
            out, retry = _run_source(stage, ctx)
            docs_in = out.records_in
        else:
            table = conform(pq.read_table(ctx.input_path))
            docs_in = table.num_rows
            out = _process_isolating(stage, table, ctx) if docs_in else _process_empty(stage, table, ctx)
            _raise_if_stage_broken(stage, out, docs_in)
    for name, seconds in (out.phases or {}).items():  # the stage's own parts of `process`
        phases.add(f"process.{name}", seconds)
    t_write = time.perf_counter()
    table = conform(out.table)
    drops = out.drops if out.drops is not None else empty_drops()
    if docs_in + out.generated != table.num_rows + drops.num_rows:
        raise RuntimeError(
            f"stage {stage.versioned_name} broke the document count on {ctx.input_path}: "
            f"in={docs_in} generated={out.generated} out={table.num_rows} dropped={drops.num_rows}")
    write_parquet_atomic(table, layout.part(ctx.index))
    write_parquet_atomic(drops, layout.dropped(ctx.index))
    files = layout.checksums(ctx.index)
    phases.add("write", time.perf_counter() - t_write)
    stats = {
        "input": ctx.input_path,
        "docs_in": docs_in,
        "docs_out": table.num_rows,
        "docs_dropped": drops.num_rows,
        **({"generated": out.generated} if out.generated else {}),
        "dropped_by_reason": reason_counts(drops),
        "counters": {k: int(v) for k, v in out.counters.items()},
        "seconds": round(time.perf_counter() - t0, 4),
        "phases": phases.rounded(),
        "worker": _where(),
        "stage": stage.versioned_name,
        # what the marker vouches for: a rerun redoes the shard if a file is missing or changed
        "files": files,
        # a transient read error outlasted the tries: the next run reads the file again
        **({"retry": True} if retry else {}),
    }
    write_json_atomic(stats, layout.marker(ctx.index))
    return {**stats, "skipped": False}


def _where() -> str:
    """The Dask worker's address, or host:pid in a process that is no worker (the runner's
    in-process path: distributed is not even imported there, and is not imported for this)."""
    distributed = sys.modules.get("distributed")
    if distributed is not None:
        try:
            return distributed.get_worker().address
        except ValueError:  # distributed is loaded but this is no worker
            pass
    return f"{socket.gethostname()}:{os.getpid()}"


def format_error(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()
