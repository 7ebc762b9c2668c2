"""Column-wise text helpers shared by the heuristic rules (polars, no per-document Python).

Words: datatrove's English rules split words with spaCy's tokenizer. Running spaCy per
document is what makes them slow, so gristmill reproduces its splitting with regexes (Rust
regex inside polars): a few rewrite passes mark spaCy's infix splits (hyphen, slash, colon
between letters; arithmetic between digits) and clitics (`'s`; `n't`, `'ll`... after the
auxiliaries and pronouns spaCy lists), then one pattern extracts tokens: URLs and e-mails
whole, stand-alone runs of non-affix marks (`--`, `@-@`) as one token, spaCy's own
abbreviation exceptions (`Mr.`, `Inc.`) and acronyms (`U.S.`) with their period, prefix and
suffix marks one by one. Not reproduced: spaCy's other special splits (`cannot` -> `can not`,
`im` -> `i m`), emoticons, and its handling of code such as `a=b`. On 580 real documents the
keep/drop decisions that depend on words agree with datatrove's on 99.8% or more (README).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
from functools import lru_cache

import polars as pl

from gristmill.pipeline.stage import Stage

# Characters datatrove treats as punctuation (its PUNCTUATION_SET); imported, not copied,
# so "symbol word" means the same thing in both implementations.
try:
    from datatrove.utils.text import PUNCTUATION_SET, TERMINAL_PUNCTUATION
except ImportError:  # datatrove is a dependency; this keeps the helpers importable without it
    PUNCTUATION_SET = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~…–—“”‘’«»")
    TERMINAL_PUNCTUATION = set(".!?")

# splitlines() separators; every line rule works on text with these turned into "\n"
LINE_BREAKS = r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"
WS = r"[\s&&[^\n]]"  # whitespace inside a line


def char_class(chars) -> str:
    return "[" + "".join(re.escape(c) if c not in "-" else r"\-" for c in sorted(chars)) + "]"


PUNCT_CLASS = char_class(PUNCTUATION_SET)
TERMINAL_CLASS = char_class(TERMINAL_PUNCTUATION)


@lru_cache(1)
def abbreviations() -> tuple[str, ...]:
    """spaCy's English tokenizer exceptions that end in a period (Mr., Inc., a.m., ...).

    Importing spaCy costs seconds per worker, so the list is kept in the user's cache
    directory, keyed by spaCy's version, after the first read."""
    try:
        version = importlib.metadata.version("spacy")
    except importlib.metadata.PackageNotFoundError:
        return ("Mr.", "Mrs.", "Ms.", "Dr.", "St.", "Jr.", "Sr.", "Inc.", "Ltd.", "Co.", "vs.", "etc.")
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "gristmill",
                         f"spacy-{version}-en-abbreviations.json")
    try:
        with open(cache, encoding="utf-8") as f:
            return tuple(json.load(f))
    except (OSError, ValueError):
        pass
    from spacy.lang.en.tokenizer_exceptions import TOKENIZER_EXCEPTIONS

    keys = [k for k, v in TOKENIZER_EXCEPTIONS.items() if len(v) == 1 and k.endswith(".")
            and re.fullmatch(r"[A-Za-z][A-Za-z.]*\.", k)]
    keys = tuple(sorted(set(keys), key=lambda k: (-len(k), k)))
    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        tmp = f"{cache}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(keys, f)
        os.replace(tmp, cache)
    except OSError:  # a read-only home only costs the import next time
        pass
    return keys


URL = r"(?:https?://|www\.)[^\s]*[^\s.,;:!?)\]\"'»”’]|(?-u:\b)[\w-]+(?:\.[\w-]+)+/[^\s]*[^\s.,;:!?)\]\"'»”’]"
# spaCy splits n't, 'm, 'd, 'll, 're, 've only in its exception words (auxiliaries, pronouns)
AUX = "do|does|did|is|are|was|were|have|has|had|ca|wo|could|would|should|must|need|might|ai|sha|dare"
PRONOUNS = "i|you|he|she|it|we|they|who|what|that|there|where|how|here|y"
# spaCy's infixes: where it splits inside a chunk (hyphen, slash, colon... between letters,
# arithmetic between digits, comma between letters) and its clitic suffixes (marked with
# \x01 so that they stay one token while a leading apostrophe, as in 'tis, is split off). Each pass
# leaves URLs alone (they only gain spaces) and runs twice because matches cannot overlap ("a-b-c").
INFIX_PASSES = [
    (rf"({URL})|([\p{{L}}\d])([-/:=<>]|--|—|–)(\p{{L}})", "${1}${2} ${3} ${4}"),
    (rf"({URL})|(\d)([-+*^])(\d)", "${1}${2} ${3} ${4}"),
    (rf"({URL})|(\p{{L}})(,)(\p{{L}})", "${1}${2} ${3} ${4}"),
    # clitics: no URL guard here (it would leave a stray marker after every URL)
    (r"(?i)(\w)(['’]s)(?-u:\b)", "${1} \x01${2}"),
    (rf"(?i)(?-u:\b)({AUX})(n['’]t)(?-u:\b)", "${1} \x01${2}"),
    (rf"(?i)(?-u:\b)({PRONOUNS})(['’](?:m|d|ll|re|ve))(?-u:\b)", "${1} \x01${2}"),
]


