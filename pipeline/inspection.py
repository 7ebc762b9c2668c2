"""`gristmill inspect DIR`: what is in a stage output folder (or a whole workdir)."""

from __future__ import annotations

import json
import os

import polars as pl

from gristmill.pipeline.layout import DROPPED_DIR, RUN_SUMMARY, STATS, list_parts


def _step_dirs(workdir: str) -> list[str]:
    summary = os.path.join(workdir, RUN_SUMMARY)
    if os.path.exists(summary):
        with open(summary) as f:
            names = json.load(f)["order"]
        return [os.path.join(workdir, n) for n in names if list_parts(os.path.join(workdir, n))]
    return sorted(os.path.join(workdir, d) for d in os.listdir(workdir)
                  if list_parts(os.path.join(workdir, d)))


def inspect(path: str, rows: int = 3) -> str:
    if not os.path.isdir(path):
        raise FileNotFoundError(f"not a folder: {path}")
    if list_parts(path):
        return inspect_stage(path, rows)
    steps = _step_dirs(path)
    if not steps:
        raise FileNotFoundError(f"{path} holds no part-*.parquet and no step folders")
    lines = [f"workdir {path}: {len(steps)} steps"]
    for d in steps:
        n = pl.scan_parquet(list_parts(d)).select(pl.len()).collect().item()
        lines.append(f"  {os.path.basename(d):20s} {n:>10,} documents")
    lines.append("")
    lines.append(inspect_stage(steps[-1], rows))
    return "\n".join(lines)


def inspect_stage(folder: str, rows: int = 3) -> str:
    parts = list_parts(folder)
    lf = pl.scan_parquet(parts)
    schema = lf.collect_schema()
    df = lf.collect()
    out = [f"{folder}: {df.height:,} documents in {len(parts)} shards"]
    out.append("columns (non-null / total):")
    for name, dtype in schema.items():
        out.append(f"  {name:22s} {str(dtype):28s} {df.height - df[name].null_count():>9,}")
    if "source" in schema and df.height:
        counts = df.group_by("source").agg(pl.len().alias("docs"),
                                           pl.col("text").str.len_chars().sum().alias("chars")).sort("docs", descending=True)
        out.append("per source:")
        for src, docs, chars in counts.iter_rows():
            out.append(f"  {str(src):22s} {docs:>9,} docs {chars:>14,} chars")
    dropped = list_parts(os.path.join(folder, DROPPED_DIR))
    if dropped:
        d = pl.scan_parquet(dropped).group_by("reason").agg(pl.len().alias("n")).sort("n", descending=True).collect()
        if d.height:
            out.append("dropped here, by reason:")
            for reason, n in d.iter_rows():
                out.append(f"  {reason:30s} {n:>9,}")
    stats_path = os.path.join(folder, STATS)
    if os.path.exists(stats_path):
        with open(stats_path) as f:
            s = json.load(f)
        out.append(f"stats.json: stage {s.get('stage')} in={s['docs_in']:,} out={s['docs_out']:,} "
                   f"dropped={s['docs_dropped']:,} ({s['seconds']}s CPU)")
    if rows and df.height:
        out.append(f"sample rows ({min(rows, df.height)}):")
        for r in df.head(rows).iter_rows(named=True):
            text = (r["text"] or "")[:160].replace("\n", " ")
            out.append(f"  [{r['id']}] source={r.get('source')} license={r.get('license')} url={r.get('url')}")
            out.append(f"    {text!r}")
    return "\n".join(out)
