"""Lines of a page and their features, for the trained main-text engine (`blocks`).

resiliparse parses the page once (C++) and renders it three ways: every visible line as
minimal HTML (so headings, paragraphs, list items and link text are known per line), its
own main-content guess, and the page with common boilerplate containers (navigation,
sharing/comments/related, bylines/dates) skipped. A line's features are numbers about it
and its neighbours; `block_model.py` scores them, then scores them again with the first scores
of their neighbours (`context_features`). Everything per page is a few numpy
passes over the page's characters, not a Python object per node, so a page costs ~3 ms.
"""

from __future__ import annotations

import html as htmlmod
import re
from collections import Counter

import numpy as np

TAG = re.compile(r"<(/?)([a-z0-9]+)[^>]*>")
# Typical boilerplate words (site furniture in the languages of the training pages and English),
# found in the lowered page in one Aho-Corasick pass (`_boilerplate_finder`): 3x faster than a
# str.find per word, and a case-insensitive regex alternation cost ~5 ms a page.
BOILERPLATE = (
    "impressum", "datenschutz", "privacy", "cookie", "copyright", "©", "all rights", "kommentar", "comment",
    "teilen", "share", "facebook", "twitter", "instagram", "whatsapp", "pinterest", "linkedin", "login",
    "log in", "anmelden", "registr", "newsletter", "abonn", "subscribe", "menü", "menu", "navigation",
    "weitere", "related", "tag:", "tags:", "kategorie", "categor", "archiv", "read more", "weiterlesen",
    "mehr lesen", "zurück", "next", "previous", "vorherig", "nächst", "home", "startseite", "kontakt",
    "contact", "sitemap", "drucken", "print", "e-mail", "werbung", "anzeige", "advert", "sponsored",
    "gefällt mir", "like this", "loading", "lade",
)
DATE = re.compile(
    r"\b(\d{1,2}\.\s?\d{1,2}\.\s?\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2}\.\s?(januar|februar|märz|april|mai|juni|"
    r"juli|august|september|oktober|november|dezember)|(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
    r"[a-z]*\.? \d{1,2},? \d{4})", re.I)
# Containers whose lines are usually not the article: navigation, sharing/comments/related,
# bylines/dates. One resiliparse rendering skips them all (three renderings, one per kind,
# scored the same held-out F1 and cost 2.4 ms a page more: measured).
SKIP_SELECTORS = (
    "nav", "footer", "aside", "header", "[class*=nav]", "[id*=nav]", "[class*=footer]", "[id*=footer]",
    "[class*=menu]", "[id*=menu]", "[class*=sidebar]", "[id*=sidebar]", "[class*=widget]",
    "[class*=breadcrumb]", "[role=navigation]", "[class*=header]", "[id*=header]",
    "[class*=share]", "[class*=social]", "[class*=comment]", "[id*=comment]", "[class*=related]",
    "[class*=teaser]", "[class*=tags]", "[class*=newsletter]", "[class*=cookie]", "[class*=banner]",
    "[class*=promo]", "[class*=ad-]", "[class*=advert]", "[class*=popup]", "[class*=modal]",
    "[class*=meta]", "[class*=date]", "[class*=author]", "[class*=byline]", "time", "[class*=caption]",
    "figcaption", "[class*=copyright]", "[class*=credit]",
)
ANCHOR = re.compile(r"<a\b[^>]*>(.*?)</a>", re.S)
# heading, paragraph, list item, pre: the block a line sits in
BLOCK_SPANS = tuple(re.compile(rf"<({tag})\b[^>]*>.*?</\1>", re.S) for tag in ("h[1-6]", "p", "li", "pre"))
SEPARATORS = "|»›©•·"
FEATURES = (
    "log_chars", "log_words", "link_ratio", "in_main", "heading", "paragraph", "list_item", "pre",
    "ends_sentence", "digit_ratio", "punct_per_word", "separators", "capitalised_ratio", "repeats",
    "position", "text_before", "main_win2", "main_win5", "link_win2", "chars_win2", "chars_win5",
    "long_win5", "in_main_span", "main_span_distance", "main_prev", "main_next", "chars_prev",
    "chars_next", "link_prev", "link_next", "page_main_share", "page_log_lines",
    "kept_skipping_furniture", "boilerplate_word", "date", "kept_skipping_furniture_win3", "table_row",
    "title_overlap", "chars_vs_longest",
)


