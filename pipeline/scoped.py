"""A step that applies its stage to some sources only (`sources:` in a workflow step).

    - name: gopher_quality
      stage: gopher_quality@1
      sources: [web, pdf]        # rules made for web text; code, math, dialogue pass untouched

Rows of other sources pass through unchanged (and get nulls in any column the stage adds),
so one recipe can run web-only rules over a mixed corpus without splitting it.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from gristmill.pipeline.schema import conform
from gristmill.pipeline.stage import Stage, StageOutput


class SourceScoped(Stage):
    kind = "map"

    def __init__(self, inner: Stage, sources: list[str]):
        # the inner stage has checked its own params; this wrapper declares none of its own
        self.cfg, self.params, self._ready = inner.cfg, inner.params, False
        if inner.kind != "map":
            raise ValueError(f"`sources:` works on map stages only; {inner.versioned_name} is a {inner.kind} stage")
        self.inner = inner
        self.sources = [str(s) for s in sources]
        self.name = inner.name
        self.version = inner.version
        self.reads = tuple(dict.fromkeys(("source", *inner.reads)))
        self.adds = inner.adds
        self.resources = inner.resources

    def provides(self):
        return self.inner.provides()

    def setup(self, ctx=None) -> None:
        self.inner.ensure_setup(ctx)

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        mask = pc.fill_null(pc.is_in(table.column("source"), value_set=pa.array(self.sources, pa.string())), False)
        chosen, others = table.filter(mask), table.filter(pc.invert(mask))
        out = self.inner.process(chosen, ctx) if chosen.num_rows else StageOutput(chosen)
        kept = pa.concat_tables([conform(out.table), conform(others)], promote_options="permissive")
        counters = dict(out.counters)
        counters["rows_out_of_scope"] = others.num_rows
        return StageOutput(kept, out.drops, counters)
