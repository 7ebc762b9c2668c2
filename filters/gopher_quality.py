"""`gopher_quality`: the Gopher quality rules (Rae et al. 2021, table A1), column-wise.

One reason per rule, checked in datatrove's order: `gopher_short_doc`, `gopher_long_doc`
(non-symbol words), `gopher_short_words`, `gopher_long_words` (mean non-symbol word
length), `gopher_hashes`, `gopher_ellipsis` (per word), `gopher_bullet_lines`,
`gopher_ellipsis_lines`, `gopher_non_alpha_words`, `gopher_few_stop_words`.
Thresholds are params with datatrove's defaults; `None` switches a rule off.
Words are spaCy-like tokens (see text_columns); a symbol word has only punctuation.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from gristmill.filters import text_columns as tc
from gristmill.pipeline.params import param
from gristmill.pipeline.stage import StageOutput, split_by_reason

STOP_WORDS = ["the", "be", "to", "of", "and", "that", "have", "with"]


def gopher_quality_stats(texts: pl.Series, stop_words) -> pl.DataFrame:
    """Per-document counts the rules need, one row per document in input order."""
    w = tc.exploded_words(texts).with_columns(
        symbol=pl.col("word").str.contains(f"^{tc.PUNCT_CLASS}+$"),
        alpha=pl.col("word").str.contains(r"\p{L}"))
    agg = w.group_by("doc").agg(
        n_words=pl.len(),
        n_nonsym=(~pl.col("symbol")).sum(),
        nonsym_chars=pl.col("len").filter(~pl.col("symbol")).sum(),
        n_alpha=pl.col("alpha").sum(),
        n_stop=pl.col("word").filter(pl.col("word").is_in(list(stop_words))).n_unique())
    per = tc.per_doc(agg, len(texts), {"n_words": 0, "n_nonsym": 0, "nonsym_chars": 0, "n_alpha": 0, "n_stop": 0})
    lines = texts.str.replace_all(tc.LINE_BREAKS, "\n")
    text_stats = pl.DataFrame({"t": texts, "l": lines}).select(
        n_hash=pl.col("t").str.count_matches("#", literal=True),
        n_ellipsis=pl.col("t").str.count_matches(r"\.\.\.|…"),
        # splitlines(): one line per "\n", plus the last one unless the text ends with "\n"
        n_lines=pl.col("l").str.count_matches("\n", literal=True)
        + (~pl.col("l").str.ends_with("\n")).cast(pl.UInt32) * (pl.col("l").str.len_chars() > 0).cast(pl.UInt32),
        n_bullet=pl.col("l").str.count_matches(rf"(?m)^{tc.WS}*[•\-]"),
        n_end_ellipsis=pl.col("l").str.count_matches(rf"(?m)(?:\.\.\.|…){tc.WS}*$"))
    return pl.concat([per, text_stats], how="horizontal")


class GopherQualityFilter(tc.WordRuleStage):
    """The Gopher quality rules (datatrove's GopherQualityFilter), column-wise."""

    name = "gopher_quality"

    # datatrove's names and defaults (`min_alpha_words_ratio` is its `max_non_alpha_words_ratio`);
    # a null threshold switches its rule off
    @dataclass(frozen=True)
    class Params:
        min_doc_words: int | None = param(50, "fewer non-symbol words: gopher_short_doc")
        max_doc_words: int | None = param(100_000, "more non-symbol words: gopher_long_doc")
        min_avg_word_length: float | None = param(3, "lower mean non-symbol word length: gopher_short_words")
        max_avg_word_length: float | None = param(10, "higher mean non-symbol word length: gopher_long_words")
        max_symbol_word_ratio: float | None = param(
            0.1, "more '#' or ellipses per word: gopher_hashes / gopher_ellipsis")
        max_bullet_lines_ratio: float | None = param(0.9, "larger share of lines starting with a bullet")
        max_ellipsis_lines_ratio: float | None = param(0.3, "larger share of lines ending in an ellipsis")
        min_alpha_words_ratio: float | None = param(0.8, "smaller share of words with a letter")
        min_stop_words: int | None = param(2, "fewer distinct stop words: gopher_few_stop_words")
        stop_words: list[str] = param(STOP_WORDS, "the stop words counted by min_stop_words")

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        s = gopher_quality_stats(tc.text_series(table), self.cfg.stop_words)
        words, nonsym = pl.col("n_words"), pl.col("n_nonsym")
        avg_len = pl.col("nonsym_chars") / nonsym
        lines = pl.col("n_lines")

        def rule(key, make):  # a None threshold switches the rule off
            value = getattr(self.cfg, key)
            return make(value) if value is not None else pl.lit(False)

        checks = [
            ("gopher_short_doc", rule("min_doc_words", lambda v: nonsym < v)),
            ("gopher_long_doc", rule("max_doc_words", lambda v: nonsym > v)),
            ("gopher_short_words", rule("min_avg_word_length", lambda v: avg_len < v)),
            ("gopher_long_words", rule("max_avg_word_length", lambda v: avg_len > v)),
            ("gopher_hashes", rule("max_symbol_word_ratio", lambda v: pl.col("n_hash") / words > v)),
            ("gopher_ellipsis", rule("max_symbol_word_ratio", lambda v: pl.col("n_ellipsis") / words > v)),
            ("gopher_bullet_lines", rule("max_bullet_lines_ratio", lambda v: pl.col("n_bullet") / lines > v)),
            ("gopher_ellipsis_lines",
             rule("max_ellipsis_lines_ratio", lambda v: pl.col("n_end_ellipsis") / lines > v)),
            ("gopher_non_alpha_words", rule("min_alpha_words_ratio", lambda v: pl.col("n_alpha") / words < v)),
            ("gopher_few_stop_words", rule("min_stop_words", lambda v: pl.col("n_stop") < v)),
        ]
        out = s.select(
            reason=tc.first_reason(checks),
            detail=pl.format("words={} avg_len={} stop_words={}", nonsym, avg_len.round(2), pl.col("n_stop")))
        return split_by_reason(table, out["reason"].to_arrow(), self.versioned_name,
                               detail=out["detail"].to_arrow(),
                               counters={"words_in": int(s["n_words"].sum())})