# Characters a reader never sees that split words in the source ("réac\xadtion"): soft
# hyphen, zero-width space, BOM. ZWJ/ZWNJ carry meaning in some scripts and are kept.
INVISIBLE = "\xad\u200b\ufeff"
NOSCRIPT_TAG = re.compile(r"</?noscript\b[^>]*>", re.I)
# A page that renders less than this is parsed again without <noscript> tags (page_features)
SWALLOWED_CHARS = 200


def _visible(rendered: str) -> str:
    for c in INVISIBLE:  # str.replace: str.translate with a table is ~15x slower on these pages
        if c in rendered:
            rendered = rendered.replace(c, "")
    return rendered


def _normalise(line: str) -> str:
    """Whitespace collapsed; table cells (resiliparse puts two tabs between them) joined by
    " | " as trafilatura writes table rows, so a row stays readable as one."""
    if "\t\t" in line:
        return " | ".join(cell for cell in (" ".join(c.split()) for c in line.split("\t\t")) if cell)
    return " ".join(line.split())


def page_lines(tree) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(line texts, characters inside links per line, [heading, paragraph, list item, pre,
    table row] flags per line) of every visible line, from resiliparse's minimal-HTML
    rendering. Tags are found by regex scans of the whole rendering, mapped to lines by offset."""
    from resiliparse.extract.html2text import extract_plain_text

    # list_bullets: in this rendering it keeps the <li> tags, and adds no bullet characters
    rendered = extract_plain_text(tree, preserve_formatting="minimal_html", main_content=False, links=True,
                                  alt_texts=False, list_bullets=True)
    raw_lines = _visible(rendered).split("\n")
    newlines = np.cumsum([len(line) + 1 for line in raw_lines[:-1]])

    def line_of(offsets):
        return np.searchsorted(newlines, offsets, side="right")

    links = np.zeros(len(raw_lines))
    anchors = list(ANCHOR.finditer(rendered))
    if anchors:
        inner = [m.group(1) for m in anchors]
        np.add.at(links, line_of([m.start() for m in anchors]),
                  [len(TAG.sub("", t).strip()) if "<" in t else len(t.strip()) for t in inner])
    flags = np.zeros((len(raw_lines) + 1, len(BLOCK_SPANS)))
    for j, pattern in enumerate(BLOCK_SPANS):
        spans = [(m.start(), m.end()) for m in pattern.finditer(rendered)]
        if spans:
            starts, ends = np.array(spans).T
            np.add.at(flags[:, j], line_of(starts), 1)
            np.add.at(flags[:, j], line_of(ends - 1) + 1, -1)
    flags = np.cumsum(flags[:-1], axis=0) > 0
    table_row = np.fromiter(("\t\t" in raw for raw in raw_lines), dtype=bool, count=len(raw_lines))
    flags = np.column_stack([flags, table_row])
    texts, keep = [], []
    for i, raw in enumerate(raw_lines):
        if "<" in raw:
            raw = TAG.sub("", raw)
        if "&" in raw:
            raw = htmlmod.unescape(raw)
        text = _normalise(raw)
        if text:
            texts.append(text)
            keep.append(i)
    return texts, links[keep], flags[keep].astype(np.float64)


def _line_set(tree, **options) -> set[str]:
    from resiliparse.extract.html2text import extract_plain_text

    rendered = extract_plain_text(tree, preserve_formatting=True, alt_texts=False, list_bullets=False, **options)
    return {_normalise(line) for line in _visible(rendered).split("\n")}


def _window_mean(a: np.ndarray, k: int) -> np.ndarray:
    n = len(a)
    c = np.concatenate(([0.0], np.cumsum(a)))
    i = np.arange(n)
    lo, hi = np.maximum(i - k, 0), np.minimum(i + k + 1, n)
    return (c[hi] - c[lo]) / (hi - lo)


def _shift(a: np.ndarray, by: int) -> np.ndarray:
    out = np.zeros_like(a)
    if by > 0:
        out[by:] = a[:-by]
    else:
        out[:by] = a[-by:]
    return out


def _code_class(groups: tuple[str, ...]) -> np.ndarray:
    """A table from code point to 1 + the index of the group holding it (0: none); its last
    entry is 0, for every code point past the table (`_classes`)."""
    table = np.zeros(max(ord(c) for g in groups for c in g) + 2, dtype=np.int64)
    for k, group in enumerate(groups):
        table[[ord(c) for c in group]] = k + 1
    return table


def _classes(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    return table.take(np.minimum(codes, len(table) - 1))


# Character classes counted per line in one bincount: digits, ',.;:', separators, spaces
COUNTED = _code_class(("0123456789", ",.;:", SEPARATORS, " "))
# A line ends a sentence when its last character is one of .!?:; (class 1) or is a closing
# quote (class 2) after one
SENTENCE_END, CLOSING_QUOTE = 1, 2
END_MARKS = _code_class((".!?:;", "\"')»“”’"))


def _char_counts(texts: list[str], joined: str, lowered: str) -> tuple[np.ndarray, ...]:
    """Per line: digits, ',.;:' marks, separator marks, capitalised words, spaces, and whether
    it ends a sentence; numpy passes over the page's code points instead of a Python loop per
    character. `joined`: the (normalised, non-empty) lines joined by newlines; `lowered`: that, lowered."""
    n = len(texts)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    line_of = np.cumsum(codes == 10)
    counts = np.bincount(line_of * 5 + _classes(COUNTED, codes), minlength=5 * n).reshape(n, 5).astype(np.float64)
    last = np.flatnonzero(np.append(codes == 10, True)) - 1  # each line's last character
    # in a one-character line the one before is the newline before it, or (first line) itself: no end
    last_mark = _classes(END_MARKS, codes.take(last))
    mark_before = _classes(END_MARKS, codes.take(np.maximum(last - 1, 0)))
    ends = (last_mark == SENTENCE_END) | ((last_mark == CLOSING_QUOTE) & (mark_before == SENTENCE_END))
    if len(lowered) == len(joined):
        low = np.frombuffer(lowered.encode("utf-32-le"), dtype=np.uint32)
        upper = low != codes
        word_start = np.concatenate(([True], (codes[:-1] == 32) | (codes[:-1] == 10)))
        caps = np.bincount(line_of, weights=upper & word_start, minlength=n)
    else:  # a character whose lower case is longer (rare): count per line
        caps = np.array([sum(w[:1].isupper() for w in t.split()) for t in texts], dtype=np.float64)
    return counts[:, 1], counts[:, 2], counts[:, 3], caps, counts[:, 4], ends.astype(np.float64)


_FINDER = None


def _boilerplate_finder():
    """An Aho-Corasick automaton of BOILERPLATE (built once per process): .iter(text) gives
    (end offset, word length) of every occurrence."""
    global _FINDER
    if _FINDER is None:
        import ahocorasick

        finder = ahocorasick.Automaton()
        for word in BOILERPLATE:
            finder.add_word(word, len(word))
        finder.make_automaton()
        _FINDER = finder
    return _FINDER


def _pattern_lines(texts: list[str], joined: str, lowered: str, digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per line: holds a boilerplate word, holds a date (searched only in lines with digits)."""
    n = len(texts)
    starts = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]])
    at = [end + 1 - length for end, length in _boilerplate_finder().iter(lowered)]
    boiler = np.zeros(n)
    if at and len(lowered) == len(joined):  # lower() kept every offset
        boiler[np.searchsorted(starts, at, side="right") - 1] = 1.0
    elif at:
        boiler = np.fromiter((any(w in t.lower() for w in BOILERPLATE) for t in texts), dtype=np.float64, count=n)
    date = np.zeros(n)
    for i in np.flatnonzero(digits):
        date[i] = DATE.search(texts[i]) is not None
    return boiler, date


