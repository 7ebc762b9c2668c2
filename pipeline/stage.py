"""The stage contract: Arrow table in, Arrow table + drop log + counters out.

A stage never touches Dask, and learns where it runs only from the context it is handed
(`gristmill.pipeline.context`). Four kinds exist:

* ``map`` stages transform one shard of documents: ``process(table, ctx) -> StageOutput``.
* ``corpus`` stages need the whole corpus first (dedupe, classifier or topic fitting,
  tokenizer training): the runner waits for every upstream shard, calls ``fit(ctx)`` once
  (a FitContext; it may fan out over the cluster through ``ctx.map`` / ``ctx.compute``) to
  write state into ``ctx.state_dir``, then runs ``process(table, ctx)`` per shard like a map
  stage, with that state loaded in ``setup(step_ctx)``.
* ``source`` stages turn one input file (a WARC, a JSONL, a PDF...) into documents:
  ``process_file(path, ctx) -> StageOutput``; every record read counts in ``records_in``.
* ``sink`` stages make something that is not documents (token shards, a trained model, a
  report) from the whole upstream: ``write(ctx) -> dict`` once; they copy no documents, and
  only sinks may follow a sink.

Parameters are declared once, as the frozen dataclass ``Params`` (see
`gristmill.pipeline.params`); ``Stage(**params)`` checks them and keeps the typed result in
``self.cfg`` (``self.params`` is the same as a plain dict, defaults included). A stage
declares the columns it ``reads`` and ``adds``; the workflow loader checks both before any
work starts. Heavy models are built in ``setup()``, which the runner calls once per worker
process and step, not once per shard.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from gristmill.pipeline.context import FitContext, ShardContext, StepContext
from gristmill.pipeline.params import NoParams, as_dict, parse
from gristmill.pipeline.schema import conform, drop_log, empty_drops

KINDS = ("map", "corpus", "source", "sink")


@dataclass
class StageOutput:
    table: pa.Table
    drops: pa.Table = field(default_factory=empty_drops)
    counters: dict[str, int] = field(default_factory=dict)
    # source stages: records read from the file (kept + dropped); map stages leave it None
    records_in: int | None = None
    # rows a stage made that were not in its input (rephrase@1's synthetic rows, accepted in
    # `table` or rejected in `drops`): the count then reads in + generated == out + dropped
    generated: int = 0
    # seconds per named part of the stage's work on this shard (ingest: extract, language_id,
    # ...), summed into the marker's and stats.json's `phases` as `process.<name>`
    phases: dict[str, float] = field(default_factory=dict)


class Stage:
    """Base class. Subclasses set the class attributes, declare ``Params`` and implement
    process / process_file / fit / write for their kind."""

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    kind: ClassVar[str] = "map"  # one of KINDS
    Params: ClassVar[type] = NoParams
    reads: ClassVar[tuple[str, ...]] = ("text",)
    adds: ClassVar[tuple[str, ...]] = ()
    # Dask worker resources the stage prefers, e.g. {"GPU": 1}; the runner falls back to
    # plain workers (and the stage to CPU) when no worker in the cluster offers them.
    resources: ClassVar[dict[str, float]] = {}
    # True for stages whose output is identical for identical params (all built-ins);
    # the runner relies on it for byte-identical resumes.
    deterministic: ClassVar[bool] = True
    # source stages: file endings taken when an input is a folder (None: every file)
    input_suffixes: ClassVar[tuple[str, ...] | None] = None
    # False for a stage that never gives pandas objects to pyarrow: a run of only such stages
    # in this process skips pyarrow's pandas import (inline.without_pandas_probe)
    uses_pandas: ClassVar[bool] = True

    def __init__(self, **params: Any):
        self.cfg = parse(type(self).Params, params, type(self).versioned())
        self.params: dict[str, Any] = as_dict(self.cfg)
        self._ready = False

    @classmethod
    def versioned(cls) -> str:
        return f"{cls.name}@{cls.version}"

    @property
    def versioned_name(self) -> str:  # instance attributes: a wrapper (SourceScoped) names its inner stage
        return f"{self.name}@{self.version}"

    def setup(self, ctx: StepContext | None = None) -> None:
        """Build models / compile rules / load fitted state. Called once per worker and step
        before the first shard; `ctx` is None when a stage is used by hand."""

    def ensure_setup(self, ctx: StepContext | None = None) -> None:
        if not self._ready:
            self.setup(ctx)
            self._ready = True

    def process(self, table: pa.Table, ctx: ShardContext | None = None) -> StageOutput:  # map, corpus
        raise NotImplementedError

    def process_file(self, path: str, ctx: ShardContext | None = None) -> StageOutput:  # source
        raise NotImplementedError

    @classmethod
    def expand_input(cls, spec: dict) -> list[str]:
        """Source stages: the files a workflow input given as a mapping names (ingest expands
        `{crawl: CC-MAIN-2024-22, segments: [...]}`). Default: mappings are not inputs."""
        raise ValueError(f"{cls.versioned()} takes file paths as inputs, not mappings")

    def fit(self, ctx: FitContext) -> dict | None:  # corpus: write state to ctx.state_dir
        raise NotImplementedError

    def write(self, ctx: FitContext) -> dict | None:  # sink: write the product to ctx.out_dir
        raise NotImplementedError

    def provides(self) -> tuple[str, ...]:
        """Columns this stage makes available downstream (default: its `adds`)."""
        return tuple(self.adds)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.versioned_name}, {self.params})"


def split_by_reason(table: pa.Table, reason: pa.Array, stage: str, detail=None,
                    counters: dict[str, int] | None = None) -> StageOutput:
    """Keep rows whose `reason` is null; the others go to the drop log with that reason.

    This is how a filter drops: compute one reason per row (first rule that fires), then
    call this. `detail` is an optional aligned array of strings explaining each reason.
    """
    if isinstance(reason, pa.ChunkedArray):
        reason = reason.combine_chunks()
    dropped_mask = pc.is_valid(reason)
    kept = table.filter(pc.invert(dropped_mask))
    dropped = table.filter(dropped_mask)
    drops = drop_log(
        dropped, stage,
        reasons=reason.filter(dropped_mask),
        details=None if detail is None else pa.array(detail, pa.string()).filter(dropped_mask),
    ) if dropped.num_rows else empty_drops()
    return StageOutput(table=kept, drops=drops, counters=dict(counters or {}))


def reason_counts(drops: pa.Table) -> dict[str, int]:
    return dict(Counter(drops.column("reason").to_pylist())) if drops.num_rows else {}


def finish(stage: Stage, out: StageOutput) -> StageOutput:
    """Bring a stage's output table to the document schema (core columns, declared types)."""
    out.table = conform(out.table)
    return out