@lru_cache(1)
def word_pattern() -> str:
    abbrev = "|".join(re.escape(k) for k in abbreviations())
    return "|".join([
        URL,
        # a stand-alone run of marks that are no prefix/suffix for spaCy (--, @-@) is one token;
        # the text is space-doubled so that each run can take one space on either side
        r"\s[^\w\s\"'“”‘’()\[\]{}.,;:!?«»]+\s",
        rf"(?-u:\b)(?:{abbrev})",                       # spaCy exceptions keep their period
        r"(?-u:\b)(?:\p{L}\.){2,}",                     # U.S., e.g.
        r"(?-u:\b)\p{Lu}\.",                            # initials: J. Smith
        r"[\w+.-]+@\w[\w-]*(?:\.[\w-]+)+",         # e-mail
        r"[^\W_][^\s]*-\s",                         # a trailing hyphen is no suffix for spaCy: mouths--
        r"[^\W_](?:[^\s]*[^\W_])?",                 # a chunk's core: prefix/suffix marks (and _) split off
        r"\x01(?:[nN]['’][tT]|['’]\w+)|['’](?:[sSmMdD]|ll|re|ve)(?-u:\b)",                            # clitics split off above (marked \x01): 's, n't
        r"\.{2,}",                                # ellipsis
        r"[^\w\s]|_",                             # any other mark
    ])


def words(text: pl.Expr) -> pl.Expr:
    """List of word tokens per document (spaCy-like, see module docstring)."""
    for pattern, repl in INFIX_PASSES:
        text = text.str.replace_all(pattern, repl).str.replace_all(pattern, repl)
    spaced = pl.lit("  ") + text.str.replace_all(r"\s+", "  ") + pl.lit("  ")
    return spaced.str.extract_all(word_pattern()).list.eval(pl.element().str.strip_chars(" \x01"))


def exploded_words(texts: pl.Series) -> pl.DataFrame:
    """One row per word: doc (row number), pos (index in the document), word, len."""
    df = pl.DataFrame({"text": texts}).with_row_index("doc")
    return (df.select("doc", w=words(pl.col("text").fill_null("")))
            .explode("w", keep_nulls=False, empty_as_null=False)  # documents without words vanish here
            .rename({"w": "word"})
            .with_columns(pos=pl.int_range(pl.len()).over("doc"), len=pl.col("word").str.len_chars()))


def per_doc(stats: pl.DataFrame, n_docs: int, fill: dict) -> pl.DataFrame:
    """Align per-document aggregates (keyed by `doc`) to all documents, filling absentees."""
    base = pl.DataFrame({"doc": pl.arange(0, n_docs, eager=True).cast(stats.schema["doc"])})
    return base.join(stats, on="doc", how="left").sort("doc").with_columns(
        [pl.col(c).fill_null(v) for c, v in fill.items()])


def first_reason(checks: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """The first rule (in order) whose condition holds, else null: one reason per document."""
    expr = pl.lit(None, pl.String)
    for reason, cond in reversed(checks):
        expr = pl.when(cond.fill_null(False)).then(pl.lit(reason)).otherwise(expr)
    return expr


def ngram_hash(h: pl.Expr, n: int, doc: pl.Expr | None = None) -> pl.Expr:
    """64-bit key of the n words starting at each row (rows are words in document order),
    from their word hashes (wrapping polynomial); with `doc`, keys differ across documents."""
    key = pl.lit(0, pl.UInt64) if doc is None else doc.cast(pl.UInt64)
    for k in range(n):
        key = key * pl.lit(0x100000001B3, pl.UInt64) + h.shift(-k).fill_null(0)
    return key


def window_sum(x: pl.Expr, n: int) -> pl.Expr:
    """Sum of x over the n rows starting at each row."""
    total = x
    for k in range(1, n):
        total = total + x.shift(-k).fill_null(0)
    return total


def text_series(table) -> pl.Series:
    """The `text` column of an Arrow table as a polars Series (nulls become "")."""
    return pl.from_arrow(table.column("text").combine_chunks()).cast(pl.String).fill_null("").rename("text")


class WordRuleStage(Stage):
    """Base of the column-wise rule filters (Gopher, C4, FineWeb): they read `text`, and each
    worker builds the word pattern (it reads spaCy's exception list) once, in setup()."""

    reads = ("text",)

    def setup(self, ctx=None):
        word_pattern()
