"""`fineweb_quality`: the FineWeb quality rules (Penedo et al. 2024), column-wise.

Over the non-blank lines of a document (split on "\\n"), one reason per rule in
datatrove's order: `fineweb_empty`, `fineweb_line_punct_ratio` (too few lines end in
terminal punctuation), `fineweb_short_line_ratio` (too many lines of <= 30 characters),
`fineweb_char_dup_ratio` (characters in repeated lines / characters without newlines),
`fineweb_list_ratio` (newlines per word). Thresholds are params with datatrove's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from gristmill.filters import text_columns as tc
from gristmill.pipeline.params import param
from gristmill.pipeline.stage import StageOutput, split_by_reason


class FineWebQualityFilter(tc.WordRuleStage):
    """The FineWeb line rules (datatrove's FineWebQualityFilter), column-wise."""

    name = "fineweb_quality"

    # datatrove's names and defaults
    @dataclass(frozen=True)
    class Params:
        line_punct_thr: float = param(0.12, "smaller share of lines ending in terminal punctuation: "
                                      "fineweb_line_punct_ratio")
        line_punct_exclude_zero: bool = param(False, "do not drop documents with no such line at all")
        short_line_thr: float = param(0.67, "larger share of short lines: fineweb_short_line_ratio")
        short_line_length: int = param(30, "a line of at most this many characters is short")
        char_duplicates_ratio: float = param(0.01, "larger share of characters in repeated lines: "
                                             "fineweb_char_dup_ratio")
        new_line_ratio: float = param(0.3, "more newlines per word: fineweb_list_ratio")
        stop_chars: str | None = param(None, "characters that end a line (default: datatrove's terminal punctuation)")

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        p = self.cfg
        stop = tc.char_class(p.stop_chars) if p.stop_chars else tc.TERMINAL_CLASS
        texts = tc.text_series(table)
        lines = (pl.DataFrame({"t": texts}).with_row_index("doc")
                 .select("doc", line=pl.col("t").str.extract_all(r"[^\n]+"))
                 .explode("line", keep_nulls=False, empty_as_null=False)
                 .filter(pl.col("line").str.strip_chars() != ""))
        agg = lines.group_by("doc").agg(
            n=pl.len(),
            punct=pl.col("line").str.contains(f"{stop}$").sum(),
            short=(pl.col("line").str.len_chars() <= p.short_line_length).sum(),
            dup_chars=pl.col("line").str.len_chars().filter(~pl.col("line").is_first_distinct()).sum())
        s = pl.concat([
            tc.per_doc(agg, len(texts), {"n": 0, "punct": 0, "short": 0, "dup_chars": 0}),
            pl.DataFrame({"t": texts}).select(
                chars=pl.col("t").str.len_chars() - pl.col("t").str.count_matches("\n", literal=True),
                newlines=pl.col("t").str.count_matches("\n", literal=True),
                n_words=tc.words(pl.col("t")).list.len())], how="horizontal")
        n = pl.col("n")
        punct = pl.col("punct") / n
        punct_low = punct < p.line_punct_thr
        if p.line_punct_exclude_zero:
            punct_low = punct_low & (punct > 0)
        checks = [
            ("fineweb_empty", n == 0),
            ("fineweb_line_punct_ratio", punct_low),
            ("fineweb_short_line_ratio", pl.col("short") / n > p.short_line_thr),
            ("fineweb_char_dup_ratio", pl.col("dup_chars") / pl.col("chars") > p.char_duplicates_ratio),
            ("fineweb_list_ratio", pl.col("newlines") / pl.col("n_words") > p.new_line_ratio),
        ]
        out = s.select(reason=tc.first_reason(checks),
                       detail=pl.format("lines={} punct_lines={} short_lines={} dup_chars={}",
                                        n, pl.col("punct"), pl.col("short"), pl.col("dup_chars")))
        return split_by_reason(table, out["reason"].to_arrow(), self.versioned_name, detail=out["detail"].to_arrow())
