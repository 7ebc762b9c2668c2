"""Ruled tables from a page's drawings: cells from the rule lines, wrapped cell text
joined, column rules implied where rules drawn cell by cell break."""

from __future__ import annotations

import pymupdf

from gristmill.ocr.geometry import Box, TableBlock
from gristmill.ocr.layout import render
from gristmill.ocr.ruled import ruled_tables
from gristmill.ocr.tables import join_table_rows, table_rows
from gristmill.ocr.textlayer import page_lines

ROWS = [
    ("Name", "Description", "Value"),
    ("Alpha", ["the first line of a long", "description that wraps", "onto three lines"], "12"),
    ("Beta", ["short one"], "7"),
]
XS = [60, 160, 400, 480]
YS = [100, 130, 190, 220]


def _write_cells(page) -> None:
    for (name, desc, value), y in zip(ROWS, YS):
        page.insert_text((XS[0] + 4, y + 14), name, fontsize=9)
        for k, text in enumerate([desc] if isinstance(desc, str) else desc):
            page.insert_text((XS[1] + 4, y + 14 + 11 * k), text, fontsize=9)
        page.insert_text((XS[2] + 4, y + 14), value, fontsize=9)


def _stroked_grid_page():
    """(document, page) with the ROWS table: its full grid stroked, its cells written."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    for y in YS:
        page.draw_line((XS[0], y), (XS[-1], y), width=0.5)
    for x in XS:
        page.draw_line((x, YS[0]), (x, YS[-1]), width=0.5)
    _write_cells(page)
    return doc, page


def _table_text(page) -> str:
    return render([ln for ln in page_lines(page) if ln.table])


def test_stroked_grid_keeps_wrapped_cells_whole():
    doc, page = _stroked_grid_page()
    page.insert_text((60, 300), "A paragraph of body text under the table, not part of it.", fontsize=10)
    grids = ruled_tables(page.get_drawings())
    assert len(grids) == 1 and len(grids[0].xs) == 4 and len(grids[0].ys) == 4
    rows = _table_text(page).splitlines()
    assert rows[0] == "| Name | Description | Value |"
    # One row for the wrapped cell, its three lines joined; the value beside it in the same row.
    assert rows[2] == "| Alpha | the first line of a long description that wraps onto three lines | 12 |"
    assert rows[3] == "| Beta | short one | 7 |"
    prose = [ln.text for ln in page_lines(page) if not ln.table]
    assert prose == ["A paragraph of body text under the table, not part of it."]


def test_rules_drawn_cell_by_cell_imply_column_rules():
    """Horizontal rules as thin filled rectangles, one per cell, and no vertical rules but
    the outer ones on one side: the breaks between the pieces are the column rules."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    for y in YS:
        for x0, x1 in zip(XS, XS[1:]):
            page.draw_rect(pymupdf.Rect(x0, y - 0.3, x1, y + 0.3), color=None, fill=(0, 0, 0))
    page.draw_rect(pymupdf.Rect(XS[2] - 0.3, YS[0], XS[2] + 0.3, YS[-1]), color=None, fill=(0, 0, 0))
    _write_cells(page)
    (grid,) = ruled_tables(page.get_drawings())
    assert [round(x) for x in grid.xs] == XS
    rows = _table_text(page).splitlines()
    assert rows[2] == "| Alpha | the first line of a long description that wraps onto three lines | 12 |"