def _title_overlap(tree, texts: list[str]) -> np.ndarray:
    """Share of a line's words that are in the page's <title> (the headline usually is)."""
    title = set((tree.title or "").lower().split())
    if not title:
        return np.zeros(len(texts))
    return np.fromiter((len(title.intersection(w)) / len(w) for w in (t.lower().split() for t in texts)),
                       dtype=np.float64, count=len(texts))


def line_features(tree, texts: list[str], link_chars: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Feature matrix (lines x len(FEATURES)), float64."""
    n = len(texts)
    if n == 0:
        return np.zeros((0, len(FEATURES)))
    main = _line_set(tree, main_content=True, comments=False, post_meta=False)
    chars = np.fromiter(map(len, texts), dtype=np.float64, count=n)
    link = link_chars / np.maximum(chars, 1)
    in_main = np.fromiter((t in main for t in texts), dtype=np.float64, count=n)
    heading, paragraph, list_item, pre, table_row = blocks.T
    joined = "\n".join(texts)
    lowered = joined.lower()
    digits, punct, seps, caps, spaces, ends = _char_counts(texts, joined, lowered)
    words = spaces + 1
    counts = Counter(texts)
    repeats = np.fromiter((counts[t] for t in texts), dtype=np.float64, count=n)
    i = np.arange(n)
    log_chars = np.log1p(chars)
    hits = np.flatnonzero(in_main)
    first, last = (hits[0], hits[-1]) if len(hits) else (0, n - 1)
    span = ((i >= first) & (i <= last)).astype(np.float64)
    span_distance = np.where(i < first, first - i, np.where(i > last, i - last, 0)) / n
    unskipped = _line_set(tree, skip_elements=list(SKIP_SELECTORS))
    kept = np.fromiter((t in unskipped for t in texts), dtype=np.float64, count=n)
    boiler, date = _pattern_lines(texts, joined, lowered, digits)
    columns = [
        log_chars, np.log1p(words), link, in_main, heading, paragraph, list_item, pre,
        ends, digits / np.maximum(chars, 1), punct / np.maximum(words, 1), seps, caps / np.maximum(words, 1),
        repeats, i / max(n - 1, 1), np.cumsum(chars) / chars.sum(),
        _window_mean(in_main, 2), _window_mean(in_main, 5), _window_mean(link, 2), _window_mean(log_chars, 2),
        _window_mean(log_chars, 5), _window_mean((chars > 150).astype(np.float64), 5), span, span_distance,
        _shift(in_main, 1), _shift(in_main, -1), _shift(log_chars, 1), _shift(log_chars, -1),
        _shift(link, 1), _shift(link, -1), np.full(n, in_main.mean()), np.full(n, np.log1p(n)),
        kept, boiler, date, _window_mean(kept, 3),
        table_row, _title_overlap(tree, texts), log_chars - log_chars.max(),
    ]
    return np.column_stack(columns)


def page_features(html: str):
    """(line texts, feature matrix) of one page."""
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    texts, link_chars, blocks = page_lines(tree)
    if sum(map(len, texts)) < SWALLOWED_CHARS and NOSCRIPT_TAG.search(html):
        # The HTML parser runs with scripting off, so `<noscript><div></noscript>` leaves the
        # div open inside <noscript>, the rest of the page nests in it, and the renderer skips
        # it all (a real page of the evaluation set rendered nothing). Parse it again without
        # the noscript tags; keep whichever reading has more text.
        retry = HTMLTree.parse(NOSCRIPT_TAG.sub("", html))
        again = page_lines(retry)
        if sum(map(len, again[0])) > sum(map(len, texts)):
            tree, (texts, link_chars, blocks) = retry, again
    return texts, line_features(tree, texts, link_chars, blocks)


# Scores from the first model, read again by the second: a line between two confident
# article paragraphs is likely article too, one among low scores likely not (stacking).
CONTEXT_FEATURES = (
    "score", "score_win1", "score_win2", "score_win5", "score_win10", "score_prev", "score_next",
    "score_prev2", "score_next2", "page_max_score", "page_mean_score", "page_high_share",
    "inside_high_span", "distance_to_high",
)
HIGH_SCORE = 0.5  # a line "scores high" for the span and distance features


def context_features(X: np.ndarray, score: np.ndarray) -> np.ndarray:
    """The line features with CONTEXT_FEATURES appended (lines x (FEATURES + CONTEXT_FEATURES))."""
    n = len(score)
    if n == 0:
        return np.zeros((0, X.shape[1] + len(CONTEXT_FEATURES)))
    high = np.flatnonzero(score >= HIGH_SCORE)
    i = np.arange(n)
    if len(high):
        span = ((i >= high[0]) & (i <= high[-1])).astype(np.float64)
        at = np.searchsorted(high, i)  # the first high line at or after i
        after = np.abs(high[np.minimum(at, len(high) - 1)] - i)
        before = np.abs(i - high[np.maximum(at - 1, 0)])
        distance = np.minimum(after, before) / n
    else:
        span, distance = np.zeros(n), np.ones(n)
    columns = [
        score, _window_mean(score, 1), _window_mean(score, 2), _window_mean(score, 5), _window_mean(score, 10),
        _shift(score, 1), _shift(score, -1), _shift(score, 2), _shift(score, -2),
        np.full(n, score.max()), np.full(n, score.mean()), np.full(n, len(high) / n), span, distance,
    ]
    return np.column_stack([X] + columns)
