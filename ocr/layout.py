"""Reading order for positioned text: column-aware line assembly, paragraphs, and
removal of running headers, footers and page numbers.

The same code orders the text layer's lines (pymupdf) and the OCR engine's boxes, so
both routes produce text the same way: columns read top to bottom, left to right;
elements that span a gutter (titles, full-width figures' captions) cut the page into
bands that are read in order.
"""

from __future__ import annotations

import re

import numpy as np

from gristmill.ocr.geometry import Box, Line, TableBlock, group_rows
from gristmill.ocr.number_columns import number_column_edges, split_amount_runs
from gristmill.ocr.ruled import Grid, cell_boxes
from gristmill.ocr.tables import columns, is_table, join_table_rows, n_columns, table_block, table_rows

__all__ = ["Box", "Line", "TableBlock", "find_gutters", "group_lines", "order_boxes", "remove_running_lines", "render"]


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


def group_lines(boxes: list[Box]) -> list[Line]:
    """Boxes of one column into lines: a row's boxes join left to right with a space."""
    out = []
    for parts in group_rows(boxes):
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
    # Figure columns set closer than a gutter (financial statements): found by their
    # right-aligned amounts; they win over a gutter table that has fewer columns.
    figures = None if one_line else number_column_edges(boxes, gutters)
    if gutters:
        # Columns under a spanning header cell: gutters that at most a few boxes cross.
        loose = find_gutters(boxes, min_gap=min_gap, span_tolerance=min(3, max(1, 0.02 * len(boxes))) / len(boxes))
        for cand in ([loose] if len(loose) > len(gutters) else []) + [gutters]:
            edges = [(g0 + g1) / 2 for g0, g1 in cand]
            cols = columns(boxes, edges)
            if len(cols) >= 2 and is_table(cols):
                table_block(boxes, figures if figures and len(figures) > len(edges) else edges, out)
                return
    if figures:
        table_block(boxes, figures, out)
        return
    if gutters:
        # Cut at the widest gutter only, and look at each side again: two tables side by
        # side (or a table beside text) are cut apart there, not into all their columns.
        g0, g1 = max(gutters, key=lambda g: g[1] - g[0])
        cols = columns(boxes, [(g0 + g1) / 2])
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


def _take_ruled(boxes: list[Box], grids: list[Grid]) -> tuple[list[Box], dict[str, TableBlock]]:
    """The boxes inside each ruled grid become that grid's table (one box per cell); a
    placeholder box the size of the grid stands in for it in the XY-cut, so the table is
    read where it sits. A grid counts when its cells fill two rows and two columns."""
    tables: dict[str, TableBlock] = {}
    for i, grid in enumerate(grids):
        inside = [b for b in boxes if grid.holds(b)]
        cells = cell_boxes(grid, inside)
        edges = grid.xs[1:-1]
        cols = {sum(1 for e in edges if (c.x0 + c.x1) / 2 >= e) for c in cells}
        if len(cols) < 2 or len(group_rows(cells)) < 2:
            continue
        key = f"\x00ruled{i}"
        tables[key] = TableBlock(cells, edges, ruled=True)
        held = {id(b) for b in inside}
        tight = (min(c.x0 for c in cells), min(c.y0 for c in cells), max(c.x1 for c in cells), max(c.y1 for c in cells))
        boxes = [b for b in boxes if id(b) not in held] + [Box(*tight, key)]
    return boxes, tables


def _put_ruled(blocks: list[list[Box]], tables: dict[str, TableBlock]) -> list[list[Box]]:
    """Placeholders back to their tables; a block holding one besides other boxes is cut
    into the rows above the table, the table, and the rows below."""
    out: list[list[Box]] = []
    for block in blocks:
        marks = [b for b in block if b.text in tables]
        if not marks:
            out.append(block)
            continue

        def part(bs: list[Box]) -> list[Box]:  # an unruled table beside the grid stays one
            return TableBlock(bs, block.edges) if isinstance(block, TableBlock) else bs

        rest = [b for b in block if b.text not in tables]
        for m in sorted(marks, key=lambda b: b.y0):
            # Text in a column beside the table (no x overlap) is read before it (left) or
            # after it (right); text over or under it, above or below it.
            left = [b for b in rest if b.x1 <= m.x0]
            right = [b for b in rest if b.x0 >= m.x1]
            over = [b for b in rest if b.x1 > m.x0 and b.x0 < m.x1]
            above = [b for b in over if (b.y0 + b.y1) / 2 < m.y0]
            for bs in (left, above):
                if bs:
                    out.append(part(bs))
            out.append(tables[m.text])
            rest = [b for b in over if (b.y0 + b.y1) / 2 >= m.y0] + right
        if rest:
            out.append(part(rest))
    return out


