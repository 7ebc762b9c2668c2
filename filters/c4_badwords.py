"""`c4_badwords`: drop documents containing a word of a bad-words list (C4; datatrove's
C4BadWordsFilter), one compiled regex per language over the whole text column.

Matching is datatrove's: the lower-cased text contains a listed word (or phrase) flanked by a
non-word character or the text's start/end; for ja, th and zh (no spaces between words) no
flanking is needed. Like datatrove, the words of its allow-list (common ja/zh subwords) are
removed from every list. The first match's word is the drop's detail. Blank lines of a list
are skipped (an empty alternative would match almost every document).

Lists: `words` names a list file (local path or any fsspec URL, one word per line) used for
every document, or {language: path/URL}; by default each document's `language` gets the
LDNOOBW list (the URLs datatrove uses), fetched once through fsspec into
~/.cache/gristmill/c4_badwords/. `keep_fraction` of the matching documents is kept anyway,
drawn per document from a seeded hash of its id, so the choice does not depend on sharding
or order. A language without a list fails the shard unless `fail_on_missing_language` is
false (then its documents are kept and counted).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from gristmill.filters import text_columns as tc
from gristmill.filters.dedupe.shingles import hash_strings, mix64
from gristmill.pipeline.params import param
from gristmill.pipeline.stage import Stage, StageOutput, split_by_reason

LDNOOBW = "https://raw.githubusercontent.com/LDNOOBW/List-of-Dirty-Naughty-Obscene-and-Otherwise-Bad-Words/"
LDNOOBW_EN = LDNOOBW + "25e679f03d96baa721cde20db9944649e8d0a844/en"  # the commits datatrove pins
LDNOOBW_OTHERS = LDNOOBW + "5faf2ba42d7b1c0977169ec3611df25a3c08eb13/"
LANGUAGES = ("ar cs da de en eo es fa fi fil fr fr-CA-u-sd-caqc hi hu it ja kab ko nl no pl pt ru sv th tlh tr "
             "zh").split()
ALLOWED = {"sm", "グロ", "女の子", "性"}  # datatrove's allow-list, subtracted from every language's list
NO_WORD_BOUNDARY = ("ja", "th", "zh")


def cache_dir() -> str:
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "gristmill",
                        "c4_badwords")


def read_list(source: str) -> list[str]:
    """The words of a list file; a URL is fetched once and kept in the user's cache."""
    import fsspec

    if "://" in source and not source.startswith("file://"):
        name = hashlib.sha1(source.encode()).hexdigest()[:16] + "-" + source.rstrip("/").rsplit("/", 1)[-1]
        cached = os.path.join(cache_dir(), name)
        if not os.path.exists(cached):
            try:
                with fsspec.open(source, "rb") as f:
                    data = f.read()
            except Exception as e:  # noqa: BLE001 - any fetch failure gets the same advice
                raise RuntimeError(f"c4_badwords: cannot fetch the bad-words list {source} ({type(e).__name__}: "
                                   f"{e}); set the stage's `words` parameter to a local file or a reachable URL "
                                   f"(one word per line)") from e
            os.makedirs(cache_dir(), exist_ok=True)
            with open(cached + f".{os.getpid()}.tmp", "wb") as f:
                f.write(data)
            os.replace(cached + f".{os.getpid()}.tmp", cached)
        source = cached
    with fsspec.open(source, "rt", encoding="utf-8") as f:
        return [w for w in (line.strip() for line in f) if w]


def pattern(words: list[str], language: str) -> str:
    alts = "|".join(sorted({pl_escape(w) for w in set(words) - ALLOWED}))
    return f"({alts})" if language in NO_WORD_BOUNDARY else rf"(?:\W|^)({alts})(?:\W|$)"


def pl_escape(word: str) -> str:
    """Escape Rust regex (polars) meta characters: every character is taken literally."""
    return "".join("\\" + c if c in RUST_META else c for c in word)


RUST_META = set("\\.+*?()|[]{}^$#&-~")


class C4BadWordsFilter(Stage):
    """Drop documents containing a word of a bad-words list (C4; datatrove's C4BadWordsFilter)."""

    name = "c4_badwords"
    reads = ("text",)

    @dataclass(frozen=True)
    class Params:
        words: str | dict[str, str] | None = param(
            None, "word list (path or URL, one per line) for every document, or {language: path/URL} "
                  "(default: LDNOOBW per language, downloaded)", cli="--badwords")
        keep_fraction: float = param(0.0, "share of matching documents kept anyway (seeded per document id)",
                                     ge=0.0, le=1.0)
        seed: int = param(0, "seed of the keep_fraction draw")
        default_language: str = param("en", "language of documents without `language`")
        fail_on_missing_language: bool = param(True, "a language without a list fails the shard "
                                                     "(false: its documents are kept and counted)")

    def __init__(self, **params):
        super().__init__(**params)
        words = self.cfg.words
        self.per_language = dict(words) if isinstance(words, dict) else None
        self.single = words if isinstance(words, str) else None
        self.default_language = self.cfg.default_language
        self.keep_fraction = self.cfg.keep_fraction
        self.seed = self.cfg.seed
        self.patterns: dict[str, str | None] = {}

    def setup(self, ctx=None):
        self.pattern_for(self.default_language)  # a list that cannot be had fails here, not mid-run

    def source_for(self, language: str) -> str | None:
        if self.single is not None:
            return self.single
        if self.per_language is not None:
            return self.per_language.get(language)
        if language not in LANGUAGES:
            return None
        return LDNOOBW_EN if language == "en" else LDNOOBW_OTHERS + language

    def pattern_for(self, language: str) -> str | None:
        if language not in self.patterns:
            source = self.source_for(language)
            if source is None and self.cfg.fail_on_missing_language:
                raise ValueError(f"c4_badwords: no bad-words list for language {language!r}; give one in `words` "
                                 f"or set fail_on_missing_language: false")
            self.patterns[language] = None if source is None else pattern(read_list(source), language)
        return self.patterns[language]

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        self.ensure_setup(ctx.step if ctx is not None else None)
        n = table.num_rows
        text = tc.text_series(table).str.to_lowercase()
        langs = (pl.from_arrow(table.column("language")).cast(pl.String).fill_null(self.default_language)
                 if "language" in table.column_names else pl.Series([self.default_language] * n, dtype=pl.String))
        found = pl.Series([None] * n, dtype=pl.String)
        missing = 0
        for language in langs.unique().sort().to_list():
            rows = np.flatnonzero((langs == language).to_numpy())
            rx = self.pattern_for(language)
            if rx is None:
                missing += len(rows)
                continue
            found = found.scatter(rows, text.gather(rows).str.extract(rx, 1))
        hit = found.is_not_null().to_numpy()
        ids = table.column("id")
        ids = (ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids).cast(pa.string())
        draw = (mix64(hash_strings(ids) ^ np.uint64(self.seed)) >> np.uint64(11)) / float(1 << 53)  # [0, 1)
        kept_anyway = hit & (draw < self.keep_fraction)
        drop = hit & ~kept_anyway
        reason = pa.array(np.where(drop, "c4_badwords", None), pa.string())
        detail = pl.DataFrame({"w": found, "l": langs, "d": drop}).select(
            pl.when("d").then(pl.format("word={} language={}", "w", "l"))).to_series().to_arrow()
        return split_by_reason(table, reason, self.versioned_name, detail=detail,
                               counters={"c4_badwords_found": int(hit.sum()),
                                         "c4_badwords_kept_by_fraction": int(kept_anyway.sum()),
                                         "c4_badwords_missing_language": missing})
