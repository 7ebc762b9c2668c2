"""Tables from positioned boxes (text layer or OCR): detection inside the XY-cut, rows and
cells, and their text: a Markdown table, or an HTML table where a header cell spans
columns (a multi-level header, which Markdown cannot write).

A block with two or more columns of short cells whose rows line up is a table; ruling
lines are not needed (measured against pymupdf's and pdfplumber's table finders: see
README, "PDFs and OCR"). Where a text layer's page draws them, `ruled.py` takes the cells
from the rules instead (cells that wrap onto several lines), and its tables are written here.
"""

from __future__ import annotations

import html
import re

import numpy as np

from gristmill.ocr.geometry import Box, Line, TableBlock, group_rows
from gristmill.ocr.number_columns import YEAR, is_amount


_LEADER = re.compile(r"^[\s.·…_-]*$")  # a dot leader set as a box of its own


def _key_value(cols: list[list[Box]]) -> bool:
    """Two columns are a table only as labels and values: at least 4 aligned rows, few
    words on both sides, labels that are words (not list bullets or numbers)."""
    labels, values = cols
    if len(labels) < 4 or len(values) < 4:
        return False
    if max(float(np.median([len(b.text.split()) for b in c])) for c in cols) > 4:
        return False
    fills = []
    for c in cols:  # lines of a text column fill it; labels and values mostly do not
        width = max(b.x1 for b in c) - min(b.x0 for b in c) or 1.0
        fills.append(float(np.median([(b.x1 - b.x0) / width for b in c])))
    if min(fills) > 0.7:
        return False
    wordy = sum(1 for b in labels if sum(ch.isalpha() for ch in b.text) >= 3)
    if wordy < 0.8 * len(labels):
        return False
    aligned = sum(1 for b in labels if any(min(b.y1, o.y1) - max(b.y0, o.y0) > 0.5 * min(b.h, o.h) for o in values))
    return aligned >= 0.8 * len(labels)


def is_table(cols: list[list[Box]]) -> bool:
    """Three or more columns of short cells whose rows line up, or two columns of labels
    and values: a table, read row-wise. (Lines of text columns fill their width and hold
    many words, so a page of text columns is not taken for one; a column of equal short
    cells, e.g. numbers, fills its width too, so few words per cell also counts as short.)"""
    if len(cols) == 2:
        return _key_value(cols)
    if len(cols) < 3 or min(len(c) for c in cols) < 2:
        return False
    for c in cols:  # a column with boxes side by side in most of its rows holds columns of its own
        rows = group_rows([b for b in c if not _LEADER.match(b.text)])
        if sum(1 for r in rows if any(q.x0 > p.x1 for p, q in zip(r, r[1:]))) > 0.5 * len(rows):
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


def columns(boxes: list[Box], edges: list[float]) -> list[list[Box]]:
    """Boxes split at the x `edges` by their centre; empty columns left out."""
    cols: list[list[Box]] = [[] for _ in range(len(edges) + 1)]
    for b in boxes:
        cols[sum(1 for e in edges if (b.x0 + b.x1) / 2 >= e)].append(b)
    return [c for c in cols if c]


def table_block(boxes: list[Box], edges: list[float], out: list[list[Box]]) -> None:
    """Append the table (read row by row into Markdown rows), less a caption: a lone box
    above or below it that crosses a column edge, set apart by more than a row's height."""
    rows = group_rows(boxes)
    pitch = float(np.median([max(b.y1 for b in r) - min(b.y0 for b in r) for r in rows]))

    def lone(row: list[Box]) -> bool:
        return len(row) == 1 and any(row[0].x0 < e < row[0].x1 for e in edges)

    def gap(a: list[Box], b: list[Box]) -> float:
        return max(min(x.y0 for x in a), min(x.y0 for x in b)) - min(max(x.y1 for x in a), max(x.y1 for x in b))

    def caption_lines(rows: list[list[Box]]) -> int:
        """Leading rows that are a caption: lone lines crossing a column edge (a caption
        may take several lines), the last of them set apart from the next row by more
        than a row's height."""
        k = found = 0
        while len(rows) - k > 2 and lone(rows[k]):
            k += 1
            if gap(rows[k - 1], rows[k]) > pitch:
                found = k
        return found

    n = caption_lines(rows)
    head, rows = rows[:n], rows[n:]
    n = caption_lines(rows[::-1])
    tail, rows = rows[len(rows) - n:], rows[:len(rows) - n]
    out.extend(head)
    out.append(TableBlock([b for r in rows for b in r], edges))
    out.extend(tail)


