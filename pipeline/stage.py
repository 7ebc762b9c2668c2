"""The stage contract: Arrow table in, Arrow table + drop log + counters out.

A stage never touches Dask. Two kinds exist:

* ``map`` stages transform one shard of documents: ``process(table) -> StageOutput``.
* ``corpus`` stages need the whole corpus first (dedupe, classifier or topic fitting):
  the runner waits for every upstream shard, calls ``fit(ctx)`` once (which may fan out
  over the cluster through ``ctx.map``) to write state into ``self.state_dir``, then runs
  ``process(table)`` per shard like a map stage, with that state loaded in ``setup()``.
* ``source`` stages turn one input file (a WARC, a JSONL, a PDF list...) into documents:
  ``process_file(path) -> StageOutput``; every record read counts in ``docs_in``.

A stage declares the columns it ``reads`` and the columns it ``adds``; the workflow
loader checks these before any work starts. Heavy models are built in ``setup()``,
which the runner calls once per worker process, not once per shard.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from gristmill.pipeline.schema import conform, drop_log, empty_drops


@dataclass
class StageOutput:
    table: pa.Table
    drops: pa.Table = field(default_factory=empty_drops)
    counters: dict[str, int] = field(default_factory=dict)
    # source stages: records read from the file (kept + dropped); map stages leave it None
    records_in: int | None = None


class Stage:
    """Base class. Subclasses set the class attributes and implement process/process_file."""

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    kind: ClassVar[str] = "map"  # "map", "corpus" or "source"
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

    def __init__(self, **params: Any):
        self.params = params
        self._ready = False
        self.state_dir: str | None = None  # corpus stages: set by the runner before fit()

    @property
    def versioned_name(self) -> str:
        return f"{self.name}@{self.version}"

    def setup(self) -> None:
        """Build models / compile rules. Called once per worker before the first shard."""

    def ensure_setup(self) -> None:
        if not self._ready:
            self.setup()
            self._ready = True

    def process(self, table: pa.Table) -> StageOutput:  # map stages
        raise NotImplementedError

    def process_shard(self, table: pa.Table, shard_index: int) -> StageOutput:
        """What the runner calls per shard: `process(table)`, unless a stage needs to know
        which shard it is on (a corpus stage whose state is partitioned by shard)."""
        return self.process(table)

    def process_file(self, path: str) -> StageOutput:  # source stages
        raise NotImplementedError

    def process_source(self, path: str, job) -> StageOutput:
        """Source stages: `process_file` with the shard job (its `index` and `out_dir`), for
        stages that write side outputs by shard (ingest's PDF queue). Default: ignore it."""
        return self.process_file(path)

    def fit(self, ctx) -> dict | None:  # corpus stages: write state to self.state_dir
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
