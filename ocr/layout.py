"""Reading order for positioned text: column-aware line assembly, paragraphs, and
removal of running headers, footers and page numbers.

The same code orders the text layer's lines (pymupdf) and the OCR engine's boxes, so
both routes produce text the same way: columns read top to bottom, left to right;
elements that span a gutter (titles, full-width figures' captions) cut the page into
bands that are read in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


@dataclass
class Box:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str

    @property
    def h(self) -> float:
        return self.y1 - self.y0


@dataclass
class Line:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    para_break: bool = False  # a paragraph starts at this line
    table: int = 0            # > 0: a Markdown row of table number `table` on its page

    def as_tuple(self) -> tuple:
        """The form pages travel in between the worker and the parent (pickled)."""
        return (self.text, self.x0, self.y0, self.x1, self.y1, self.para_break, self.table)


class TableBlock(list):
    """Boxes of one table (a list of Box) with the x edges between its columns."""

    def __init__(self, boxes: list[Box], edges: list[float]):
        super().__init__(boxes)
        self.edges = edges


def find_gutters(boxes: list[Box], min_gap: float, span_tolerance: float = 0.2) -> list[tuple[float, float]]:
    """Vertical whitespace bands (x ranges) inside the boxes' horizontal extent.

    An x position counts as empty when at most `span_tolerance` of the boxes cover it,
    so a few full-width titles do not hide a column gutter.
    """
    if len(boxes) < 4:
        return []
    lo = min(b.x0 for b in boxes)
    hi = max(b.x1 for b in boxes)
    width = int(np.ceil(hi - lo)) + 1
    if width < 3 * min_gap:
        return []
    cover = np.zeros(width + 1, np.int32)
    for b in boxes:  # difference array: +1 at start, -1 after end
        cover[int(b.x0 - lo)] += 1
        cover[int(np.ceil(b.x1 - lo))] -= 1
    cover = np.cumsum(cover)[:width]
    empty = cover <= max(0, int(span_tolerance * len(boxes)))
    gutters = []
    i = 0
    while i < width:
        if empty[i]:
            j = i
            while j < width and empty[j]:
                j += 1
            if i > 0 and j < width and (j - i) >= min_gap:
                gutters.append((lo + i, lo + j))
            i = j
        else:
            i += 1
    return gutters


def _group_rows(boxes: list[Box]) -> list[list[Box]]:
    """Boxes that overlap vertically by half their height form one row, left to right."""
    lines: list[list[Box]] = []
    for b in sorted(boxes, key=lambda b: ((b.y0 + b.y1) / 2, b.x0)):
        if lines:
            last = lines[-1]
            ly0 = min(x.y0 for x in last)
            ly1 = max(x.y1 for x in last)
            overlap = min(ly1, b.y1) - max(ly0, b.y0)
            if overlap > 0.5 * min(b.h, ly1 - ly0):
                last.append(b)
                continue
        lines.append([b])
    for parts in lines:
        parts.sort(key=lambda b: b.x0)
    return lines


def group_lines(boxes: list[Box]) -> list[Line]:
    """Boxes of one column into lines: a row's boxes join left to right with a space."""
    out = []
    for parts in _group_rows(boxes):
        out.append(Line(" ".join(p.text.strip() for p in parts if p.text.strip()),
                        min(p.x0 for p in parts), min(p.y0 for p in parts),
                        max(p.x1 for p in parts), max(p.y1 for p in parts)))
    return [ln for ln in out if ln.text]


def _mark_paragraphs(lines: list[Line]) -> None:
    """A paragraph starts after a vertical gap larger than 0.8 line heights, or at an
    indented line."""
    if not lines:
        return
    heights = np.array([ln.y1 - ln.y0 for ln in lines])
    h = float(np.median(heights)) or 1.0
    left = float(np.median([ln.x0 for ln in lines]))
    lines[0].para_break = True
    for prev, cur in zip(lines, lines[1:]):
        gap = cur.y0 - prev.y1
        indented = cur.x0 - left > 1.2 * h and abs(prev.x0 - left) < 0.5 * h
        new_column = gap < -h or cur.x0 > prev.x1  # jumped up, or to the right: a new column/block
        cur.para_break = gap > 0.8 * h or indented or new_column


def _y_gaps(boxes: list[Box]) -> list[tuple[float, int]]:
    """(gap size, split index) for each horizontal whitespace band, boxes sorted by y0."""
    gaps = []
    bottom = boxes[0].y1
    for k in range(1, len(boxes)):
        if boxes[k].y0 > bottom:
            gaps.append((boxes[k].y0 - bottom, k))
        bottom = max(bottom, boxes[k].y1)
    return gaps


