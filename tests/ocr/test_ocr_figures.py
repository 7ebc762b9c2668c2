"""Tables of figures whose columns are closer together than a gutter: found by the
right-aligned amounts (ocr/number_columns.py), with headers stacked over the figure
columns joined into one cell each."""

from __future__ import annotations

from gristmill.ocr.geometry import Box
from gristmill.ocr.layout import order_boxes, render
from gristmill.ocr.number_columns import is_amount, number_column_edges

H = 9.0  # line height; a character is about 4.5 wide


def _right(x1: float, y: float, text: str) -> Box:
    """A right-aligned amount ending at x1 (a closing parenthesis hangs out 2)."""
    x1 += 2 if text.endswith(")") else 0
    return Box(x1 - 4.5 * len(text), y, x1, y + H, text)


# Figure columns end at these x; the widest amount ("2,399,946", 40.5 wide, with "¥ " in front)
# leaves 6 between columns: less than the 7.2 (0.8 line) a gutter needs.
RIGHTS = [210.0, 263.0, 316.0]
ROWS = [("Balance at beginning", ["¥ 175,820", "¥ 2,399,946", "¥ 111,209"]),
        ("Net profit", ["", "221,834", "11,678"]),
        ("Dividends", ["(85,871)", "(85,871)", "(7,826)"]),
        ("Purchase of stock", ["", "(785)", "―"]),
        ("Balance at end", ["¥ 175,820", "¥ 2,429,743", "¥ 109,116"])]


def _statement(header: bool = True) -> list[Box]:
    boxes = []
    if header:  # "Non-controlling interests" on two lines, bottom-aligned with one-line headings
        boxes += [Box(272, 50, 312, 59, "Non-controlling"), Box(178, 58, 210, 67, "Retained"),
                  Box(238, 58, 263, 67, "Total"), Box(278, 58, 306, 67, "interests")]
    for r, (label, amounts) in enumerate(ROWS):
        y = 75 + 14 * r
        boxes.append(Box(60, y, 60 + 4.5 * len(label), y + H, label))
        boxes += [_right(x1, y, a) for x1, a in zip(RIGHTS, amounts) if a]
    return boxes


def test_amounts():
    for text in ("175,820", "(85,871)", "¥ 175,820", "$1.5", "-3.2%", "―", "2021"):
        assert is_amount(text), text
    for text in ("Net profit", "2.20x", "1,2 and 3", "Table 4", ""):
        assert not is_amount(text), text


def test_close_figure_columns_are_a_table_with_their_stacked_headers():
    boxes = _statement()
    edges = number_column_edges(boxes)
    assert edges is not None and len(edges) == 3
    text = render(order_boxes(boxes, 600))
    rows = text.split("\n")
    assert rows[0] == "|  | Retained | Total | Non-controlling interests |"
    assert "| Balance at beginning | ¥ 175,820 | ¥ 2,399,946 | ¥ 111,209 |" in rows
    assert "| Net profit |  | 221,834 | 11,678 |" in rows
    assert "| Purchase of stock |  | (785) | ― |" in rows
    assert len(rows) == 2 + len(ROWS)  # header, separator, one row per statement row


def test_figure_columns_found_wherever_the_page_is_wide():
    """The gutter width grows with the page (a two-page spread is twice as wide); figure
    columns do not depend on it."""
    text = render(order_boxes(_statement(header=False), 1200))
    assert "| Dividends | (85,871) | (85,871) | (7,826) |" in text


def test_one_column_of_numbers_is_no_figure_table():
    """A contents list (titles and right-aligned page numbers) has one figure column."""
    boxes = []
    for r, (title, page) in enumerate((("Introduction", "1"), ("Methods", "12"), ("Results", "37"),
                                       ("Discussion", "105"), ("References", "121"))):
        y = 40 + 14 * r
        boxes += [Box(60, y, 60 + 4.5 * len(title), y + H, title), _right(300, y, page)]
    assert number_column_edges(boxes) is None


def test_prose_with_aligned_numbers_is_no_figure_table():
    """Lines of prose that cross the would-be column edges are no table, even where
    standalone numbers line up beside them."""
    boxes = []
    for r in range(8):
        y = 40 + 14 * r
        boxes.append(Box(60, y, 290, y + H, "a line of running prose that fills its column"))
        if r % 2 == 0:
            boxes += [_right(200, y + 100, str(10 * r + 11)), _right(260, y + 100, str(r + 100))]
    assert number_column_edges(boxes) is None


def test_figures_that_do_not_form_rows_are_no_table():
    """Two lists of numbers that do not line up row by row (each set at its own pitch)."""
    boxes = [_right(100, 40 + 14 * r, f"{r + 1},000") for r in range(6)]
    boxes += [_right(160, 47 + 19 * r, f"{r + 5},500") for r in range(6)]
    assert number_column_edges(boxes) is None


