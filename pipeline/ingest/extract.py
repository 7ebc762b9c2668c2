"""HTML to main text, with interchangeable engines chosen by measurement.

`benchmarks/eval_extraction.py` scores each engine on the trafilatura evaluation set
(snippet precision/recall) and times it; the README's ingest section has the table and
the reason for the default. Every engine takes a Unicode HTML string and returns the
main text, or "" when it finds none.
"""

from __future__ import annotations

from typing import Callable

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

DEFAULT_ENGINE = "trafilatura_fast"


def _resiliparse(html: str) -> str:
    tree = HTMLTree.parse(html)
    # comments/post_meta off: measured +0.03 F1 (comment threads and bylines are boilerplate)
    return extract_plain_text(tree, main_content=True, preserve_formatting=True, alt_texts=False,
                              list_bullets=True, comments=False, post_meta=False)


def _resiliparse_all(html: str) -> str:
    """Every visible text node (no main-content heuristics): the recall ceiling."""
    return extract_plain_text(HTMLTree.parse(html), main_content=False, preserve_formatting=True,
                              alt_texts=False)


def _trafilatura(html: str, **kw) -> str:
    import trafilatura

    return trafilatura.extract(html, include_comments=False, include_tables=True, **kw) or ""


def _trafilatura_default(html: str) -> str:
    return _trafilatura(html)


def _trafilatura_fast(html: str) -> str:
    """trafilatura without its readability/jusText fallbacks (`no_fallback=True`)."""
    return _trafilatura(html, no_fallback=True)


def _trafilatura_datatrove(html: str) -> str:
    """The settings datatrove's `Trafilatura` extractor uses (favor_precision, deduplicate)."""
    return _trafilatura(html, favor_precision=True, deduplicate=True, no_fallback=True)


def _resiliparse_then_trafilatura(html: str, min_chars: int = 200) -> str:
    """resiliparse first; trafilatura (fast) only for pages where resiliparse finds little,
    which is where its main-content heuristics most often throw the article away."""
    text = _resiliparse(html)
    if len(text) >= min_chars:
        return text
    alt = _trafilatura_fast(html)
    return alt if len(alt) > len(text) else text


ENGINES: dict[str, Callable[[str], str]] = {
    "resiliparse": _resiliparse,
    "resiliparse_all": _resiliparse_all,
    "trafilatura": _trafilatura_default,
    "trafilatura_fast": _trafilatura_fast,
    "trafilatura_datatrove": _trafilatura_datatrove,
    "resiliparse+trafilatura": _resiliparse_then_trafilatura,
}


def get_engine(name: str) -> Callable[[str], str]:
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown extraction engine {name!r}; choose from {', '.join(ENGINES)}") from None