def _is_table(cols: list[list[Box]]) -> bool:
    """Three or more columns of short cells whose rows line up: a table, read row-wise.
    (Lines of text columns fill their width and hold many words, so a page of text
    columns is not taken for one; a column of equal short cells, e.g. numbers, fills its
    width too, so few words per cell also counts as short.)"""
    if len(cols) < 3 or min(len(c) for c in cols) < 2:
        return False
    fill = []
    for c in cols:
        width = max(b.x1 for b in c) - min(b.x0 for b in c) or 1.0
        fill.extend((b.x1 - b.x0) / width for b in c)
    words = float(np.median([len(b.text.split()) for c in cols for b in c]))
    if float(np.median(fill)) > 0.6 and words > 3:
        return False
    first, others = cols[0], cols[1:]
    aligned = sum(1 for b in first
                  if all(any(min(b.y1, o.y1) - max(b.y0, o.y0) > 0.5 * min(b.h, o.h) for o in col) for col in others))
    return aligned >= 0.6 * len(first)


def _columns(boxes: list[Box], edges: list[float]) -> list[list[Box]]:
    """Boxes split at the x `edges` by their centre; empty columns left out."""
    cols: list[list[Box]] = [[] for _ in range(len(edges) + 1)]
    for b in boxes:
        cols[sum(1 for e in edges if (b.x0 + b.x1) / 2 >= e)].append(b)
    return [c for c in cols if c]


def _table_block(boxes: list[Box], edges: list[float], out: list[list[Box]]) -> None:
    """Append the table (read row by row into Markdown rows), less a caption: a lone box
    above or below it that crosses a column edge, set apart by more than a row's height."""
    rows = _group_rows(boxes)
    pitch = float(np.median([max(b.y1 for b in r) - min(b.y0 for b in r) for r in rows]))

    def caption(row: list[Box], neighbour: list[Box]) -> bool:
        gap = max(min(b.y0 for b in row), min(b.y0 for b in neighbour)) - min(
            max(b.y1 for b in row), max(b.y1 for b in neighbour))
        return len(row) == 1 and any(row[0].x0 < e < row[0].x1 for e in edges) and gap > pitch

    head, tail = [], []
    while len(rows) > 2 and caption(rows[0], rows[1]):
        head.append(rows.pop(0))
    while len(rows) > 2 and caption(rows[-1], rows[-2]):
        tail.insert(0, rows.pop())
    out.extend(head)
    out.append(TableBlock([b for r in rows for b in r], edges))
    out.extend(tail)


def _xy_cut(boxes: list[Box], min_gap: float, out: list[list[Box]], depth: int = 0,
            section_gap: float = float("inf")) -> None:
    """Recursive XY-cut: a horizontal gap wider than `section_gap` (between sections) cuts
    first; then a column gutter that no box crosses (columns read left to right); else the
    widest horizontal gap (top to bottom). What cannot be cut is one block. Cutting at the
    widest gap lets a gutter beside a sidebar or an infobox appear once the full-width text
    above it is cut off."""
    if len(boxes) <= 1 or depth > 60:
        if boxes:
            out.append(boxes)
        return
    ordered = sorted(boxes, key=lambda b: (b.y0, b.x0))
    gaps = _y_gaps(ordered)
    if gaps and max(gaps)[0] > section_gap:
        _, k = max(gaps)
        _xy_cut(ordered[:k], min_gap, out, depth + 1, section_gap)
        _xy_cut(ordered[k:], min_gap, out, depth + 1, section_gap)
        return
    one_line = max(b.y0 for b in boxes) < min(b.y1 for b in boxes)  # wide word spaces are no gutter
    gutters = [] if one_line else find_gutters(boxes, min_gap=min_gap, span_tolerance=0.0)
    if gutters:
        # Columns under a spanning header cell: gutters that at most a few boxes cross.
        loose = find_gutters(boxes, min_gap=min_gap, span_tolerance=min(3, max(1, 0.02 * len(boxes))) / len(boxes))
        for cand in ([loose] if len(loose) > len(gutters) else []) + [gutters]:
            edges = [(g0 + g1) / 2 for g0, g1 in cand]
            cols = _columns(boxes, edges)
            if len(cols) > 2 and _is_table(cols):
                _table_block(boxes, edges, out)
                return
        cols = _columns(boxes, [(g0 + g1) / 2 for g0, g1 in gutters])
        if len(cols) > 1:
            for col in cols:
                _xy_cut(col, min_gap, out, depth + 1, section_gap)
            return
    if not gaps:
        out.append(boxes)
        return
    _, k = max(gaps)
    _xy_cut(ordered[:k], min_gap, out, depth + 1, section_gap)
    _xy_cut(ordered[k:], min_gap, out, depth + 1, section_gap)