def test_caption_of_two_lines_above_a_figure_table_stays_out_of_it():
    """Set closer than a section gap, a row height above the table: cut off as its caption."""
    boxes = [Box(60, 44, 280, 53, "Mitsubishi Electric Corporation and Subsidiaries"),
             Box(60, 55, 230, 64, "Years ended March 31, 2020 and 2021")] + _statement(header=False)
    text = render(order_boxes(boxes, 600))
    assert text.startswith("Mitsubishi Electric Corporation and Subsidiaries Years ended March 31, 2020 and 2021\n\n"
                           "| Balance at beginning | ¥ 175,820 | ¥ 2,399,946 | ¥ 111,209 |\n|---|---|---|---|\n")


def test_runs_of_amounts_in_one_box_are_split():
    from gristmill.ocr.number_columns import split_amount_runs

    out = split_amount_runs([Box(100, 0, 310, 29, "￥ (2,983) ¥ 2,399,946")])
    assert [b.text for b in out] == ["￥ (2,983)", "¥ 2,399,946"]
    assert out[0].x0 == 100 and out[1].x1 == 310 and out[0].x1 < out[1].x0
    for text in ("10 000", "Net 2020", "175,820", "Total 3 4"):  # thousands apart by a space; words
        assert [b.text for b in split_amount_runs([Box(0, 0, 90, 9, text)])] == [text]


def _ocr_statement() -> list[Box]:
    """A statement as OCR boxes: pixel units, boxes taller than the text (margins), the
    boxes of neighbouring columns overlapping by a few pixels, and two columns read as one
    box in the first row."""
    rights = [1321.0, 1404.0, 1493.0]
    rows = [("Balance at beginning of year", ["￥ 175,820", "￥ 202,834", "1,960,466"]),
            ("Net profit", ["", "", "221,834"]),
            ("Dividends", ["", "(844)", "(85,871)"]),
            ("Adjusted balance", ["175,820", "202,834", "1,958,945"]),
            ("Balance at end of year", ["175,820", "202,832", "2,071,817"])]
    boxes = []
    for r, (label, amounts) in enumerate(rows):
        y = 320 + 30 * r
        boxes.append(Box(1079, y, 1079 + 5.6 * len(label), y + 29, label))
        for x1, text in zip(rights, amounts):
            if text:
                boxes.append(Box(x1 - 9 * len(text) - 6, y, x1 + 4, y + 29, text))  # margins: 6 left, 4 right
    joined = [b for b in boxes if b.text in ("￥ 202,834", "1,960,466")]
    boxes = [b for b in boxes if b not in joined]
    boxes.append(Box(joined[0].x0, joined[0].y0, joined[1].x1, joined[1].y1, "￥ 202,834 1,960,466"))
    return boxes


def test_ocr_statement_with_overlapping_boxes_keeps_its_columns():
    text = render(order_boxes(_ocr_statement(), 1985))
    rows = text.split("\n")
    assert rows[0] == "| Balance at beginning of year | ￥ 175,820 | ￥ 202,834 | 1,960,466 |"
    assert "| Net profit |  |  | 221,834 |" in rows
    assert "| Dividends |  | (844) | (85,871) |" in rows
    assert "| Balance at end of year | 175,820 | 202,832 | 2,071,817 |" in rows


def test_two_statements_side_by_side_are_two_tables():
    """A statement with wide gutters beside one whose figure columns are set close, at its
    own pitch: cut apart at the widest gutter, each is a table of its own (not one table
    whose last column holds the whole second statement, nor columns read one by one)."""
    boxes = []
    for r, (label, a, b) in enumerate((("Net profit", "233,512", "201,683"), ("Dividends", "(85,871)", "(7,826)"),
                                       ("Total", "124,762", "415,954"), ("Comprehensive", "117,132", "401,559"),
                                       ("Other", "20", "92"), ("Net sales", "1,234", "5,678"))):
        y = 100 + 20 * r
        boxes += [Box(40, y, 40 + 5 * len(label), y + 9, label), _right(200, y, a), _right(260, y, b)]
    for r in range(8):
        y = 100 + 14 * r
        boxes += [Box(330, y, 380, y + 9, f"Item {r}"), _right(430, y, f"{r + 1},000"), _right(462, y, f"{r}0,000"),
                  _right(496, y, f"({r + 2},500)")]
    tables = render(order_boxes(boxes, 600)).split("\n\n")
    assert len(tables) == 2
    assert tables[0].split("\n")[0] == "| Net profit | 233,512 | 201,683 |"
    assert tables[0].split("\n")[-1] == "| Net sales | 1,234 | 5,678 |"
    assert tables[1].split("\n")[0] == "| Item 0 | 1,000 | 00,000 | (2,500) |"
    assert tables[1].split("\n")[-1] == "| Item 7 | 8,000 | 70,000 | (9,500) |"
