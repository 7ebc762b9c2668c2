"""Column-wise text helpers shared by the heuristic rules (polars, no per-document Python).

Words: datatrove's English rules split words with spaCy's tokenizer. Running spaCy per
document is what makes them slow, so gristmill approximates its splitting with one regex
(Rust regex inside polars): URLs and e-mails stay whole, stand-alone punctuation runs
(`--`, `@-@`, `):`) are one token, spaCy's own abbreviation exceptions (`Mr.`, `Inc.`,
`e.g.`) keep their period, `'s`/`n't`-style clitics are split off, every other
punctuation mark is its own token. Known differences: spaCy's special splits (`cannot`
-> `can not`, `im` -> `i m`) and infixes such as `a=b` are not reproduced; token counts
differ by well under 1% on real prose, which moves a keep/drop decision only for
documents within that margin of a threshold.
"""

from __future__ import annotations

import re
from functools import lru_cache

import polars as pl

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
    """spaCy's English tokenizer exceptions that end in a period (Mr., Inc., a.m., ...)."""
    try:
        from spacy.lang.en.tokenizer_exceptions import TOKENIZER_EXCEPTIONS
        keys = [k for k, v in TOKENIZER_EXCEPTIONS.items() if len(v) == 1 and k.endswith(".")
                and re.fullmatch(r"[A-Za-z][A-Za-z.]*\.", k)]
    except ImportError:
        keys = ["Mr.", "Mrs.", "Ms.", "Dr.", "St.", "Jr.", "Sr.", "Inc.", "Ltd.", "Co.", "vs.", "etc."]
    return tuple(sorted(set(keys), key=len, reverse=True))


URL = r"(?:https?://|www\.)[^\s]*[^\s.,;:!?)\]\"'»”’]|(?-u:\b)[\w-]+(?:\.[\w-]+)+/[^\s]*[^\s.,;:!?)\]\"'»”’]"
# spaCy's infixes: where it splits inside a chunk (hyphen, slash, colon... between letters,
# arithmetic between digits, comma between letters) and its clitic suffixes. Each pass
# leaves URLs alone (they only gain spaces) and runs twice because matches cannot overlap ("a-b-c").
INFIX_PASSES = [
    (rf"({URL})|([\p{{L}}\d])([-/:=<>]|--|—|–)(\p{{L}})", "${1}${2} ${3} ${4}"),
    (rf"({URL})|(\d)([-+*^])(\d)", "${1}${2} ${3} ${4}"),
    (rf"({URL})|(\p{{L}})(,)(\p{{L}})", "${1}${2} ${3} ${4}"),
    (rf"(?i)({URL})|(\w)(n['’]t|['’](?:s|m|d|ll|re|ve))(?-u:\b)", "${1}${2} ${3}"),
]


@lru_cache(1)
def word_pattern() -> str:
    abbrev = "|".join(re.escape(k) for k in abbreviations())
    return "|".join([
        URL,
        r"\s[^\w\s]+\s",                          # stand-alone punctuation run (text is space-doubled)
        rf"(?-u:\b)(?:{abbrev})",                       # spaCy exceptions keep their period
        r"(?-u:\b)(?:\w\.){2,}",                        # U.S., e.g.
        r"(?-u:\b)\p{Lu}\.",                            # initials: J. Smith
        r"[\w+.-]+@\w[\w-]*(?:\.[\w-]+)+",         # e-mail
        r"\w(?:[^\s]*\w)?",                       # a chunk's core: prefix/suffix marks split off
        r"['’]\w+",                               # clitics split off above: 's, n't
        r"\.{2,}",                                # ellipsis
        r"[^\w\s]",                               # any other mark
    ])


def words(text: pl.Expr) -> pl.Expr:
    """List of word tokens per document (spaCy-like, see module docstring)."""
    for pattern, repl in INFIX_PASSES:
        text = text.str.replace_all(pattern, repl).str.replace_all(pattern, repl)
    spaced = pl.lit("  ") + text.str.replace_all(r"\s+", "  ") + pl.lit("  ")
    return spaced.str.extract_all(word_pattern()).list.eval(pl.element().str.strip_chars(" "))


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
