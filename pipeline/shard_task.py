"""What one Dask task does: run one stage on one shard, write outputs, leave a marker.

Runs on a worker process; knows nothing about Dask beyond reporting where it ran.
Outputs appear in this order, each atomically: kept part, drop-log part, marker. A shard
with a marker is finished; anything else is redone on resume.
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.pipeline.schema import column_type, conform, drop_log, empty_drops, stable_id
from gristmill.pipeline.shards import DROPPED_DIR, MARKER_DIR, PART, write_json_atomic, write_parquet_atomic
from gristmill.pipeline.stage import Stage, StageOutput, reason_counts

# Per-worker-process cache of set-up stages: a model is built once per worker, not per shard.
_STAGES: dict[str, Stage] = {}


@dataclass(frozen=True)
class ShardJob:
    step: str          # step name (output folder)
    out_dir: str
    index: int         # output shard number
    input_path: str    # source file, or the upstream part file


def stage_key(stage: Stage) -> str:
    return (f"{type(stage).__module__}:{type(stage).__qualname__}:{stage.state_dir}:"
            + json.dumps(stage.params, sort_keys=True, default=str))


def _cached(stage: Stage) -> Stage:
    key = stage_key(stage)
    ready = _STAGES.get(key)
    if ready is None:
        stage.ensure_setup()
        _STAGES[key] = ready = stage
    return ready


def marker_path(out_dir: str, index: int) -> str:
    return os.path.join(out_dir, MARKER_DIR, PART.format(index).replace(".parquet", ".json"))


def part_path(out_dir: str, index: int) -> str:
    return os.path.join(out_dir, PART.format(index))


def dropped_path(out_dir: str, index: int) -> str:
    return os.path.join(out_dir, DROPPED_DIR, PART.format(index))


def read_marker(out_dir: str, index: int) -> dict | None:
    try:
        with open(marker_path(out_dir, index)) as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _process_isolating(stage: Stage, table: pa.Table, index: int = 0) -> StageOutput:
    """Run a map stage; if it raises, bisect the shard so only the offending documents are
    dropped (reason `stage_error`) and the rest of the shard goes through."""
    try:
        return stage.process_shard(table, index)
    except Exception as e:  # noqa: BLE001 - any stage bug or bad document is isolated
        if table.num_rows <= 1:
            msg = f"{type(e).__name__}: {e}"[:500]
            return StageOutput(table.slice(0, 0), drop_log(table, stage.versioned_name, "stage_error", msg),
                               {"stage_errors": table.num_rows})
        mid = table.num_rows // 2
        a = _process_isolating(stage, table.slice(0, mid), index)
        b = _process_isolating(stage, table.slice(mid), index)
        counters = dict(a.counters)
        for k, v in b.counters.items():
            counters[k] = counters.get(k, 0) + v
        return StageOutput(
            pa.concat_tables([conform(a.table), conform(b.table)], promote_options="permissive"),
            pa.concat_tables([a.drops, b.drops]), counters)


def _process_empty(stage: Stage, table: pa.Table, index: int) -> StageOutput:
    """An empty shard still gets the stage's columns, so every part has one schema."""
    try:
        return stage.process_shard(table, index)
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


def _run_source(stage: Stage, job: ShardJob) -> StageOutput:
    path = job.input_path
    try:
        out = stage.process_source(path, job)
    except Exception as e:  # noqa: BLE001 - a file that cannot be read is reported, not fatal
        t = pa.table({"id": [stable_id(path)], "origin_file": [path]})
        msg = f"{type(e).__name__}: {e}"[:500]
        return StageOutput(conform(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())})),
                           drop_log(t, stage.versioned_name, "unreadable_file", msg),
                           {"unreadable_files": 1}, records_in=1)
    if out.records_in is None:
        raise RuntimeError(f"source stage {stage.versioned_name} did not report records_in for {path}")
    return out


def run_shard(stage: Stage, job: ShardJob, *upstream) -> dict:
    """Process one shard end to end and return its stats (also written as the marker).

    `upstream` holds the upstream task's result so Dask orders the two; it is not used.
    """
    done = read_marker(job.out_dir, job.index)
    if done is not None:
        return {**done, "skipped": True}
    t0 = time.perf_counter()
    stage = _cached(stage)
    if stage.kind == "source":
        out = _run_source(stage, job)
        docs_in = out.records_in
    else:
        table = conform(pq.read_table(job.input_path))
        docs_in = table.num_rows
        out = _process_isolating(stage, table, job.index) if docs_in else _process_empty(stage, table, job.index)
        _raise_if_stage_broken(stage, out, docs_in)
    table = conform(out.table)
    drops = out.drops if out.drops is not None else empty_drops()
    if docs_in != table.num_rows + drops.num_rows:
        raise RuntimeError(
            f"stage {stage.versioned_name} broke the document count on {job.input_path}: "
            f"in={docs_in} out={table.num_rows} dropped={drops.num_rows}")
    write_parquet_atomic(table, part_path(job.out_dir, job.index))
    write_parquet_atomic(drops, dropped_path(job.out_dir, job.index))
    stats = {
        "input": job.input_path,
        "docs_in": docs_in,
        "docs_out": table.num_rows,
        "docs_dropped": drops.num_rows,
        "dropped_by_reason": reason_counts(drops),
        "counters": {k: int(v) for k, v in out.counters.items()},
        "seconds": round(time.perf_counter() - t0, 4),
        "worker": _where(),
        "stage": stage.versioned_name,
    }
    write_json_atomic(stats, marker_path(job.out_dir, job.index))
    return {**stats, "skipped": False}


def _where() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def format_error(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()
