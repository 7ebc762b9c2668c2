"""`filter_chain`: several filter stages applied in order inside one stage.

Used by `gristmill filter --rules a,b,c` so one `--out` folder holds the result of all
rules, while every drop still names the rule (stage) and reason that removed it.
"""

from __future__ import annotations

import pyarrow as pa

from gristmill.pipeline.registry import resolve
from gristmill.pipeline.schema import conform
from gristmill.pipeline.stage import Stage, StageOutput


class FilterChain(Stage):
    """Params: rules: list of {stage: NAME, params: {...}}."""

    name = "filter_chain"

    def __init__(self, **params):
        super().__init__(**params)
        rules = params.get("rules") or []
        if not rules:
            raise ValueError("filter_chain needs a non-empty `rules` list")
        self.stages = [resolve(r["stage"])(**(r.get("params") or {})) for r in rules]
        for s in self.stages:
            if s.kind != "map":
                raise ValueError(f"{s.versioned_name} is not a map stage")

    @property
    def reads(self):  # what the chain needs from upstream: reads not provided inside the chain
        needed, provided = [], set()
        for s in self.stages:
            needed += [c for c in s.reads if c not in provided and c not in needed]
            provided |= set(s.provides())
        return tuple(needed)

    def provides(self):
        return tuple(c for s in self.stages for c in s.provides())

    def setup(self):
        for s in self.stages:
            s.ensure_setup()

    def process(self, table: pa.Table) -> StageOutput:
        drops, counters = [], {}
        for s in self.stages:
            out = s.process(table)
            table = conform(out.table)
            drops.append(out.drops)
            for k, v in out.counters.items():
                counters[k] = counters.get(k, 0) + v
        return StageOutput(table, pa.concat_tables(drops), counters)