def test_single_rules_are_no_grid():
    """Rules above and below a block (booktabs style, or a page frame with one column)
    make no grid: one column is left to the alignment finder."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    for y in (100, 130, 220):
        page.draw_line((60, y), (480, y), width=0.5)
    page.draw_rect(pymupdf.Rect(40, 40, 555, 800), width=0.5)
    assert ruled_tables(page.get_drawings()) == []


def test_header_row_cut_by_caption_gutter_joins_table():
    """A caption above a table ends before the last column: the XY-cut's gutter after it
    cuts the header row into two blocks (caption with the first cells, the last cell
    alone), as on a journal page; the row still heads the table, the caption stays."""
    caption = Box(306.1, 50.6, 454.1, 58.2, "Table 1. Fungal isolates used in this study")
    head = [Box(306.1, 64.6, 321.1, 73.5, "No.a"), Box(346.9, 65.9, 370.5, 73.5, "Isolate"),
            Box(419.5, 65.9, 455.1, 73.5, "Pathotype"), Box(498.6, 65.9, 522.6, 73.5, "Source")]
    data = [("1", "G31", "Japanese pear", "Gifu, Japan"), ("2", "T88-52", "Japanese pear", "Tottori, Japan"),
            ("3", "O-187", "Strawberry", "Iwate, Japan"), ("4", "AT-204", "Tobacco", "Aichi, Japan")]
    cells = [Box(x, 83.7 + 9.2 * r, x + 5.2 * len(t), 91.3 + 9.2 * r, t)
             for r, row in enumerate(data) for x, t in zip([310.1, 346.9, 419.5, 498.6], row)]
    table = TableBlock(cells, [334.0, 395.0, 484.0])
    blocks = join_table_rows([[caption] + head[:3], head[3:], table])
    assert [b.text for b in blocks[0]] == ["Table 1. Fungal isolates used in this study"]
    assert isinstance(blocks[1], TableBlock) and len(blocks) == 2
    rows = [ln.text for ln in table_rows(blocks[1])]
    assert rows[:2] == ["| No.a | Isolate | Pathotype | Source |", "| 1 | G31 | Japanese pear | Gifu, Japan |"]


def test_currency_sign_joins_its_amount():
    """¥ and $ set apart left of their amounts: each sign joins the amount to its right,
    so a statement's columns stay amount columns (no column of signs)."""
    from gristmill.ocr.layout import merge_currency, order_boxes

    rows = [("Net sales", "4,462,509", "4,191,433"), ("Operating profit", "259,661", "230,186"),
            ("Net profit", "233,512", "201,683"), ("Dividends", "85,871", "85,871")]
    boxes = [Box(60, 80, 102, 89, "Yen (millions)"), Box(212, 80, 230, 89, "2020"), Box(292, 80, 310, 89, "2021")]
    for r, (label, a, b) in enumerate(rows):
        y = 100 + 12 * r
        boxes += [Box(60, y, 60 + 4.5 * len(label), y + 9, label)]
        for x, amount in ((190, a), (270, b)):
            boxes += [Box(x, y, x + 4, y + 9, "¥"), Box(x + 12, y, x + 12 + 4.5 * len(amount), y + 9, amount)]
    merged = merge_currency(boxes)
    assert len(merged) == len(boxes) - 8
    assert [b.text for b in merged if "233,512" in b.text] == ["¥ 233,512"]
    assert merge_currency([Box(10, 0, 14, 9, "$"), Box(20, 0, 50, 9, "total")])[0].text == "$"  # no amount
    text = render(order_boxes(boxes, 595))
    assert "| Net profit | ¥ 233,512 | ¥ 201,683 |" in text
    assert "| Yen (millions) | 2020 | 2021 |" in text


def test_band_of_aligned_rows_is_several_rows():
    """Rules only around the header and at the bottom (cells drawn with column rules): the
    body band holds three rows whose lines line up across cells, so they stay three rows."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    for y in (100, 130, 200):
        page.draw_line((XS[0], y), (XS[-1], y), width=0.5)
    for x in XS:
        page.draw_line((x, 100), (x, 200), width=0.5)
    page.insert_text((XS[0] + 4, 114), "Name", fontsize=9)
    page.insert_text((XS[1] + 4, 114), "Unit", fontsize=9)
    page.insert_text((XS[2] + 4, 114), "Value", fontsize=9)
    for r, (name, unit, value) in enumerate([("Alpha", "kg", "12"), ("Beta", "m", "7"), ("Gamma", "s", "3")]):
        for x, text in zip(XS, (name, unit, value)):
            page.insert_text((x + 4, 146 + 14 * r), text, fontsize=9)
    rows = _table_text(page).splitlines()
    assert rows[2:] == ["| Alpha | kg | 12 |", "| Beta | m | 7 |", "| Gamma | s | 3 |"]


def test_page_of_many_rules_is_a_drawing():
    """A chart's thousands of strokes are not searched for grids (the search is quadratic)."""
    from gristmill.ocr import ruled

    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    shape = page.new_shape()
    for k in range(ruled.MAX_RULES // 2 + 10):
        x, y = 20 + (k % 50) * 11, 20 + (k // 50) * 9
        shape.draw_line((x, y), (x + 8, y))
        shape.draw_line((x, y), (x, y + 7))
    shape.finish(width=0.3)
    shape.commit()
    assert len(page.get_drawings()[0]["items"]) > ruled.MAX_RULES
    assert ruled_tables(page.get_drawings()) == []
