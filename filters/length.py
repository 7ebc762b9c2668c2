"""`length_filter`: drop empty, too short and too long documents (columnar, Arrow compute).

One reason per rule, checked in this order: `empty`, `too_few_words`, `too_many_words`.
Words are whitespace-separated tokens, as in the Gopher rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from gristmill.pipeline.params import param
from gristmill.pipeline.stage import Stage, StageOutput, split_by_reason


def word_counts(text: pa.ChunkedArray | pa.Array) -> pa.Array:
    # Trimmed first: utf8_split_whitespace yields empty "words" for leading and trailing
    # whitespace, and (pyarrow 26.0.1) reads the byte after the array's last string, so an
    # untrimmed count could differ with the worker's memory (see filters/dedupe/shingles.py).
    trimmed = pc.utf8_trim_whitespace(text)
    counts = pc.list_value_length(pc.utf8_split_whitespace(trimmed))
    return pc.if_else(pc.equal(pc.utf8_length(trimmed), 0), 0, counts).fill_null(0)


class LengthFilter(Stage):
    """Drop empty, too short and too long documents."""

    name = "length_filter"
    reads = ("text",)

    @dataclass(frozen=True)
    class Params:
        min_words: int = param(50, "documents with fewer whitespace-separated words are dropped", ge=0)
        max_words: int = param(100_000, "documents with more words are dropped", ge=1)

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        min_words, max_words = self.cfg.min_words, self.cfg.max_words
        text = table.column("text")
        words = word_counts(text)
        empty = pc.equal(words, 0)  # word_counts is 0 exactly for null or all-whitespace text
        reason = pc.case_when(
            pc.make_struct(empty, pc.less(words, min_words), pc.greater(words, max_words)),
            pa.scalar("empty", pa.string()),
            pa.scalar("too_few_words", pa.string()),
            pa.scalar("too_many_words", pa.string()),
        )
        detail = pc.binary_join_element_wise(pa.scalar("words="), pc.cast(words, pa.string()), "")
        return split_by_reason(table, reason, self.versioned_name, detail=detail,
                               counters={"words_in": int(pc.sum(words).as_py() or 0)})
