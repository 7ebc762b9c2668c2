"""Running headers, footers, page numbers and stamps recognised on a page by itself.

Cross-page repetition (`layout.remove_running_lines`) needs several pages; a one-page PDF
has none. Here each page is read alone, from what its lines show: position (the top or
bottom margin band, the side margins), size relative to the body text (line height:
the same measure for text-layer lines and OCR boxes), isolation (a blank gap of about a
line between the margin rows and the body) and typical patterns (page numbers, "Page 2
of 9", "Downloaded from ... on <date>", DOIs, ISSNs, journal lines such as "Volume 8 |
Issue 3 | e2748" or "J Gen Plant Pathol (2005) 71:107-116", URLs, browser print stamps).

Every rule needs the margin AND a second signal, so body text is not removed:
- a strong pattern (stamp, DOI, ISSN, "Page x of y", print date) in the outermost rows
  of the band;
- a page number alone in the outermost row of the band;
- in an isolated margin cluster (at most 3 rows, a line's gap from the body): a weak
  pattern (journal line, URL, page number beside a short title) or a smaller size
  than the body (not next to a table: its caption and header row are small too), unless
  the line reads like a footnote or caption (starts with a note mark or "Table 1", or
  ends a sentence);
- in a side margin: a line written across the page (tall and narrow), such as a
  "Downloaded from" or arXiv stamp, of 20 characters or more;
- in the top quarter of a page, a DOI or journal citation line standing alone between
  gaps (the citation line under an article's title).
Table rows are never touched.
"""

from __future__ import annotations

import re

import numpy as np

from gristmill.ocr.layout import Line

BAND = 0.14          # top/bottom share of the page height that can hold headers/footers
SIDE = 0.12          # left/right share that can hold a turned stamp
SMALL = 0.85         # a line this much smaller than the body's line height is "small"
ISOLATION = 0.9      # blank gap (in body line heights) that sets a margin cluster apart
MAX_CLUSTER_ROWS = 3

_ROMAN = r"[ivxlc]{1,7}"
PAGE_NUMBER = re.compile(rf"^\W*(page|p\.|seite|pág\.?)?\s*(\d{{1,4}}|{_ROMAN})(\s*(of|/|von|de)\s*(\d{{1,4}}|{_ROMAN}))?\W*$",
                         re.IGNORECASE)
_STRONG = [
    re.compile(r"^\W*(this content )?(downloaded|accessed|retrieved)\s+(from|by|on)\b", re.I),
    re.compile(r"\bdownloaded\s+(from|by)\s+(https?://|www\.|\S+\.(com|org|net|edu|gov)\b).*\b(19|20)\d\d\b", re.I),
    re.compile(r"\b(e-?|p-?)?ISSN\s*:?\s*\d{4}-?\d{3}[\dX]\b", re.I),
    re.compile(r"^\W*page\s+(\d{1,4}|[ivxlc]{1,7})\s+(of|/)\s+(\d{1,4}|[ivxlc]{1,7})\b", re.I),
    re.compile(r"^\d{1,2}/\d{1,2}/\d{2,4},?\s*\d{1,2}:\d{2}(\s*[AP]M)?\b", re.I),  # browser print stamp
]
_DOI = re.compile(r"\b(doi\s*:?\s*|doi\.org/)10\.\d{4,9}/\S+", re.I)
_URL = re.compile(r"(https?://|www\.)\S+", re.I)
_JOURNAL_MARKS = [
    re.compile(r"\bvol(ume)?\.?\s*\d+", re.I), re.compile(r"\b(issue|no\.)\s*\d+", re.I),
    re.compile(r"\(\s*(19|20)\d\d\s*\)"), re.compile(r"\b\d+\s*:\s*\d+\s*[-–]\s*\d+"),
    re.compile(r"\bpp?\.\s*\d+"), re.compile(r"\|\s*e\d{3,}\b"), re.compile(r"\bet al\.", re.I),
    re.compile(r"\b(19|20)\d\d\s*;\s*\d+"), re.compile(r"\b(19|20)\d\d\b"),
]
_NUMBERED_HEAD = re.compile(r"^(\d{1,4}|[ivxlc]{1,7})\s+\S.{0,150}$|^.{0,150}\S\s+(\d{1,4}|[ivxlc]{1,7})$", re.I)
_FOOTNOTE_START = re.compile(r"^\s*([*†‡§¶#]|\(?\d{1,2}\)|\([A-Za-z]\)\s|\d{1,2}\s+[A-Z][a-z]+\s+[a-z]|(table|fig\.?|figure|chart|scheme)\s*\d)",
                             re.I)
