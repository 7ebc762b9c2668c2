"""Every reason code of the Gopher, C4 and FineWeb rules on tiny inline documents."""

import pyarrow as pa
import pytest

from gristmill.filters.c4 import C4QualityFilter
from gristmill.filters.fineweb import FineWebQualityFilter
from gristmill.filters.gopher_quality import GopherQualityFilter
from gristmill.filters.gopher_repetition import GopherRepetitionFilter
from gristmill.pipeline import registry

SENTENCE = "The old miller walked to the river with his dog and they sat there for a while. "
GOOD = SENTENCE * 3 + "Then he went home, ate some bread and slept until the sun came up again. " * 2
# no repeated lines or n-grams
PROSE = ("The old miller walked to the river with his dog.\nThey sat there for a while and watched boats.\n"
         "Then he went home, ate some bread and slept until the sun came up again.\n"
         "In the morning the mill wheel turned slowly while birds sang in the trees.")


def docs(*texts):
    return pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": pa.array(texts, pa.large_string())})


def reasons(stage, *texts):
    out = stage.process(docs(*texts))
    assert out.table.num_rows + out.drops.num_rows == len(texts)
    by_id = dict(zip(out.drops.column("id").to_pylist(), out.drops.column("reason").to_pylist()))
    return [by_id.get(f"d{i}") for i in range(len(texts))]


def unique_words(n, length=6):
    import itertools
    letters = "bcdfghjklmnpqrstvwxz"
    return [("".join(p) + "a" * length)[:length] for p in itertools.islice(itertools.product(letters, repeat=3), n)]


@pytest.mark.parametrize("text,params,expected", [
    (GOOD, {}, None),
    ("the cat and the dog", {}, "gopher_short_doc"),
    (GOOD, {"max_doc_words": 20}, "gopher_long_doc"),
    ("to be or of it is a an so the and to be " * 6, {}, "gopher_short_words"),
    ("the and of " + " ".join(["internationalization"] * 60), {}, "gopher_long_words"),
    (GOOD + " #x" * 15, {}, "gopher_hashes"),
    (GOOD + " ..." * 15, {}, "gopher_ellipsis"),
    ("\n".join("- " + SENTENCE for _ in range(5)), {}, "gopher_bullet_lines"),
    ("\n".join(SENTENCE + "and so on ..." for _ in range(5)), {}, "gopher_ellipsis_lines"),
    (GOOD + " 1234" * 40, {}, "gopher_non_alpha_words"),
    (" ".join(unique_words(60)), {}, "gopher_few_stop_words"),
    (" ".join(unique_words(60)), {"min_stop_words": None}, None),
])
def test_gopher_quality_reasons(text, params, expected):
    assert reasons(GopherQualityFilter(**params), text) == [expected]


LONG = " ".join(unique_words(80, 7)) + " the end."


@pytest.mark.parametrize("text,params,expected", [
    (PROSE, {}, None),
    ("", {}, "gopher_rep_empty"),
    ("Alpha para.\n\nAlpha para.\n\nAlpha para.\n\nBeta para.", {}, "gopher_dup_para_frac"),
    (LONG + "\n\n" + LONG + "\n\n" + " ".join(unique_words(200, 5)[100:]) + "\n\nx\n\ny", {}, "gopher_dup_para_char_frac"),
    ("Alpha line.\nAlpha line.\nAlpha line.\nBeta line.", {}, "gopher_dup_line_frac"),
    (LONG + "\n" + LONG + "\n" + " ".join(unique_words(200, 5)[100:]) + "\nx\ny", {}, "gopher_dup_line_char_frac"),
    (" ".join(["hello world"] * 30) + " " + LONG, {}, "gopher_top_2_gram"),
    (" ".join(["one two three"] * 20) + " " + LONG, {"top_n_grams": [[3, 0.18]]}, "gopher_top_3_gram"),
    ("a b c d e " + LONG + " a b c d e " + " ".join(unique_words(10)) + " a b c d e",
     {"top_n_grams": [], "dup_n_grams": [[5, 0.005]]}, "gopher_dup_5_gram"),
])
def test_gopher_repetition_reasons(text, params, expected):
    assert reasons(GopherRepetitionFilter(**params), text) == [expected]


