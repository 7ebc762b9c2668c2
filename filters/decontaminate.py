"""`decontaminate`: flag or drop documents that share long word n-grams with evaluation sets.

The user names the evaluation files (`eval_files`): JSONL (optionally .gz; each record's
string fields, or only `fields`, joined), or plain text (each blank-line separated block is
one example). Both sides are lower-cased and split into `\\w+` words; every n-gram (13 by
default, as in GPT-3's decontamination) of every example is hashed once per worker in
`setup()`. Per shard, document n-grams are hashed column-wise and looked up in that set.
`score_contamination` is the share of a document's n-grams found in any evaluation set;
with action `drop` (default) a document with at least `min_matches` shared n-grams is
dropped as `eval_contamination`, the detail naming the evaluation set(s).
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from gristmill.filters import text_columns as tc
from gristmill.pipeline.params import REQUIRED, param
from gristmill.pipeline.stage import Stage, StageOutput, split_by_reason

WORD = r"\w+"


def read_examples(path: str, fields=None) -> list[str]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        text = f.read()
    if ".jsonl" in os.path.basename(path) or ".json" in os.path.basename(path):
        out = []
        for line in filter(None, (ln.strip() for ln in text.splitlines())):
            rec = json.loads(line)
            vals = [rec.get(k) for k in fields] if fields else list(rec.values())
            out.append("\n".join(v for v in vals if isinstance(v, str)))
        return out
    return [b for b in text.split("\n\n") if b.strip()]


def ngram_hashes(texts: pl.Series, n: int) -> pl.DataFrame:
    """doc, g: one row per word n-gram of each text (lower-cased \\w+ words)."""
    w = (pl.DataFrame({"t": texts}).with_row_index("doc")
         .select("doc", w=pl.col("t").str.to_lowercase().str.extract_all(WORD))
         .explode("w", keep_nulls=False, empty_as_null=False)
         .with_columns(pos=pl.int_range(pl.len()).over("doc"), n_words=pl.len().over("doc"), h=pl.col("w").hash()))
    return w.with_columns(g=tc.ngram_hash(pl.col("h"), n)).filter(pl.col("pos") <= pl.col("n_words") - n).select("doc", "g")


class Decontaminate(Stage):
    """Flag or drop documents sharing long word n-grams with evaluation sets."""

    name = "decontaminate"
    reads = ("text",)
    adds = ("score_contamination",)

    @dataclass(frozen=True)
    class Params:
        eval_files: list[str] | str | None = param(
            REQUIRED, "the evaluation sets to protect: JSONL (optionally .gz) or text files")
        n: int = param(13, "words per n-gram", ge=1)
        fields: list[str] | None = param(None, "JSONL keys whose strings make an example (default: every string)")
        action: str = param("drop", "what happens to a contaminated document", choices=("drop", "flag"))
        min_matches: int = param(1, "shared n-grams that make a document contaminated", ge=1)

    def __init__(self, **params):
        super().__init__(**params)
        files = self.cfg.eval_files or []
        self.eval_files = [files] if isinstance(files, str) else list(files)
        if not self.eval_files:
            raise ValueError("decontaminate needs eval_files: the evaluation sets to protect")
        # fail when the workflow is loaded, not on a worker an hour later
        missing = [f for f in self.eval_files if "://" not in f and not os.path.exists(f)]
        if missing:
            raise FileNotFoundError(f"decontaminate: evaluation file(s) not found: {missing} (relative to {os.getcwd()})")

    def setup(self, ctx=None):
        self.n = self.cfg.n
        frames = []
        for path in self.eval_files:
            examples = read_examples(path, self.cfg.fields)
            name = os.path.basename(path).split(".")[0]
            if os.path.basename(os.path.dirname(path)):  # e.g. gsm8k_qa/test.jsonl -> gsm8k_qa/test
                name = f"{os.path.basename(os.path.dirname(path))}/{name}"
            frames.append(ngram_hashes(pl.Series(examples, dtype=pl.String), self.n)
                          .select("g", eval_set=pl.lit(name)))
        self.eval_ngrams = pl.concat(frames).unique("g", keep="first", maintain_order=True)

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        self.ensure_setup(ctx.step if ctx is not None else None)
        texts = tc.text_series(table)
        grams = ngram_hashes(texts, self.n)
        hits = grams.join(self.eval_ngrams, on="g", how="inner")
        per = tc.per_doc(
            grams.group_by("doc").agg(total=pl.len())
            .join(hits.group_by("doc").agg(hits=pl.len(), sets=pl.col("eval_set").unique().sort().str.join(",")),
                  on="doc", how="left"),
            len(texts), {"total": 0, "hits": 0, "sets": ""})
        score = (per["hits"] / per["total"].clip(1)).cast(pl.Float32)
        table = table.drop_columns([c for c in ["score_contamination"] if c in table.column_names])
        table = table.append_column("score_contamination", score.to_arrow())
        drop = self.cfg.action == "drop"
        min_matches = self.cfg.min_matches
        out = per.select(
            reason=pl.when(pl.lit(drop) & (pl.col("hits") >= min_matches)).then(pl.lit("eval_contamination")),
            detail=pl.format("{} shared {}-grams with {}", pl.col("hits"), pl.lit(self.n), pl.col("sets")))
        return split_by_reason(table, out["reason"].to_arrow(), self.versioned_name, detail=out["detail"].to_arrow(),
                               counters={"docs_contaminated": int((per["hits"] >= min_matches).sum())})