_CURRENCY = re.compile(r"^[$€£¥￥₹₩¢]$|^(US\$|USD|EUR|JPY|GBP|CHF|RMB)$")


def merge_currency(boxes: list[Box]) -> list[Box]:
    """A currency sign set as a box of its own (¥ or $ aligned left of a column of
    amounts) joins the amount to its right on the same row, so the sign does not make a
    column of its own nor split an amount's column."""
    signs = [b for b in boxes if _CURRENCY.match(b.text.strip())]
    if not signs:
        return boxes
    gone: set[int] = set()
    merged: dict[int, Box] = {}
    for s in signs:
        # (OCR boxes carry margins: the amount's box may start a little before the sign's ends)
        right = [b for b in boxes if b is not s and id(b) not in gone and b.x0 >= s.x1 - 0.25 * s.h
                 and min(b.y1, s.y1) - max(b.y0, s.y0) > 0.5 * min(b.h, s.h) and b.x0 - s.x1 < 3 * s.h]
        if not right:
            continue
        num = merged.get(id(n := min(right, key=lambda b: b.x0)), n)
        if not any(ch.isdigit() for ch in num.text):
            continue
        merged[id(n)] = Box(s.x0, min(s.y0, num.y0), num.x1, max(s.y1, num.y1), f"{s.text.strip()} {num.text.strip()}")
        gone.add(id(s))
    return [merged.get(id(b), b) for b in boxes if id(b) not in gone]


def order_boxes(boxes: list[Box], page_width: float, grids: list[Grid] | None = None) -> list[Line]:
    """Boxes of one page to lines in reading order, with paragraph starts marked; `grids`
    are the page's ruled tables (from its drawings), if known."""
    boxes = [b for b in boxes if b.text and b.text.strip() and b.x1 > b.x0]
    if not boxes:
        return []
    med_h = float(np.median([b.h for b in boxes])) or 1.0
    boxes, ruled = _take_ruled(merge_currency(split_amount_runs(boxes)), grids or [])
    blocks: list[list[Box]] = []
    _xy_cut(boxes, max(0.8 * med_h, 0.012 * page_width), blocks, section_gap=2.0 * med_h)
    blocks = join_table_rows(_put_ruled(blocks, ruled) if ruled else blocks)
    lines: list[Line] = []
    tables = 0
    for block in blocks:
        if not isinstance(block, TableBlock):
            lines.extend(group_lines(block))
            continue
        rows = table_rows(block)
        prev = lines[-1] if lines else None
        # A table cut in two by a wide row gap continues when the column count is the same.
        same = (prev is not None and prev.table and n_columns(prev.text) == n_columns(rows[0].text)
                and prev.text.startswith("<tr>") == rows[0].text.startswith("<tr>"))
        tables += 0 if same else 1
        for row in rows:
            row.table = tables
        lines.extend(rows)
    _mark_paragraphs(lines)
    return lines


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
    of a table as one Markdown table (separator after its first row) or HTML table (rows
    written as `<tr>`), a block of its own."""
    paras: list[str] = []
    cur = ""
    table = 0  # the table `cur` holds, 0 when it holds prose

    def flush():
        if cur:
            paras.append(f"{cur}\n</table>" if cur.startswith("<table>") else cur)

    for ln in lines:
        t = ln.text.strip()
        if ln.table and ln.table == table:
            cur = f"{cur}\n{t}"
            continue
        if ln.table or table or ln.para_break or not cur:
            flush()
            if ln.table:
                cur = f"<table>\n{t}" if t.startswith("<tr>") else f"{t}\n{_separator(t)}"
            else:
                cur = t
            table = ln.table
        elif _HYPHEN_END.search(cur) and t[:1].islower():
            cur = cur[:-1] + t
        else:
            cur = f"{cur} {t}"
    flush()
    return _LEADERS.sub(" ", "\n\n".join(paras))