_SENTENCE_END = re.compile(r"[.!?;:,]$")
# "Chapter 4", "Part II", "Section 3": a heading, not a running head with its page number.
_SECTION = re.compile(r"^\W*(chapter|chap\.|part|section|book|appendix|lecture|lesson|unit|volume|act|scene|"
                      r"article|table|figure|fig\.|kapitel|chapitre|teil)\s+(\d+|[ivxlc]+)\b", re.I)


def _h(ln: Line) -> float:
    return ln.y1 - ln.y0


def _turned(ln: Line) -> bool:
    """Written across the page: a tall, narrow box with text in it."""
    return _h(ln) > 3 * (ln.x1 - ln.x0) and len(ln.text.strip()) >= 4


def strong_pattern(text: str) -> bool:
    t = text.strip()
    if any(p.search(t) for p in _STRONG):
        return True
    return bool(_DOI.search(t)) and (len(t.split()) <= 6 or bool(re.match(r"\W*(doi|https?://(dx\.)?doi\.org)", t, re.I)))


def journal_line(text: str) -> bool:
    t = text.strip()
    return len(t) <= 140 and sum(1 for p in _JOURNAL_MARKS[:-1] if p.search(t)) + bool(
        _JOURNAL_MARKS[-1].search(t)) >= 2


def weak_pattern(text: str, numbered_head: bool = True) -> bool:
    t = " ".join(text.split())
    if PAGE_NUMBER.match(t) or journal_line(t):
        return True
    url = _URL.search(t)
    if url and len(t) - len(url.group(0)) <= 40:
        return True
    return numbered_head and bool(_NUMBERED_HEAD.match(t)) and len(t.split()) <= 16 and not _SECTION.match(t)


def running_head(text: str) -> bool:
    """A page number beside a short title set in capitals or title case ("88 FREE CULTURE",
    "400 BRITISH HUSBANDRY. [Ch. XIX."): recognisable without isolation."""
    t = " ".join(text.split())
    words = [w for w in re.findall(r"[^\W\d_]+", t) if len(w) > 2]
    if not _NUMBERED_HEAD.match(t) or not words or len(t.split()) > 8 or _SECTION.match(t):
        return False
    return sum(1 for w in words if w[0].isupper()) >= 0.6 * len(words)


def _rows(lines: list[Line]) -> list[list[Line]]:
    """Lines that overlap vertically by half their height form one row; rows top to bottom."""
    rows: list[list[Line]] = []
    for ln in sorted(lines, key=lambda ln: (ln.y0 + ln.y1) / 2):
        if rows:
            r0, r1 = min(x.y0 for x in rows[-1]), max(x.y1 for x in rows[-1])
            if min(r1, ln.y1) - max(r0, ln.y0) > 0.5 * min(_h(ln), r1 - r0):
                rows[-1].append(ln)
                continue
        rows.append([ln])
    return rows


def _footnote_like(ln: Line) -> bool:
    """A note or a caption, not a header: starts with a note mark or "Table 2", or ends a sentence."""
    t = ln.text.strip()
    return bool(_FOOTNOTE_START.match(t)) or (len(t.split()) > 5 and bool(_SENTENCE_END.search(t)))


