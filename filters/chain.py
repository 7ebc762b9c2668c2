"""`filter_chain`: several filter stages applied in order inside one stage.

Used by `gristmill filter --rules a,b,c` so one `--out` folder holds the result of all
rules, while every drop still names the rule (stage) and reason that removed it. Inner
stages are built through the registry when the chain is built, so a bad rule (an unknown
stage, an unknown or ill-typed parameter) fails when the workflow is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from gristmill.pipeline.params import REQUIRED, ParamError, param
from gristmill.pipeline.registry import UnknownStage, resolve
from gristmill.pipeline.schema import conform
from gristmill.pipeline.stage import Stage, StageOutput

RULE_KEYS = ("stage", "params")


class FilterChain(Stage):
    """Several map stages applied in order as one step; every drop names its rule."""

    name = "filter_chain"

    @dataclass(frozen=True)
    class Params:
        rules: list[dict[str, Any]] | None = param(
            REQUIRED, "the rules, in order: a list of {stage: NAME, params: {...}} (map stages only)")

    def __init__(self, **params):
        super().__init__(**params)
        rules = self.cfg.rules or []
        if not rules:
            raise ValueError("filter_chain needs a non-empty `rules` list")
        self.stages = [self._build(i, r) for i, r in enumerate(rules)]

    @staticmethod
    def _build(i: int, rule: dict) -> Stage:
        extra = [k for k in rule if k not in RULE_KEYS]
        if extra or "stage" not in rule:
            raise ValueError(f"filter_chain rule {i}: a rule is {{stage: NAME, params: {{...}}}}, got {rule!r}")
        inner = rule.get("params") or {}
        if not isinstance(inner, dict):
            raise ValueError(f"filter_chain rule {i} ({rule['stage']}): `params` must be a mapping")
        try:
            cls = resolve(str(rule["stage"]))
        except UnknownStage as e:
            raise ValueError(f"filter_chain rule {i}: {e}") from e
        try:
            stage = cls(**inner)
        except ParamError as e:
            raise ParamError(f"filter_chain rule {i}: {e}") from e
        if stage.kind != "map":
            raise ValueError(f"filter_chain rule {i}: {stage.versioned_name} is not a map stage")
        return stage

    @property
    def reads(self):  # what the chain needs from upstream: reads not provided inside the chain
        needed, provided = [], set()
        for s in self.stages:
            needed += [c for c in s.reads if c not in provided and c not in needed]
            provided |= set(s.provides())
        return tuple(needed)

    def provides(self):
        return tuple(c for s in self.stages for c in s.provides())

    def setup(self, ctx=None):
        for s in self.stages:
            s.ensure_setup(ctx)

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        self.ensure_setup(ctx.step if ctx is not None else None)
        drops, counters = [], {}
        for s in self.stages:
            out = s.process(table, ctx)
            table = conform(out.table)
            drops.append(out.drops)
            for k, v in out.counters.items():
                counters[k] = counters.get(k, 0) + v
        return StageOutput(table, pa.concat_tables(drops), counters)