def order_boxes(boxes: list[Box], page_width: float) -> list[Line]:
    """Boxes of one page to lines in reading order, with paragraph starts marked."""
    boxes = [b for b in boxes if b.text and b.text.strip() and b.x1 > b.x0]
    if not boxes:
        return []
    med_h = float(np.median([b.h for b in boxes])) or 1.0
    blocks: list[list[Box]] = []
    _xy_cut(boxes, max(0.8 * med_h, 0.012 * page_width), blocks, section_gap=2.0 * med_h)
    lines: list[Line] = []
    tables = 0
    for block in blocks:
        if not isinstance(block, TableBlock):
            lines.extend(group_lines(block))
            continue
        rows = table_rows(block)
        prev = lines[-1] if lines else None
        # A table cut in two by a wide row gap continues when the column count is the same.
        same = prev is not None and prev.table and prev.text.count(" | ") == rows[0].text.count(" | ")
        tables += 0 if same else 1
        for row in rows:
            row.table = tables
        lines.extend(rows)
    _mark_paragraphs(lines)
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table_rows(block: TableBlock) -> list[Line]:
    """One Markdown row (`| a | b |`) per row of the table; a box goes to the column it
    starts in, boxes sharing a cell join with a space. A row that only continues
    cells of the row above (a wrapped cell: set tighter than the row pitch) joins it."""
    edges = block.edges
    rows: list[tuple[list[str], float, float, float, float]] = []
    groups = _group_rows(list(block))
    pitch = float(np.median([max(b.y1 for b in g) - min(b.y0 for b in g) for g in groups]))
    for parts in groups:
        cells = [""] * (len(edges) + 1)
        for b in parts:
            k = sum(1 for e in edges if b.x0 >= e)  # a cell spanning columns goes to its first
            cells[k] = f"{cells[k]} {b.text.strip()}".strip()
        x0, y0 = min(p.x0 for p in parts), min(p.y0 for p in parts)
        x1, y1 = max(p.x1 for p in parts), max(p.y1 for p in parts)
        if len(rows) > 1:
            above = rows[-1]
            filled = [bool(c) for c in cells]
            if (y0 - above[4] < 0.3 * pitch and not all(filled)
                    and all(above[0][k] for k, f in enumerate(filled) if f)):
                merged = [f"{a} {c}".strip() for a, c in zip(above[0], cells)]
                rows[-1] = (merged, min(above[1], x0), above[2], max(above[3], x1), y1)
                continue
        rows.append((cells, x0, y0, x1, y1))
    return [Line("| " + " | ".join(_cell(c) for c in cells) + " |", x0, y0, x1, y1)
            for cells, x0, y0, x1, y1 in rows]


_PAGE_NUMBER = re.compile(r"^\W*(page\s*)?(\d{1,4}|[ivxlc]{1,7})(\s*(of|/)\s*\d{1,4})?\W*$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")


def _norm(text: str) -> str:
    return _DIGITS.sub("#", " ".join(text.lower().split()))


def remove_running_lines(pages: list[list[Line]], heights: list[float], zone: float = 0.1,
                         min_repeats: int = 3) -> tuple[list[list[Line]], int]:
    """Drop page numbers and lines repeated in the top/bottom `zone` of many pages.

    Returns the cleaned pages and how many lines were removed. Only the first and last two
    lines of a page are candidates, so body text that repeats is never touched.
    """
    def candidates(lines: list[Line], h: float):
        idx = list(range(min(2, len(lines)))) + list(range(max(2, len(lines) - 2), len(lines)))
        return [i for i in dict.fromkeys(idx) if lines[i].y1 < zone * h or lines[i].y0 > (1 - zone) * h]

    counts: dict[str, int] = {}
    for lines, h in zip(pages, heights):
        for key in {_norm(lines[i].text) for i in candidates(lines, h)}:
            counts[key] = counts.get(key, 0) + 1
    need = max(min_repeats, int(0.3 * len(pages))) if len(pages) >= min_repeats else 10**9
    removed = 0
    out = []
    for lines, h in zip(pages, heights):
        drop = {i for i in candidates(lines, h)
                if _PAGE_NUMBER.match(lines[i].text) or counts.get(_norm(lines[i].text), 0) >= need}
        removed += len(drop)
        kept = [ln for i, ln in enumerate(lines) if i not in drop]
        if kept and drop:
            kept[0].para_break = True
        out.append(kept)
    return out, removed


_HYPHEN_END = re.compile(r"[a-zà-ÿ]-$")
_LEADERS = re.compile(r"(?:[ \t]?[.·…_]){5,}[ \t]?")  # dot leaders of tables of contents and tables


def _separator(row: str) -> str:
    return "|" + "---|" * len(re.split(r"(?<!\\) \| ", row))


def render(lines: list[Line]) -> str:
    """Lines to text: a paragraph per line of output, hyphenated line ends joined; the rows
    of a table as one Markdown table (separator after its first row), a block of its own."""
    paras: list[str] = []
    cur = ""
    table = 0  # the table `cur` holds, 0 when it holds prose
    for ln in lines:
        t = ln.text.strip()
        if ln.table and ln.table == table:
            cur = f"{cur}\n{t}"
            continue
        if ln.table or table or ln.para_break or not cur:
            if cur:
                paras.append(cur)
            cur = f"{t}\n{_separator(t)}" if ln.table else t
            table = ln.table
        elif _HYPHEN_END.search(cur) and t[:1].islower():
            cur = cur[:-1] + t
        else:
            cur = f"{cur} {t}"
    if cur:
        paras.append(cur)
    return _LEADERS.sub(" ", "\n\n".join(paras))