def margin_lines(lines: list[Line], width: float, height: float) -> set[int]:
    """Indices of the lines that are headers, footers, page numbers or stamps."""
    if len(lines) < 3 or height <= 0:
        return set()
    flat = [i for i, ln in enumerate(lines) if not ln.table and not _turned(ln) and ln.text.strip()]
    if len(flat) < 3:
        return set()
    # A ruled table's rows (cells that wrap) count at their text's line height.
    sized = flat + [i for i, ln in enumerate(lines) if ln.table and ln.line_h > 0]
    heights = np.array([lines[i].line_h or _h(lines[i]) for i in sized])
    weights = np.array([len(lines[i].text) for i in sized], float)
    order = np.argsort(heights)
    cum = np.cumsum(weights[order])
    body_h = float(heights[order][np.searchsorted(cum, cum[-1] / 2)]) or 1.0  # char-weighted median
    drop: set[int] = set()
    index = {id(lines[i]): i for i in flat}

    # Turned stamps in the side margins.
    for i, ln in enumerate(lines):
        if _turned(ln) and not ln.table and (ln.x1 < SIDE * width or ln.x0 > (1 - SIDE) * width) and (
                len(ln.text.strip()) >= 20 or strong_pattern(ln.text)):
            drop.add(i)

    # Table rows take part in the geometry (a caption or header row next to a table is not
    # isolated from it) but are never removed.
    tabled = [ln for ln in lines if ln.table and not _turned(ln)]
    rows = _rows([lines[i] for i in flat] + tabled)

    # Size: the line height, or for OCR boxes (padded, of a minimum height) the width per
    # character, both against the body's char-weighted median.
    pitches = [(lines[i].x1 - lines[i].x0) / len(lines[i].text) for i in flat if len(lines[i].text) >= 15]
    body_pitch = float(np.median(pitches)) if len(pitches) >= 3 else 0.0

    def small(ln: Line) -> bool:
        if _h(ln) < SMALL * body_h:
            return True
        return bool(body_pitch) and len(ln.text) >= 15 and (ln.x1 - ln.x0) / len(ln.text) < SMALL * body_pitch

    for side in ("top", "bottom"):
        seq = rows if side == "top" else rows[::-1]

        def in_band(row) -> bool:
            if side == "top":
                return max(x.y1 for x in row) <= BAND * height
            return min(x.y0 for x in row) >= (1 - BAND) * height

        def gap(a, b) -> float:  # blank space between row a and the next row b (towards the body)
            if side == "top":
                return min(x.y0 for x in b) - max(x.y1 for x in a)
            return min(x.y0 for x in a) - max(x.y1 for x in b)

        def gap_min(row) -> float:  # a small line needs a gap of its own size, not the body's
            return ISOLATION * min(body_h, max(_h(x) for x in row))

        k = 0
        inner = False  # past the first cluster from the edge
        while k < len(seq) and in_band(seq[k]) and not any(x.table for x in seq[k]):
            # The cluster starting at row k: rows closer to each other than the isolation gap.
            end = k
            while (end + 1 < len(seq) and in_band(seq[end + 1]) and not any(x.table for x in seq[end + 1])
                   and gap(seq[end], seq[end + 1]) < gap_min(seq[end])):
                end += 1
            next_is_table = end + 1 < len(seq) and any(x.table for x in seq[end + 1])
            # Isolated: few rows, a blank gap before the body, and body rows beyond it.
            isolated = (end + 1 - k) <= MAX_CLUSTER_ROWS and end + 2 < len(seq) and (
                gap(seq[end], seq[end + 1]) >= gap_min(seq[end]))
            removed_here = False
            # Several "title  page" rows together are a table of contents, not a running head.
            toc = sum(1 for r in range(k, min(end + 2, len(seq)))
                      if _NUMBERED_HEAD.match(" ".join(" ".join(x.text for x in seq[r]).split()))) >= 2
            for r in range(k, end + 1):
                row = seq[r]
                numbered = any(PAGE_NUMBER.match(x.text.strip()) for x in row)
                for ln in row:
                    t = ln.text
                    # Smaller text counts only in the cluster at the page edge: one further in
                    # (keywords, a footnote above a footer) needs a pattern.
                    hit = strong_pattern(t) or (
                        isolated and not _footnote_like(ln) and (
                            weak_pattern(t, not toc) or (numbered and not toc)
                            or (small(ln) and not next_is_table and not inner)))
                    if r == k and (len(row) == 1 and PAGE_NUMBER.match(t.strip()) or (
                            running_head(t) and _h(ln) <= 1.15 * body_h and not toc)):
                        hit = True  # a page number alone, or a numbered running head, in the outermost row
                    if hit:
                        drop.add(index[id(ln)])
                        removed_here = True
            if not (isolated or removed_here) or not all(
                    index[id(x)] in drop for r in range(k, end + 1) for x in seq[r]):
                break  # something in this cluster stays: it is body, stop here
            k = end + 1
            inner = True
        # Stamps and DOI lines anywhere in the band, whatever is around them.
        for row in seq:
            if not in_band(row):
                break
            drop.update(index[id(x)] for x in row if not x.table and strong_pattern(x.text))

    # The citation line under an article's title: a DOI or journal line between gaps, top quarter.
    for r, row in enumerate(rows):
        if any(x.table for x in row):
            continue
        if max(x.y1 for x in row) > 0.25 * height:
            break
        above = min(x.y0 for x in row) - max(x.y1 for x in rows[r - 1]) if r else body_h
        below = min(x.y0 for x in rows[r + 1]) - max(x.y1 for x in row) if r + 1 < len(rows) else body_h
        if len(row) == 1 and above >= 0.5 * body_h and below >= 0.5 * body_h:
            if _DOI.search(row[0].text) and len(row[0].text.split()) <= 20:
                drop.add(index[id(row[0])])
    return drop


def strip_margins(lines: list[Line], width: float, height: float) -> tuple[list[Line], int]:
    """The page's lines less its headers, footers, page numbers and stamps; and how many went."""
    drop = margin_lines(lines, width, height)
    if not drop:
        return lines, 0
    kept = [ln for i, ln in enumerate(lines) if i not in drop]
    if kept:
        kept[0].para_break = True
    return kept, len(drop)
