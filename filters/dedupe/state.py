"""What exact and fuzzy dedupe share: document keys, the keep rule, the per-shard decision
files written by `fit`, and the per-shard join that applies them in `process(table, ctx)`.

A document's key is `shard << 32 | row` (int64): compact, unique, and it says where the
document (and its signature) lives. Decisions are written only for documents that have a
duplicate, partitioned by shard (`decisions/shard-NNNNN/*.parquet` under the step's state
folder), so `process` reads only its own shard's rows (`ctx.index`): memory per worker
does not grow with the corpus.

Dask: the fit's shuffles pick their method here (`shuffle_config`, a `dask.config.set`),
and `worker_memory` uses the fit context's client (`client.run`); the collections
themselves are computed by the stages through `ctx.compute`, on the step's cluster.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gristmill.pipeline.layout import PART
from gristmill.pipeline.schema import SCORE_PREFIX, drop_log, empty_drops
from gristmill.pipeline.shards import write_parquet_atomic
from gristmill.pipeline.stage import Stage, StageOutput

KEEP_RULES = ("longest", "earliest")  # or "score_<name>": highest score wins
# Dask partition size for the shuffles (npartitions = rows / this, so a partition's size does
# not grow with the corpus). Measured (README, Scale): at 2M rows a candidate partition's
# group-by and the shuffle's buffers peaked ~250 MiB above the worker's baseline; at 500k ~100.
ROWS_PER_PARTITION = 500_000
# Dask's in-memory task shuffle holds all its input in the worker's memory: only below this.
P2P_ABOVE_ROWS = 1_000_000
NO_TIME = np.iinfo(np.int64).max  # documents without fetched_at sort last under `earliest`


def check_keep(keep: str) -> str:
    if keep in KEEP_RULES or (keep.startswith(SCORE_PREFIX) and len(keep) > len(SCORE_PREFIX)):
        return keep
    raise ValueError(f"keep must be one of {', '.join(KEEP_RULES)} or score_<name>, got {keep!r}")


def shuffle_config(n_rows: int):
    """Dask config for the fit's shuffles: the disk-backed p2p shuffle (bounded memory per
    worker) for big inputs; the in-memory task shuffle, with less fixed cost, for small ones."""
    import dask

    return dask.config.set({"dataframe.shuffle.method": "p2p" if n_rows > P2P_ABOVE_ROWS else "tasks"})


def _status_mib(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return round(int(line.split()[1]) / 1024)
    return 0


def _end_of_phase() -> dict:
    """On a worker, between fit phases: hand freed heap back to the OS (glibc keeps freed
    chunks of a phase's big pandas/numpy temporaries mapped: at 100k documents this hands
    back ~70 MiB after signing and after the candidate shuffle, measured), then report
    the peak resident memory (MiB) since the previous call and the memory now, and reset the
    peak (Linux `clear_refs` 5) so that each phase gets its own."""
    import ctypes
    import gc

    out = {}
    try:
        out["hwm"] = _status_mib("VmHWM:")
        before = _status_mib("VmRSS:")
        gc.collect()
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass
        out["rss"] = _status_mib("VmRSS:")
        out["freed"] = before - out["rss"]
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:  # not Linux: no numbers
        pass
    return out


def worker_memory(ctx) -> dict:
    """Ends a fit phase on every worker of the fit context's cluster (see _end_of_phase). Per
    worker port: {"hwm": peak MiB during the phase, "rss": MiB after it, "freed": MiB handed
    back at its end}; {} without a cluster."""
    if ctx.client is None:
        return {}
    try:
        return {addr.rsplit(":", 1)[-1]: m for addr, m in ctx.client.run(_end_of_phase).items()}
    except Exception:  # noqa: BLE001 - measurement only; never fails a fit
        return {}


def partitions_for(n_rows: int) -> int:
    return max(1, -(-int(n_rows) // ROWS_PER_PARTITION))


def doc_keys(shard: int, n: int) -> np.ndarray:
    return (np.int64(shard) << np.int64(32)) | np.arange(n, dtype=np.int64)


def doc_info(table: pa.Table, shard: int, keep: str) -> dict[str, np.ndarray | pa.Array]:
    """Columns every decision needs: key, shard, id, and what the keep rule ranks by."""
    n = table.num_rows
    info = {"key": doc_keys(shard, n), "shard": np.full(n, shard, np.int32), "id": table.column("id"),
            "length": pc.utf8_length(table.column("text")).fill_null(0).to_numpy().astype(np.int64)}
    if keep == "earliest":
        t = table.column("fetched_at") if "fetched_at" in table.column_names else pa.nulls(n, pa.timestamp("us"))
        info["fetched_at"] = pc.cast(t, pa.int64()).fill_null(NO_TIME).to_numpy()
    elif keep.startswith(SCORE_PREFIX):
        if keep not in table.column_names:
            raise ValueError(f"keep={keep}: the documents have no {keep} column")
        info["score"] = pc.cast(table.column(keep), pa.float64()).fill_null(-np.inf).to_numpy()
    return info


def rank_columns(keep: str) -> tuple[list[str], list[bool]]:
    """pandas sort columns/directions putting the kept document of a group first; ties
    always end on `key` (corpus order), so the choice is deterministic."""
    if keep == "longest":
        return ["length", "key"], [False, True]
    if keep == "earliest":
        return ["fetched_at", "key"], [True, True]
    return ["score", "length", "key"], [False, False, True]


def group_decisions(df: pd.DataFrame, group: str, keep: str, prefix: str) -> pd.DataFrame:
    """One row per member of every group of >= 2 documents: who is kept, who names whom."""
    sizes = df.groupby(group)[group].transform("size")
    df = df[sizes > 1]
    if df.empty:
        return df.assign(kept_key=pd.Series(dtype="int64"), kept_id=pd.Series(dtype="object"),
                         size=pd.Series(dtype="int64"))
    cols, asc = rank_columns(keep)
    df = df.sort_values([group, *cols], ascending=[True, *asc], kind="mergesort")
    first = df.drop_duplicates(group, keep="first")[[group, "key", "id"]]
    first = first.rename(columns={"key": "kept_key", "id": "kept_id"})
    out = df.merge(first, on=group, how="left")
    out["size"] = out.groupby(group)[group].transform("size")
    out["dup_cluster"] = prefix + out["kept_id"].astype(str)
    return out


DECISION_ROWS = "decision_rows"  # state subfolder: decision rows staged between the two shuffles
_ROW_COLUMNS = ("id", "dup_cluster", "duplicate_of", "reason", "detail")
DECISION_ROW_SCHEMA = pa.schema([("shard", pa.int32())] + [(c, pa.string()) for c in _ROW_COLUMNS])


def empty_decision_rows() -> pd.DataFrame:
    return pd.DataFrame({"shard": pd.Series(dtype="int32"), **{c: pd.Series(dtype="object") for c in _ROW_COLUMNS}})


def decision_rows(dec: pd.DataFrame) -> pd.DataFrame:
    """What a group partition hands on: one row per member of a group (`reason` null for
    the kept one), with the shard it belongs to."""
    if dec.empty:
        return empty_decision_rows()
    return dec[["shard", *_ROW_COLUMNS]].astype({"shard": "int32"}).reset_index(drop=True)


def write_decisions_by_shard(ctx, rows, state_dir: str) -> dict:
    """Write the decision rows of a Dask DataFrame (one partition per group partition) as
    one file per shard. Written straight from the group partitions, every partition would
    write a file into nearly every shard's folder: shards x partitions files, both growing
    with the corpus (at 100k-document shards and 500k-row partitions, ~10^8 files of a few
    rows for a Common Crawl snapshot, README Scale). So the rows are staged (one file per
    partition), then shuffled on the shard, which puts each shard's rows in one partition.
    Returns {"rows": decision rows, "kept": groups (their kept members)}."""
    import dask.dataframe as dd

    staged = os.path.join(state_dir, DECISION_ROWS)
    ctx.compute(rows.to_parquet(staged, write_index=False, schema=DECISION_ROW_SCHEMA, compute=False))
    (n,) = ctx.compute(dd.read_parquet(staged, columns=["shard"]).shape[0])
    res = {"rows": 0, "kept": 0}
    if int(n):
        meta = pd.DataFrame({"rows": pd.Series(dtype="int64"), "kept": pd.Series(dtype="int64")})
        with shuffle_config(int(n)):
            by_shard = dd.read_parquet(staged).shuffle("shard", npartitions=partitions_for(int(n)))
            (out,) = ctx.compute(by_shard.map_partitions(_write_shard_files, state_dir, meta=meta))
        res = {"rows": int(out["rows"].sum()), "kept": int(out["kept"].sum())}
    shutil.rmtree(staged, ignore_errors=True)
    return res


def _write_shard_files(df: pd.DataFrame, state_dir: str, partition_info=None) -> pd.DataFrame:
    if not df.empty:
        write_decisions(df, state_dir, (partition_info or {}).get("number", 0))
    return pd.DataFrame({"rows": [len(df)], "kept": [int(df["reason"].isna().sum())]})


def write_decisions(df: pd.DataFrame, state_dir: str, part: int) -> int:
    """Write decision rows (shard, id, dup_cluster, duplicate_of, reason, detail) split by shard."""
    for shard, rows in df.groupby("shard", sort=True):
        t = pa.Table.from_pandas(rows[["id", "dup_cluster", "duplicate_of", "reason", "detail"]]
                                 .sort_values("id", kind="mergesort"), preserve_index=False,
                                 schema=DECISION_SCHEMA)
        write_parquet_atomic(t, os.path.join(state_dir, "decisions", f"shard-{int(shard):05d}", PART.format(part)))
    return len(df)


DECISION_SCHEMA = pa.schema([(c, pa.string()) for c in ("id", "dup_cluster", "duplicate_of", "reason", "detail")])


def reset(state_dir: str, *subdirs: str) -> None:
    """Remove what an interrupted earlier fit may have left."""
    for s in subdirs:
        shutil.rmtree(os.path.join(state_dir, s), ignore_errors=True)


def read_decisions(state_dir: str, shard: int) -> pa.Table:
    folder = os.path.join(state_dir, "decisions", f"shard-{shard:05d}")
    if not os.path.isdir(folder):
        return DECISION_SCHEMA.empty_table()
    files = sorted(f for f in os.listdir(folder) if f.endswith(".parquet") and not f.startswith("."))
    return pa.concat_tables([pq.read_table(os.path.join(folder, f), schema=DECISION_SCHEMA) for f in files]) \
        if files else DECISION_SCHEMA.empty_table()


class DedupeStage(Stage):
    """Base of the dedupe stages: `fit` writes decisions, `process(table, ctx)` applies the
    decisions of shard `ctx.index` from `ctx.state_dir`."""

    kind = "corpus"
    adds = ("dup_cluster",)
    # a kept document already in a cluster from an earlier dedupe keeps that cluster id
    # unless this stage puts it in one of its own
    keep_incoming_cluster = True

    def __init__(self, **params):
        super().__init__(**params)
        check_keep(self.cfg.keep)  # fail at workflow load, not after an hour

    @property
    def keep(self) -> str:
        return check_keep(self.cfg.keep)

    @property
    def reads(self):
        return ("text", self.keep) if self.keep.startswith(SCORE_PREFIX) else ("text",)

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        if ctx is None:
            raise RuntimeError(f"{self.versioned_name} needs its shard context (state folder and shard number)")
        dec = read_decisions(ctx.state_dir, ctx.index)
        pos = pc.index_in(table.column("id"), value_set=dec.column("id"))
        cluster = pc.take(dec.column("dup_cluster"), pos)
        if self.keep_incoming_cluster and "dup_cluster" in table.column_names:
            cluster = pc.coalesce(cluster, table.column("dup_cluster").cast(pa.string()))
        if "dup_cluster" in table.column_names:
            table = table.drop_columns(["dup_cluster"])
        table = table.append_column("dup_cluster", cluster)
        reason = pc.take(dec.column("reason"), pos)
        dropped = pc.is_valid(reason)
        kept = table.filter(pc.invert(dropped))
        gone = table.filter(dropped)
        drops = drop_log(gone, self.versioned_name, reasons=reason.filter(dropped),
                         details=pc.take(dec.column("detail"), pos).filter(dropped),
                         duplicate_of=pc.take(dec.column("duplicate_of"), pos).filter(dropped),
                         dup_cluster=gone.column("dup_cluster")) if gone.num_rows else empty_drops()
        in_cluster = pc.sum(pc.is_valid(pc.take(dec.column("dup_cluster"), pos)).cast(pa.int64())).as_py() or 0
        return StageOutput(kept, drops, {"kept_with_duplicates": int(in_cluster) - gone.num_rows})
