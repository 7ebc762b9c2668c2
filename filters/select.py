"""`select`: keep documents by a score column, apart from scoring so thresholds can be
retuned without re-scoring.

Two modes (one of):
* `threshold: X` — keep `column >= X` (a map stage).
* `top_fraction: F` — keep the top F of each group (`by`, default `source`): a corpus stage
  whose fit finds each group's exact cut-off without collecting scores on one machine:
  scores map to order-preserving uint32 keys; pass 1 sums per-shard histograms of the
  key's high 16 bits, pass 2 histograms the low 16 bits inside the one bin that holds the
  cut-off. Ties at the cut-off are all kept, so a group may keep slightly more than F.

Reasons: `no_score` (null score), `below_threshold`, `below_top_fraction`.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gristmill.pipeline.params import REQUIRED, param
from gristmill.pipeline.shards import write_json_atomic
from gristmill.pipeline.stage import Stage, StageOutput, split_by_reason

NULL_GROUP = "\x00null"
CUTOFFS_FILE = "cutoffs.json"


def sort_keys(scores: np.ndarray) -> np.ndarray:
    """float32 -> uint32 with the same order (flip all bits of negatives, the sign of others)."""
    # + 0.0 turns -0.0 into 0.0: equal scores must get equal keys
    bits = (np.asarray(scores, dtype=np.float32) + np.float32(0.0)).view(np.uint32)
    return np.where(bits & 0x80000000, ~bits, bits | 0x80000000).astype(np.uint32)


def key_to_float(key: int) -> float:
    bits = key & 0x7FFFFFFF if key & 0x80000000 else ~key & 0xFFFFFFFF
    return float(np.array([bits], np.uint32).view(np.float32)[0])


def _groups_and_keys(path: str, column: str, by: str):
    names = pq.read_schema(path).names
    if column not in names:  # an empty upstream shard carries no added columns
        return np.array([], object), np.array([], np.uint32)
    t = pq.read_table(path, columns=[column, by] if by in names else [column])
    if by not in names:
        t = t.append_column(by, pa.nulls(t.num_rows, pa.string()))
    score = t.column(column)
    valid = pc.is_valid(score)
    group = pc.fill_null(t.column(by).cast(pa.string()), NULL_GROUP).filter(valid).to_numpy(zero_copy_only=False)
    keys = sort_keys(score.filter(valid).to_numpy(zero_copy_only=False))
    return group, keys


def _histograms(path: str, column: str, by: str, high_bins: dict | None) -> dict:
    """Per group: sparse histogram (bins, counts) of high 16 bits, or of the low 16 bits
    within the group's chosen high bin (pass 2). Runs on a worker."""
    group, keys = _groups_and_keys(path, column, by)
    out = {}
    for g in np.unique(group):
        k = keys[group == g]
        if high_bins is None:
            bins, counts = np.unique(k >> 16, return_counts=True)
        else:
            if g not in high_bins:
                continue
            k = k[(k >> 16) == high_bins[g]]
            bins, counts = np.unique(k & 0xFFFF, return_counts=True)
        out[str(g)] = (bins.astype(np.int64), counts.astype(np.int64))
    return out


def _merge(parts: list[dict]) -> dict[str, np.ndarray]:
    merged: dict[str, np.ndarray] = {}
    for part in parts:
        for g, (bins, counts) in part.items():
            hist = merged.setdefault(g, np.zeros(1 << 16, np.int64))
            np.add.at(hist, bins, counts)
    return merged


def _bin_from_top(hist: np.ndarray, k: int) -> tuple[int, int]:
    """Bin holding the k-th largest value, and how many values lie in higher bins."""
    from_top = np.cumsum(hist[::-1])
    idx = int(np.searchsorted(from_top, k))
    above = int(from_top[idx - 1]) if idx else 0
    return len(hist) - 1 - idx, above


class Select(Stage):
    """Keep documents by a score column: above a threshold, or the top fraction per group."""

    name = "select"
    reads = ()

    @dataclass(frozen=True)
    class Params:
        column: str | None = param(REQUIRED, "score column, e.g. score_quality")
        threshold: float | None = param(None, "keep documents scoring at least this (a map step)")
        top_fraction: float | None = param(None, "keep this top fraction of each group (a corpus step)",
                                           gt=0.0, le=1.0)
        by: str = param("source", "group for top_fraction")

    def __init__(self, **params):
        super().__init__(**params)
        self.column = self.cfg.column
        if not self.column:
            raise ValueError("select needs `column:` (e.g. score_quality)")
        has_t, has_f = self.cfg.threshold is not None, self.cfg.top_fraction is not None
        if has_t == has_f:
            raise ValueError("select needs exactly one of `threshold:` or `top_fraction:`")
        self.by = self.cfg.by
        self.kind = "corpus" if has_f else "map"
        self.reads = (self.column, self.by) if has_f else (self.column,)
        self.cutoffs: dict[str, float] = {}

    def fit(self, ctx) -> dict:
        frac = self.cfg.top_fraction
        fn = functools.partial(_histograms, column=self.column, by=self.by)
        high = _merge(ctx.map(functools.partial(fn, high_bins=None), ctx.inputs))
        need, chosen, above = {}, {}, {}
        for g, hist in high.items():
            need[g] = max(1, math.ceil(frac * int(hist.sum())))
            chosen[g], above[g] = _bin_from_top(hist, need[g])
        low = _merge(ctx.map(functools.partial(fn, high_bins=chosen), ctx.inputs))
        cutoffs = {}
        for g in high:
            lo_bin, _ = _bin_from_top(low[g], need[g] - above[g])
            cutoffs[g] = key_to_float((chosen[g] << 16) | lo_bin)
        state = {"column": self.column, "by": self.by, "top_fraction": frac,
                 "cutoffs": cutoffs, "group_sizes": {g: int(h.sum()) for g, h in high.items()}}
        write_json_atomic(state, os.path.join(ctx.state_dir, CUTOFFS_FILE))
        return state

    def setup(self, ctx=None):
        if self.kind == "corpus":
            if ctx is None:
                raise RuntimeError(f"{self.versioned_name}: top_fraction needs the step context to load its cut-offs")
            with open(os.path.join(ctx.state_dir, CUTOFFS_FILE)) as f:
                self.cutoffs = json.load(f)["cutoffs"]

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        score = table.column(self.column).cast(pa.float32())
        if self.kind == "map":
            cutoff = pa.scalar(self.cfg.threshold, pa.float32())
            reason_code = "below_threshold"
        else:
            group = pc.fill_null(table.column(self.by).cast(pa.string()), NULL_GROUP)
            keys = pa.array(list(self.cutoffs), pa.string())
            vals = pa.array(list(self.cutoffs.values()), pa.float32())
            # a group unseen at fit time (cannot happen in one run) keeps nothing rather than all
            cutoff = pc.fill_null(pc.take(vals, pc.index_in(group, keys)), np.float32(np.inf))
            reason_code = "below_top_fraction"
        below = pc.less(score, cutoff)
        reason = pc.if_else(pc.is_null(score), pa.scalar("no_score"),
                            pc.if_else(below, pa.scalar(reason_code), pa.scalar(None, pa.string())))
        detail = pc.binary_join_element_wise(
            pa.scalar(f"{self.column}="), pc.cast(score, pa.string()), pa.scalar("<"),
            pc.cast(cutoff, pa.string()) if isinstance(cutoff, (pa.Array, pa.ChunkedArray))
            else pa.scalar(str(cutoff.as_py())), "")
        return split_by_reason(table, reason, self.versioned_name, detail=detail)
