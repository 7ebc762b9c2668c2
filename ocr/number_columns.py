"""Columns of a financial statement (or any table of figures) from the alignment of its
numbers, where the gaps between the columns are too narrow for a gutter.

Statements set their figure columns a few points apart (a "¥" or "$" in front of each
amount narrows the gap further), so the gutter width that separates columns of prose
(about a line height, or a share of the page width) finds none. What marks such columns is
not the gap but the numbers themselves: amounts in a column are right-aligned, so their
right edges fall within a fraction of a character of each other down the rows (a closing
parenthesis hangs out a little), while the next column's right edges lie a column width
away. A cluster of right edges that recurs over several rows is a column, whatever the
space beside it; most of its amounts start right of the previous column's, few boxes may
cross the column edges (lines of prose that contain numbers do, and are left alone), and
no words stand among the figures of a body row (the labels of a second table beside it).

`number_column_edges` returns the x edges of such a table (label column, figure columns,
and any text column a gutter sets off), or None when the boxes are not one.
"""

from __future__ import annotations

import re

import numpy as np

from gristmill.ocr.geometry import Box, group_rows

# An amount as a cell of its own: an optional currency sign, an optional sign or
# parenthesis (negative), digits with thousands/decimal separators, an optional percent; or
# a dash standing for nil.
_AMOUNT = re.compile(r"^(?:[$€£¥￥₹₩¢]|US\$|USD|EUR)?\s*[(\[]?[-+−–]?\s*\d[\d,.\s]*%?[)\]]?%?$"
                     r"|^[-−–—―]$")
YEAR = re.compile(r"^(?:19|20)\d\d$")  # a year heads a column of figures; it is no figure itself
_SIGN = re.compile(r"^(?:[$€£¥￥₹₩¢]|US\$|USD|EUR)$")  # a currency sign standing alone
_MIN_FIGURES = 3       # a figure column holds at least this many amounts
_MIN_COLUMNS = 2       # figure columns needed (one column of page numbers is a contents list)
_MAX_CROSSING = 0.05   # share of boxes that may cross a column edge (spanning header cells)


def is_amount(text: str) -> bool:
    return bool(_AMOUNT.match(text.strip()))


def _right_edge_clusters(amounts: list[Box], tol: float) -> list[list[Box]]:
    """Amounts grouped by right edge: sorted by x1, a new group where the next right edge
    lies more than `tol` beyond the last one."""
    groups: list[list[Box]] = []
    for b in sorted(amounts, key=lambda b: b.x1):
        if groups and b.x1 - groups[-1][-1].x1 <= tol:
            groups[-1].append(b)
        else:
            groups.append([b])
    return groups


def number_column_edges(boxes: list[Box], gutters: list[tuple[float, float]] = ()) -> list[float] | None:
    """Column edges of a table whose figure columns are found by their right-aligned
    amounts; `gutters` are the block's ordinary column gutters, kept where they fall left of
    the first figure column or right of the last (text columns beside the figures)."""
    amounts = [b for b in boxes if is_amount(b.text) and not YEAR.match(b.text.strip())]  # years head columns
    if len(amounts) < _MIN_FIGURES * _MIN_COLUMNS:
        return None
    h = float(np.median([b.h for b in boxes])) or 1.0
    # Right edges of one column differ by a closing parenthesis or OCR jitter: under half a
    # line height; two columns' by at least the width of their narrowest amount.
    rows_with_amounts = len(group_rows(amounts))
    need = max(_MIN_FIGURES, 0.2 * rows_with_amounts)
    clusters = _right_edge_clusters(amounts, 0.5 * h)
    if sum(1 for c in clusters if len(c) >= need) < _MIN_COLUMNS:
        return None
    # Once columns of several figures make it a table, a sparse column (two amounts: the
    # opening and closing balance) counts too.
    figure_cols = [c for c in clusters if len(c) >= 2]
    spans = [(min(b.x0 for b in c), max(b.x1 for b in c)) for c in figure_cols]
    # Most of a column's amounts start right of the previous column's figures (OCR boxes
    # carry a few pixels of margin, and an amount split out of a longer box is placed by
    # its share of characters, so a few overlap): else the "columns" are right edges that
    # line up by chance.
    starts = [float(np.percentile([b.x0 for b in c], 25)) for c in figure_cols]
    if any(b0 < a1 - 0.3 * h for (_, a1), b0 in zip(spans, starts[1:])):
        return None
    # Between figure columns the edge sits just right of the left column's right edge: a
    # header is centred over its figures and may start left of them, but not left of the
    # previous column's figures. (Amounts go to a column by their right edge.)
    edges = [a1 + 0.25 * max(0.0, b0 - a1) for (_, a1), (b0, _) in zip(spans, spans[1:])]
    first_x0, last_x1 = spans[0][0], spans[-1][1]
    left = [b.x1 for b in boxes if b.x1 <= first_x0]
    label_end = max(left) if left else first_x0
    if left:  # the label column ends where its longest label does
        edges.insert(0, (label_end + first_x0) / 2)
    # Gutters among the labels (more text columns) or right of the figures (a notes column).
    edges = ([(g0 + g1) / 2 for g0, g1 in gutters if g1 < label_end] + edges
             + [(g0 + g1) / 2 for g0, g1 in gutters if g0 >= last_x1])
    if not _lines_up(boxes, amounts, figure_cols, edges, h):
        return None
    return edges


