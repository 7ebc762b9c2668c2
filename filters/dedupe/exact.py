"""`dedupe_exact`: drop documents whose normalised text equals another's, corpus-wide.

Normalised text = lower-cased, punctuation runs turned into spaces, split on whitespace:
two documents are exact duplicates when their word sequences are equal. Each document is
reduced to a 128-bit hash of that sequence (two independent 64-bit hashes) in a map over
the shards; the hashes go through a Dask DataFrame shuffle on the hash, so every group of
equal documents lands in one partition, where the keep rule picks its kept copy. Nothing
holds the corpus in one dict; memory per worker is bounded by one shard and one partition.
That shuffle is why this stage touches Dask: it builds the graph with dask.dataframe and
runs it through the fit context (`ctx.compute`), on the step's cluster.

Kept copy (`keep`): "earliest" by default (oldest fetched_at, then corpus order), "longest",
or "score_<name>". Drop reason: `exact_duplicate`, with `duplicate_of` = the kept id.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.filters.dedupe import shingles
from gristmill.filters.dedupe.state import DECISION_ROWS, DedupeStage, decision_rows, doc_info, \
    empty_decision_rows, group_decisions, partitions_for, reset, shuffle_config, write_decisions_by_shard
from gristmill.pipeline.layout import PART
from gristmill.pipeline.params import param
from gristmill.pipeline.shards import write_parquet_atomic

BATCH_DOCS = 4096  # documents hashed at once inside a shard


def hash_shard(task: tuple[int, str], state_dir: str, keep: str) -> int:
    """Map step: one shard -> docs/part-i.parquet with key, id, rank columns and 2 hashes."""
    shard, path = task
    shingles.tune_allocator()
    cols = ["id", "text"] + [c for c in ("fetched_at", keep) if c in pq.read_schema(path).names
                             and c not in ("id", "text")]
    table = pq.read_table(path, columns=cols)
    h1, h2 = [], []
    for lo in range(0, table.num_rows, BATCH_DOCS):
        w, offsets = shingles.word_hashes(table.column("text").slice(lo, BATCH_DOCS))
        a, b = shingles.exact_keys(w, offsets, n_keys=2)
        h1.append(a)
        h2.append(b)
    info = doc_info(table, shard, keep)
    info["h1"] = pa.array(_cat(h1)).cast(pa.int64())  # uint64 bits kept, signed for pandas joins
    info["h2"] = pa.array(_cat(h2)).cast(pa.int64())
    write_parquet_atomic(pa.table(info), os.path.join(state_dir, "docs", PART.format(shard)))
    return table.num_rows


def _cat(parts):
    import numpy as np

    return (np.concatenate(parts) if parts else np.zeros(0, np.uint64)).view(np.int64)


def decide_partition(df: pd.DataFrame, keep: str) -> pd.DataFrame:
    """Reduce step: the documents of one hash partition -> their decision rows."""
    df = df.assign(group=df.groupby(["h1", "h2"], sort=False).ngroup())
    dec = group_decisions(df, "group", keep, prefix="exact:")
    if not dec.empty:
        dropped = dec["key"] != dec["kept_key"]
        dec["duplicate_of"] = dec["kept_id"].where(dropped, None)
        dec["reason"] = pd.Series("exact_duplicate", index=dec.index).where(dropped, None)
        dec["detail"] = ("copies=" + dec["size"].astype(str)).where(dropped, None)
    return decision_rows(dec)


class ExactDedupe(DedupeStage):
    """Drop documents whose normalised text equals another's, corpus-wide."""

    name = "dedupe_exact"

    @dataclass(frozen=True)
    class Params:
        keep: str = param("earliest", "kept copy per group: earliest (oldest fetched_at), longest, "
                                      "or score_<name> (highest)")

    def fit(self, ctx) -> dict:
        import dask.dataframe as dd

        keep = self.keep
        reset(ctx.state_dir, "docs", "decisions", DECISION_ROWS)
        counts = ctx.map(hash_shard, list(enumerate(ctx.inputs)), state_dir=ctx.state_dir, keep=keep)
        docs = dd.read_parquet(os.path.join(ctx.state_dir, "docs"))
        with shuffle_config(sum(counts)):
            shuffled = docs.shuffle("h1", npartitions=partitions_for(sum(counts)))
            rows = shuffled.map_partitions(decide_partition, keep, meta=empty_decision_rows())
            result = write_decisions_by_shard(ctx, rows, ctx.state_dir)
        return {"documents": int(sum(counts)), "documents_in_groups": result["rows"], "groups": result["kept"]}
