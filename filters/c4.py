"""`c4_quality`: the C4 rules (Raffel et al. 2020; datatrove's C4QualityFilter), column-wise.

Line rules remove lines (counted in counters, text rewritten from the kept lines): a word
over `max_word_length` characters, no terminal punctuation (or ending in "..."), fewer than
`min_words_per_line` words, "javascript", policy/cookie phrases; Wikipedia-style
citations ([1], [edit]) are removed first. Document rules, one reason each:
`c4_lorem_ipsum` and `c4_curly_bracket` (on a line that survived the line rules above
them, as in datatrove), `c4_too_few_sentences` (sentences in the kept lines).

Sentences: datatrove counts them with spaCy's sentencizer; here a sentence ends at ".",
"!" or "?" (not part of "...", not an abbreviation) followed by optional closing marks,
whitespace and a word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from gristmill.filters import text_columns as tc
from gristmill.pipeline.params import param
from gristmill.pipeline.stage import StageOutput, split_by_reason

POLICY = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"]
CITATION = r"\[\d*\]|\[edit\]|\[citation needed\]"
SENTENCE_BREAK = r"(?:^|[^.])(?:[!?]+\.?|\.[!?]*)[\"'”’)\]]*\s+[\"'“‘(\[]*\w"


def abbreviation_breaks() -> str:
    alts = "|".join(re.escape(a) for a in tc.abbreviations())
    return rf"(?-u:\b)(?:{alts}|\p{{Lu}}\.)\s+\w"


class C4QualityFilter(tc.WordRuleStage):
    """The C4 line and document rules (datatrove's C4QualityFilter), column-wise."""

    name = "c4_quality"

    # datatrove's names and defaults; -1 or false turns a rule off
    @dataclass(frozen=True)
    class Params:
        remove_citations: bool = param(True, "remove Wikipedia-style citations ([1], [edit]) first")
        filter_no_terminal_punct: bool = param(True, "remove lines without terminal punctuation (or ending in ...)")
        min_num_sentences: int = param(5, "fewer sentences in the kept lines: c4_too_few_sentences (-1: off)")
        min_words_per_line: int = param(3, "remove lines with fewer words")
        max_word_length: int = param(1000, "remove lines with a longer word (-1: off)")
        filter_lorem_ipsum: bool = param(True, "a kept line with 'lorem ipsum': c4_lorem_ipsum")
        filter_javascript: bool = param(True, "remove lines mentioning javascript")
        filter_curly_bracket: bool = param(True, "a kept line with '{': c4_curly_bracket")
        filter_policy: bool = param(True, "remove lines with policy/cookie phrases")

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        p = self.cfg
        texts = tc.text_series(table)
        line = pl.col("line")
        lines = (pl.DataFrame({"t": texts.str.replace_all(tc.LINE_BREAKS, "\n")}).with_row_index("doc")
                 .select("doc", line=pl.col("t").str.split("\n"))
                 .explode("line", keep_nulls=False, empty_as_null=False)
                 .with_columns(line=line.str.strip_chars())
                 .with_columns(n_words=line.str.count_matches(r"\S+"),
                               long_word=line.str.contains(rf"\S{{{p.max_word_length + 1}}}")
                               if p.max_word_length != -1 else pl.lit(False)))
        if p.remove_citations:
            lines = lines.with_columns(line=line.str.replace_all(CITATION, ""))
        low = line.str.to_lowercase()
        ok = ~pl.col("long_word")
        if p.filter_no_terminal_punct:
            ok = ok & line.str.contains(r"[.?!\"']$") & ~line.str.ends_with("...")
        ok = ok & (pl.col("n_words") >= p.min_words_per_line)
        lorem = ok & low.str.contains("lorem ipsum", literal=True) if p.filter_lorem_ipsum else pl.lit(False)
        ok = ok & ~lorem
        js = low.str.contains("javascript", literal=True) if p.filter_javascript else pl.lit(False)
        curly = ok & ~js & line.str.contains("{", literal=True) if p.filter_curly_bracket else pl.lit(False)
        policy = low.str.contains_any(POLICY) if p.filter_policy else pl.lit(False)
        kept = ok & ~js & ~policy
        breaks = line.str.count_matches(SENTENCE_BREAK) - line.str.count_matches(abbreviation_breaks())
        lines = lines.with_columns(kept=kept, doc_rule=pl.when(lorem).then(pl.lit("c4_lorem_ipsum"))
                                   .when(curly).then(pl.lit("c4_curly_bracket")),
                                   sentences=pl.when(kept).then(1 + breaks.clip(0)).otherwise(0))
        agg = lines.group_by("doc", maintain_order=True).agg(
            doc_rule=pl.col("doc_rule").drop_nulls().first(),  # the first line that ends the document
            sentences=pl.col("sentences").sum(),
            new_text=line.filter(pl.col("kept")).str.join("\n").str.strip_chars(),
            lines_removed=(~pl.col("kept")).sum())
        s = tc.per_doc(agg, len(texts), {"sentences": 0, "new_text": "", "lines_removed": 0})
        too_few = pl.col("sentences") < p.min_num_sentences if p.min_num_sentences != -1 else pl.lit(False)
        out = s.select(reason=pl.coalesce(pl.col("doc_rule"), pl.when(too_few).then(pl.lit("c4_too_few_sentences"))),
                       detail=pl.format("sentences={}", pl.col("sentences")), new_text="new_text")
        table = table.set_column(table.column_names.index("text"), "text",
                                 out["new_text"].to_arrow().cast(table.schema.field("text").type))
        return split_by_reason(table, out["reason"].to_arrow(), self.versioned_name, detail=out["detail"].to_arrow(),
                               counters={"c4_lines_removed": int(s["lines_removed"].sum())})