def _lines_up(boxes: list[Box], amounts: list[Box], figure_cols: list[list[Box]], edges: list[float],
              h: float) -> bool:
    """The figures form rows (most rows that hold an amount hold amounts of two or more
    figure columns, or an amount beside a label), few boxes cross a column edge, and few
    body rows hold words among their figures."""
    crossing = sum(1 for b in boxes if not is_amount(b.text)
                   and any(b.x0 < e - 0.25 * h and b.x1 > e + 0.25 * h for e in edges))
    if crossing > max(2, _MAX_CROSSING * len(boxes)):
        return False
    col_of = {id(b): k for k, c in enumerate(figure_cols) for b in c}
    lo, hi = min(b.x0 for b in figure_cols[0]), max(b.x1 for b in figure_cols[-1])
    good = total = inner = 0
    for row in group_rows(boxes):
        figs = {col_of[id(b)] for b in row if id(b) in col_of}
        if not any(is_amount(b.text) for b in row):
            continue  # a header row
        total += 1
        good += len(figs) >= 2 or (len(figs) == 1 and any(not is_amount(b.text) for b in row))
        # Words among the figures of a body row: another table's labels (two statements
        # side by side), not a label column.
        inner += any(not is_amount(b.text) and not _SIGN.match(b.text.strip()) and lo < (b.x0 + b.x1) / 2 < hi
                     for b in row)
    return (total > 0 and good >= 0.8 * total and inner <= 0.1 * total
            and sum(1 for a in amounts if id(a) in col_of) >= 0.6 * len(amounts))


# One amount (with its currency sign, if any) or a sign alone, as found inside a longer box.
_TOKEN = re.compile(r"(?:[$€£¥￥₹₩¢]\s*)?[(\[]?[-+−–]?\d[\d,.]*%?[)\]]?%?|[-−–—―]|[$€£¥￥₹₩¢]")


def split_amount_runs(boxes: list[Box]) -> list[Box]:
    """A box that holds nothing but several amounts ("¥ (2,983) ¥ 2,399,946": OCR, or a
    text layer, joining figure columns set close together) becomes one box per amount,
    each given its share of the box's width by its characters (figures are set in equal
    widths). Not split: a digit group of exactly three after another amount ("10 000",
    thousands set apart by a space)."""
    out = []
    for b in boxes:
        text = b.text.strip()
        tokens = list(_TOKEN.finditer(text)) if any(ch.isspace() for ch in text) else []
        bare = "".join(text.split())
        if (len(tokens) < 2 or "".join("".join(m.group().split()) for m in tokens) != bare
                or not any(ch.isdigit() for ch in bare)
                or any(re.fullmatch(r"\d{3}", m.group()) for m in tokens[1:])):
            out.append(b)
            continue
        per_char = (b.x1 - b.x0) / len(text)
        out += [Box(b.x0 + per_char * m.start(), b.y0, b.x0 + per_char * m.end(), b.y1, m.group(), b.line_h)
                for m in tokens]
    return out
