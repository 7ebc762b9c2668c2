""" every reason code, whitespace at the edges, in = out + dropped."""

import pyarrow as pa

from gristmill.filters.length import LengthFilter, word_counts


def test_word_counts_ignore_edge_whitespace():
    text = pa.array(["  a b  ", "a b", "\nx\n", "", None, "a\u00a0b \t c"])
    assert word_counts(text).to_pylist() == [2, 2, 1, 0, 0, 3]


def test_word_counts_same_for_a_document_alone_or_last_in_a_batch():
    docs = ["one two three ", "four five\n\n", "six  "]
    alone = [word_counts(pa.array([d])).to_pylist()[0] for d in docs]
    assert word_counts(pa.array(docs)).to_pylist() == alone == [3, 2, 1]


def test_every_reason_and_no_document_lost():
    table = pa.table({"id": ["e", "short", "ok", "long"],
                      "text": ["   \n", "two words", "one two three four", "w " * 9]})
    out = LengthFilter(min_words=3, max_words=8).process(table)
    assert out.table.column("id").to_pylist() == ["ok"]
    reasons = dict(zip(out.drops.column("id").to_pylist(), out.drops.column("reason").to_pylist()))
    assert reasons == {"e": "empty", "short": "too_few_words",
                       "long": "too_many_words"}
    assert out.table.num_rows + out.drops.num_rows == table.num_rows