def test_greedy_repeated_ngrams_match_gopher_definition():
    from gristmill.filters.gopher_repetition import greedy_repeated_chars

    words = "a b c a b c a b c x".split()
    # n=3: "a b c" seen at 0; at 3 it repeats (+3 chars, jump to 6), at 6 again (+3)
    assert greedy_repeated_chars([hash(w) for w in words], [1] * len(words), 3) == 6


C4_LINES = [
    "The miller walked to the river. He sat down by the water.",
    "His dog followed him all the way!",
    "They watched the boats go by for hours.",
    "Menu Home Contact",                       # no terminal punctuation: removed
    "Please enable JavaScript to view this page.",  # javascript: removed
    "This site uses cookies to improve your visit.",  # policy: removed
    "In the evening the miller went home again.[1]",  # citation removed, line kept
]


@pytest.mark.parametrize("lines,expected", [
    (C4_LINES, None),
    (C4_LINES[:2], "c4_too_few_sentences"),
    (C4_LINES + ["Lorem ipsum dolor sit amet, consectetur."], "c4_lorem_ipsum"),
    (C4_LINES + ["The function returns {a: 1} here."], "c4_curly_bracket"),
    (C4_LINES + ["A broken {line without end"], None),  # the line is removed before the bracket rule
])
def test_c4_reasons(lines, expected):
    assert reasons(C4QualityFilter(), "\n".join(lines)) == [expected]


def test_c4_rewrites_text_from_kept_lines():
    out = C4QualityFilter().process(docs("\n".join(C4_LINES)))
    text = out.table.column("text")[0].as_py()
    assert "Menu" not in text and "JavaScript" not in text and "cookies" not in text
    assert text.endswith("went home again.") and out.counters["c4_lines_removed"] == 3


@pytest.mark.parametrize("text,expected", [
    (PROSE, None),
    ("   \n  \n", "fineweb_empty"),
    ("\n".join(f"a heading without an end number {i}" for i in range(10)), "fineweb_line_punct_ratio"),
    ("\n".join(f"Short line {i}." for i in range(10)), "fineweb_short_line_ratio"),
    (SENTENCE + "\n" + SENTENCE + "\nThen he went home, ate bread and slept until the sun rose.", "fineweb_char_dup_ratio"),
    ("\n".join(f"{w}abcdefghijklmnopqrstu xyzabcdefghijklm{w}." for w in unique_words(20)), "fineweb_list_ratio"),
])
def test_fineweb_reasons(text, expected):
    assert reasons(FineWebQualityFilter(), text) == [expected]


@pytest.mark.parametrize("name", ["gopher_quality@1", "gopher_repetition@1", "c4_quality@1", "fineweb_quality@1"])
def test_registered_and_deterministic(name):
    stage = registry.resolve(name)()
    stage.ensure_setup()
    table = docs(GOOD, "short", "\n".join(C4_LINES), "Alpha line.\nAlpha line.\nAlpha line.")
    a, b = stage.process(table), stage.process(table)
    assert a.table.equals(b.table) and a.drops.equals(b.drops)
    assert a.table.num_rows + a.drops.num_rows == table.num_rows


def test_null_and_empty_text_do_not_crash():
    table = pa.table({"id": ["a", "b"], "text": pa.array([None, ""], pa.large_string())})
    for stage in (GopherQualityFilter(), GopherRepetitionFilter(), C4QualityFilter(), FineWebQualityFilter()):
        out = stage.process(table)
        assert out.drops.num_rows == 2


@pytest.mark.parametrize("name", ["gopher_quality@1", "gopher_repetition@1", "c4_quality@1", "fineweb_quality@1",
                                  "pii@1", "license_policy@1"])
def test_empty_shard(name):
    from gristmill.pipeline.schema import conform, empty_documents

    out = registry.resolve(name)().process(empty_documents())
    assert conform(out.table).num_rows == 0 and out.drops.num_rows == 0
