"""c4_badwords@1: reason code, keep_fraction determinism, list loading, and agreement with
datatrove's C4BadWordsFilter on real documents with the same word lists (datatrove's download
is redirected to the local lists: no network)."""

import pyarrow as pa
import pytest

from gristmill.filters.c4_badwords import LDNOOBW_EN, C4BadWordsFilter, read_list
from gristmill.pipeline import registry
from tests.support.real_documents import load_real_documents

# words that occur in the real sets (Shakespeare, Gutenberg, speeches, web pages), a phrase,
# and regex metacharacters that must be taken literally
EN_WORDS = ["hell", "damn", "naked", "breast", "bastard", "whore", "bloody", "sex", "kill", "make love",
            "a$$", "f.ck", "c++", "sm"]
ZH_WORDS = ["坏词", "性"]


def docs(texts, languages=None):
    cols = {"id": [f"d{i}" for i in range(len(texts))], "text": pa.array(texts, pa.large_string())}
    if languages is not None:
        cols["language"] = languages
    return pa.table(cols)


@pytest.fixture
def lists(tmp_path):
    paths = {}
    for lang, words in (("en", EN_WORDS), ("zh", ZH_WORDS)):
        paths[lang] = tmp_path / lang
        paths[lang].write_text("\n".join(words) + "\n", encoding="utf-8")
    return {k: str(v) for k, v in paths.items()}


def test_reason_detail_and_word_boundaries(lists, tmp_path):
    # a blank line in a list is skipped (datatrove would keep "" and match almost anything)
    (tmp_path / "blank").write_text(open(lists["en"]).read() + "\n\n", encoding="utf-8")
    texts = ["What the Hell, said he.", "shell and hello are fine", "A$$ and c++ code", "fxck is not f.ck's twin",
             "they make love", "nothing here", "sm is allowed by datatrove's allow-list"]
    out = C4BadWordsFilter(words=str(tmp_path / "blank")).process(docs(texts))
    drops = {r["id"]: (r["reason"], r["detail"]) for r in out.drops.to_pylist()}
    assert drops == {"d0": ("c4_badwords", "word=hell language=en"), "d2": ("c4_badwords", "word=a$$ language=en"),
                     "d3": ("c4_badwords", "word=f.ck language=en"), "d4": ("c4_badwords", "word=make love language=en")}
    assert out.table.column("id").to_pylist() == ["d1", "d5", "d6"]
    assert out.counters["c4_badwords_found"] == 4


def test_languages_without_boundaries_and_missing_languages(lists):
    table = docs(["这是坏词的例子", "性别 is allow-listed", "hell yes", "helvete"], ["zh", "zh", None, "sv"])
    with pytest.raises(ValueError, match="no bad-words list for language 'sv'"):
        C4BadWordsFilter(words=lists).process(table)
    out = C4BadWordsFilter(words=lists, fail_on_missing_language=False).process(table)
    assert sorted(out.drops.column("id").to_pylist()) == ["d0", "d2"]
    assert out.counters["c4_badwords_missing_language"] == 1


def test_keep_fraction_is_seeded_and_per_document(lists):
    table = docs([f"doc {i} goes to hell" for i in range(400)])
    runs = [C4BadWordsFilter(words=lists["en"], keep_fraction=0.3, seed=s).process(table) for s in (1, 1, 2)]
    kept = [r.table.column("id").to_pylist() for r in runs]
    assert kept[0] == kept[1] and kept[0] != kept[2]
    assert 80 <= len(kept[0]) <= 160 and runs[0].counters["c4_badwords_kept_by_fraction"] == len(kept[0])
    half = C4BadWordsFilter(words=lists["en"], keep_fraction=0.3, seed=1).process(table.slice(200))
    assert half.table.column("id").to_pylist() == [i for i in kept[0] if int(i[1:]) >= 200]  # not order-bound


def test_lists_from_urls_are_cached_and_unreachable_ones_fail_at_setup(tmp_path, monkeypatch):
    import fsspec

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with fsspec.open("memory://lists/en", "wt") as f:
        f.write("hell\ndamn\n")
    assert read_list("memory://lists/en") == ["hell", "damn"]
    fsspec.filesystem("memory").rm("/lists/en")
    assert read_list("memory://lists/en") == ["hell", "damn"]  # from the cache now
    with pytest.raises(RuntimeError, match="`words` parameter"):
        C4BadWordsFilter(words="http://127.0.0.1:9/en").ensure_setup()
    from datatrove.pipeline.filters import c4_filters

    assert C4BadWordsFilter().source_for("en") == LDNOOBW_EN == c4_filters._EN_BADWORDS_URL
    assert registry.resolve("c4_badwords@1") is C4BadWordsFilter


def test_decisions_agree_with_datatrove_on_real_documents(lists, monkeypatch):
    from datatrove.data import Document
    from datatrove.pipeline.filters import C4BadWordsFilter as DatatroveBadWords
    from datatrove.pipeline.filters import c4_filters

    monkeypatch.setattr(c4_filters, "cached_asset_path_or_download", lambda url, **kw: lists[url.rsplit("/", 1)[-1]])
    table = load_real_documents()
    extra = ["这是坏词的例子", "没有", "hell", "(damn)", "Damn!\n", "x_hell", "hell_", "naked\u00a0truth"]
    texts = table.column("text").to_pylist() + extra
    languages = ["en"] * table.num_rows + ["zh", "zh", "en", "en", "en", "en", "en", "en"]
    dt = DatatroveBadWords(keep_fraction=0.0)
    expected = [dt.filter(Document(text=t, id=str(i), metadata={"language": lang})) is True
                for i, (t, lang) in enumerate(zip(texts, languages))]
    out = C4BadWordsFilter(words=lists).process(docs(texts, languages))
    kept = set(out.table.column("id").to_pylist())
    got = [f"d{i}" in kept for i in range(len(texts))]
    assert got == expected
    assert 10 <= expected.count(False) <= len(texts) - 10  # both decisions are exercised
