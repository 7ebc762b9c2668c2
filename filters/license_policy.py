"""`license_policy`: apply a declared YAML policy to ingest's license and opt-out evidence.

A policy is an ordered list of rules; each rule has a `name`, an `action` (keep | drop) and
conditions that must all hold: `license`, `opt_out`, `source`, `domain`, each a list of
glob patterns (case-insensitive; `null` in the `license` list matches a missing license;
`opt_out` matches when any of the document's signals matches). The first matching rule
decides; `default` decides for documents no rule matches. A dropped document's reason is
the deciding rule's name and its detail shows the evidence. With `annotate: true`, every
document gets meta `license_policy` = all rules it matched, and each match is counted.

    - name: license
      stage: license_policy@1
      params: {policy: permissive-only}   # a preset, a path to a YAML file, or an inline dict

Presets (filters/policies/*.yaml): permissive-only, honour-opt-outs, everything-logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from typing import Any

import polars as pl
import pyarrow as pa
import yaml

from gristmill.pipeline.params import param
from gristmill.pipeline.stage import Stage, StageOutput, split_by_reason

CONDITIONS = ("license", "opt_out", "source", "domain")


def presets() -> list[str]:
    files = resources.files("gristmill.filters").joinpath("policies").iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".yaml"))


def load_policy(policy) -> dict:
    """A policy dict from a preset name, a YAML path or a dict; checked for shape."""
    if isinstance(policy, str):
        if os.path.exists(policy):
            text = open(policy, encoding="utf-8").read()
        elif policy in presets():
            text = resources.files("gristmill.filters").joinpath("policies", f"{policy}.yaml").read_text("utf-8")
        else:
            raise ValueError(f"license policy {policy!r} is neither a file nor a preset ({', '.join(presets())})")
        policy = yaml.safe_load(text)
    rules = list(policy.get("rules") or [])
    for r in rules + [policy.get("default") or {"name": "default", "action": "keep"}]:
        if r.get("action") not in ("keep", "drop") or not r.get("name"):
            raise ValueError(f"policy rule needs a name and action keep|drop: {r}")
        extra = set(r) - {"name", "action", *CONDITIONS}
        if extra:
            raise ValueError(f"policy rule {r['name']!r}: unknown keys {sorted(extra)}; conditions: {CONDITIONS}")
    return {**policy, "rules": rules, "default": policy.get("default") or {"name": "default", "action": "keep"}}


def glob_regex(patterns: list[str]) -> str:
    parts = []
    for p in patterns:
        out = []
        for ch in p:
            out.append({"*": ".*", "?": "."}.get(ch, ch if ch.isalnum() or ch in "[]-_ " else "\\" + ch))
        parts.append("".join(out))
    return "(?i)^(?:" + "|".join(parts) + ")$"


def condition(column: str, patterns: list) -> pl.Expr:
    globs = [p for p in patterns if p is not None]
    match = pl.lit(False)
    if globs:
        rx = glob_regex(globs)
        if column == "opt_out":
            match = pl.col(column).list.eval(pl.element().str.contains(rx)).list.any()
        else:
            match = pl.col(column).str.contains(rx)
    if None in patterns:
        match = match | pl.col(column).is_null()
    return match.fill_null(False)


class LicensePolicy(Stage):
    """Apply a declared license / opt-out policy to ingest's evidence."""

    name = "license_policy"
    # license / opt_out / license_evidence / domain are core columns, null where ingest found
    # nothing; user Parquet and plain-text readers may lack them, so none is required (a
    # missing one reads as null: `license_unknown`, no opt-out)
    reads = ("text",)

    @dataclass(frozen=True)
    class Params:
        policy: str | dict[str, Any] = param(
            "honour-opt-outs", f"a preset ({', '.join(presets())}), a YAML file or an inline policy mapping")

    def __init__(self, **params):
        super().__init__(**params)
        self.policy = load_policy(self.cfg.policy)  # a bad policy fails at load

    def setup(self, ctx=None):
        self.policy = load_policy(self.cfg.policy)

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        self.ensure_setup(ctx.step if ctx is not None else None)
        cols = {c: table.column(c) if c in table.column_names else pa.nulls(table.num_rows, t)
                for c, t in [("license", pa.string()), ("opt_out", pa.list_(pa.string())),
                             ("source", pa.string()), ("domain", pa.string()), ("license_evidence", pa.string())]}
        df = pl.from_arrow(pa.table(cols))
        matches = []
        for rule in self.policy["rules"]:
            conds = [condition(c, list(rule[c])) for c in CONDITIONS if c in rule]
            matches.append(pl.all_horizontal(conds) if conds else pl.lit(True))
        m = df.select([e.alias(f"m{i}") for i, e in enumerate(matches)]) if matches else pl.DataFrame()
        decision = pl.lit(self.policy["default"]["action"] == "drop")
        deciding = pl.lit(self.policy["default"]["name"])
        for i, rule in reversed(list(enumerate(self.policy["rules"]))):
            decision = pl.when(pl.col(f"m{i}")).then(pl.lit(rule["action"] == "drop")).otherwise(decision)
            deciding = pl.when(pl.col(f"m{i}")).then(pl.lit(rule["name"])).otherwise(deciding)
        out = pl.concat([df, m], how="horizontal").select(
            reason=pl.when(decision).then(deciding),
            detail=pl.format("license={} opt_out={} evidence={}", pl.col("license").fill_null("-"),
                             pl.col("opt_out").list.join(",").fill_null("-"),
                             pl.col("license_evidence").str.slice(0, 120).fill_null("-")),
            matched=pl.concat_str([pl.when(pl.col(f"m{i}")).then(pl.lit(r["name"]))
                                   for i, r in enumerate(self.policy["rules"])], separator=",", ignore_nulls=True)
            if matches else pl.lit(""))
        counters = {f"policy_{r['name']}": int(m[f"m{i}"].sum()) for i, r in enumerate(self.policy["rules"])}
        if self.policy.get("annotate"):
            table = _set_meta(table, "license_policy", out["matched"].fill_null(""))
        return split_by_reason(table, out["reason"].to_arrow(), self.versioned_name,
                               detail=out["detail"].to_arrow(), counters=counters)


def _set_meta(table: pa.Table, key: str, values: pl.Series) -> pa.Table:
    """Add `key` -> values[i] to each row's `meta` map (replacing an earlier `key`), column-wise."""
    import numpy as np
    import pyarrow.compute as pc

    n = table.num_rows
    meta_type = pa.map_(pa.string(), pa.string())
    old = table.column("meta").combine_chunks() if "meta" in table.column_names else pa.nulls(n, meta_type)
    as_list = old.cast(pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())])))
    entries = as_list.flatten()  # struct<key, value> of every map, in row order (slice-aware)
    parents = as_list.value_parent_indices().to_numpy()
    keep = pc.not_equal(entries.field(0), key).fill_null(True)
    keys = pa.concat_arrays([entries.field(0).filter(keep), pa.array([key] * n, pa.string())])
    items = pa.concat_arrays([entries.field(1).filter(keep), values.to_arrow().cast(pa.string())])
    rows = np.concatenate([parents[keep.to_numpy(zero_copy_only=False)], np.arange(n)])
    order = np.argsort(rows, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))]).astype(np.int32)
    arr = pa.MapArray.from_arrays(pa.array(offsets), keys.take(order), items.take(order))
    if "meta" in table.column_names:
        return table.set_column(table.column_names.index("meta"), "meta", arr)
    return table.append_column("meta", arr)