def _fits(row: list[Box], table: TableBlock) -> bool:
    """One row of two or more boxes, each in a column of its own, within a few row pitches."""
    if len(row) < 2:
        return False
    cols = [sum(1 for e in table.edges if (b.x0 + b.x1) / 2 >= e) for b in row]
    if len(set(cols)) != len(cols):
        return False
    pitch = float(np.median([b.h for b in table])) or 1.0
    gap = min(abs(min(b.y0 for b in table) - max(b.y1 for b in row)), abs(min(b.y0 for b in row) - max(b.y1 for b in table)))
    return gap < 4 * pitch


def _split_header(out: list[list[Box]], table: TableBlock) -> TableBlock:
    """A header row whose last cell stands past the end of a caption above it is cut
    by the caption's gutter into two blocks: the row nearest the table, taken from the
    last two blocks before it, joins the table when its boxes lie over the table, fall in
    distinct columns and fill at least half of them; the blocks keep the rest, in order."""
    prev = [k for k in (len(out) - 2, len(out) - 1) if k >= 0 and not isinstance(out[k], TableBlock)]
    top = min(b.y0 for b in table)
    x0, x1 = min(b.x0 for b in table), max(b.x1 for b in table)
    pool = [b for k in prev for b in out[k] if b.y1 <= top and x0 - 1 <= (b.x0 + b.x1) / 2 <= x1 + 1]
    if len(prev) < 2 or not pool:
        return table
    row = group_rows(pool)[-1]
    if not _fits(row, table) or len(row) < 0.5 * (len(table.edges) + 1):
        return table
    taken = {id(b) for b in row}
    for k in sorted(prev, reverse=True):
        rest = [b for b in out[k] if id(b) not in taken]
        if rest:
            out[k] = rest
        else:
            out.pop(k)
    return TableBlock(row + list(table), table.edges, table.ruled)


def join_table_rows(blocks: list[list[Box]]) -> list[list[Box]]:
    """A header row set off from its table by a rule (or a total row below it) is cut
    off by the XY-cut's section gap: the last row of the block above a table (or the
    first row of the block below it) joins the table when its boxes fall in distinct
    columns of the table."""
    out: list[list[Box]] = []
    for block in blocks:
        if isinstance(block, TableBlock) and out and not isinstance(out[-1], TableBlock):
            rows = group_rows(list(out[-1]))
            if _fits(rows[-1], block):
                out.pop()
                if rows[:-1]:
                    out.append([b for r in rows[:-1] for b in r])
                block = TableBlock(rows[-1] + list(block), block.edges, block.ruled)
            else:
                block = _split_header(out, block)
        elif not isinstance(block, TableBlock) and out and isinstance(out[-1], TableBlock):
            rows = group_rows(list(block))
            if _fits(rows[0], out[-1]):
                out[-1] = TableBlock(list(out[-1]) + rows[0], out[-1].edges, out[-1].ruled)
                block = [b for r in rows[1:] for b in r]
                if not block:
                    continue
        out.append(block)
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def n_columns(row: str) -> int:
    """Columns of a row as `table_rows` writes it (Markdown, or HTML with colspans)."""
    if row.startswith("<tr>"):
        return sum(int(n or 1) for n in _COLSPAN.findall(row))
    return row.count(" | ") + 1


_COLSPAN = re.compile(r"<t[hd](?: colspan=\"(\d+)\")?>")


def _widen(cells: list[str], span: dict[int, int]) -> dict[int, int]:
    """A group header is centred over its columns, so its box covers only the middle ones:
    it also takes the empty cells beside it, up to the next filled cell, but not the first
    column (row labels, which a group header does not cover)."""
    out: dict[int, int] = {}
    for k, n in sorted(span.items()):
        if n < 2:
            continue
        lo = k
        while lo - 1 >= 1 and not cells[lo - 1] and not any(lo - 1 < j + m and j <= lo - 1 for j, m in out.items()):
            lo -= 1
        hi = k + 1
        while hi < len(cells) and not cells[hi]:
            hi += 1
        if lo < k:  # move the text to the widened cell's first column
            cells[lo], cells[k] = cells[k], ""
        out[lo] = hi - lo
    return out


def _html_rows(rows, spans: list[dict[int, int]]) -> list[str]:
    """HTML rows with colspans; the rows down to the last one with a spanning cell, and
    the one below it, are header rows (th)."""
    last_span = max(i for i, sp in enumerate(spans) if any(n > 1 for n in sp.values()))
    out = []
    for i, cells in enumerate(rows):
        tag = "th" if i <= last_span + 1 else "td"
        parts, k = [], 0
        while k < len(cells):
            n = spans[i].get(k, 1)
            attr = f' colspan="{n}"' if n > 1 else ""
            parts.append(f"<{tag}{attr}>{html.escape(cells[k], quote=False)}</{tag}>")
            k += n
        out.append("<tr>" + "".join(parts) + "</tr>")
    return out


def _aligned(upper: list[Box], lower: list[Box]) -> bool:
    """Two lines of one cell: left edges, centres or right edges within a quarter line."""
    a0, a1 = min(b.x0 for b in upper), max(b.x1 for b in upper)
    b0, b1 = min(b.x0 for b in lower), max(b.x1 for b in lower)
    tol = 0.25 * min(min(b.h for b in upper), min(b.h for b in lower))
    return abs(a0 - b0) <= tol or abs(a1 - b1) <= tol or abs((a0 + a1) - (b0 + b1)) / 2 <= tol


def _stacked_header(above: list[list[Box]], cells: list[list[Box]]) -> bool:
    """Header lines stacked in their columns (a heading over a column of figures, set on
    several lines and aligned at the bottom: "Non-controlling" over "interests", beside
    one-line headings): every cell of the upper line goes on in the line below, aligned
    with it; the line below may start cells of its own."""
    filled = [k for k, c in enumerate(above) if c]
    return bool(filled) and all(cells[k] and _aligned(above[k], cells[k]) for k in filled)


def table_rows(block: TableBlock) -> list[Line]:
    """One Markdown row (`| a | b |`) per row of the table; a box goes to the column it
    starts in, boxes sharing a cell join with a space (top to bottom, then left to right).
    A row that only continues cells of the row above (a wrapped cell: set tighter than
    the row pitch) joins it; so do the lines of a header stacked over columns of figures
    (`_stacked_header`, above the first row with an amount). A cell in the first three rows
    that crosses column edges (a header over several columns) makes the table HTML, with
    that cell's colspan."""
    edges = block.edges
    rows: list[tuple[list[list[Box]], float, float, float, float]] = []
    spans: list[dict[int, int]] = []
    starts: dict[int, list[float]] = {}
    for b in block:
        starts.setdefault(sum(1 for e in edges if b.x0 >= e), []).append(b.x1 - b.x0)
    col_width = {k: float(np.median(w)) for k, w in starts.items()}
    groups = group_rows(list(block))
    pitch = float(np.median([max(b.y1 for b in g) - min(b.y0 for b in g) for g in groups]))
    figures = any(is_amount(b.text) for b in block)
    in_header = figures and not block.ruled  # no row with an amount seen yet
    for parts in groups:
        cells: list[list[Box]] = [[] for _ in range(len(edges) + 1)]
        span: dict[int, int] = {}
        for b in parts:
            if is_amount(b.text):  # right-aligned: the column its right edge is in (OCR boxes overlap)
                cells[sum(1 for e in edges if b.x1 - 0.25 * b.h > e)].append(b)
                continue
            k = sum(1 for e in edges if b.x0 >= e)  # a cell spanning columns goes to its first
            cells[k].append(b)
            # A header over several columns: it crosses a column edge, or is much wider than
            # its column's cells (a centred group header, narrower than the columns it covers).
            last = sum(1 for e in edges if b.x1 > e + 0.25 * b.h)
            if last > k or (not block.ruled and (b.x1 - b.x0) > 2.5 * col_width.get(k, b.x1 - b.x0)):
                span[k] = 2  # marks it; `_widen` sets the span from the empty cells beside it
        x0, y0 = min(p.x0 for p in parts), min(p.y0 for p in parts)
        x1, y1 = max(p.x1 for p in parts), max(p.y1 for p in parts)
        in_header = in_header and not any(is_amount(b.text) and not YEAR.match(b.text.strip()) for b in parts)
        if rows and not block.ruled and y0 - rows[-1][4] < 0.3 * pitch:
            above = rows[-1]
            filled = [bool(c) for c in cells]
            wrapped = (len(rows) > 1 and not all(filled) and not any(is_amount(b.text) for b in parts)
                       and all(above[0][k] for k, f in enumerate(filled) if f))  # (amounts do not wrap)
            if wrapped or (in_header and _stacked_header(above[0], cells)):
                merged = [a + c for a, c in zip(above[0], cells)]
                rows[-1] = (merged, min(above[1], x0), above[2], max(above[3], x1), y1)
                continue
        rows.append((cells, x0, y0, x1, y1))
        spans.append(span)
    texts_of = [[" ".join(b.text.strip() for line in group_rows(c) for b in line).strip() for c in cells]
                for cells, *_ in rows]
    # Only a header (first three rows) spanning columns needs HTML; a long cell further down
    # that runs over the next, empty, column stays Markdown.
    if any(n > 1 for sp in spans[:3] for n in sp.values()):
        spans = [_widen(texts_of[i], sp) if i < 3 else {} for i, sp in enumerate(spans)]
    if any(n > 1 for sp in spans[:3] for n in sp.values()):
        texts = _html_rows(texts_of, spans)
    else:
        texts = ["| " + " | ".join(_cell(c) for c in cells) + " |" for cells in texts_of]
    line_h = float(np.median([b.line_h for b in block])) if block.ruled else 0.0
    return [Line(t, x0, y0, x1, y1, line_h=line_h) for t, (_, x0, y0, x1, y1) in zip(texts, rows)]
