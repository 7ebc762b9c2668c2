"""Rules seen in a scan (ocr/image_rules.py): a scanned ruled table gets its cells from the
rules as a text-layer one does, so a wrapped cell stays one cell."""

from __future__ import annotations

import numpy as np

from gristmill.ocr.geometry import Box
from gristmill.ocr.image_rules import image_grids, image_rules
from gristmill.ocr.layout import order_boxes, render
from tests.ocr.test_ocr_ruled import XS, YS, _stroked_grid_page

SCALE = 150 / 72  # pixels per point


def _ruled_image(gap: bool = False) -> np.ndarray:
    """A white 150-dpi page with a 3-row, 3-column grid (pixels = points x SCALE); the top
    rule 3 pixels thick, the middle row rule broken by a 1-pixel gap (a scan's dropout),
    and letter-sized strokes that are no rules."""
    img = np.full((int(300 * SCALE), int(595 * SCALE), 3), 255, np.uint8)
    xs, ys = [round(x * SCALE) for x in XS], [round(y * SCALE) for y in YS]
    for y in ys:
        img[y:y + (3 if y == ys[0] else 1), xs[0]:xs[-1] + 1] = 0
    for x in xs:
        img[ys[0]:ys[-1] + 1, x:x + 1] = 0
    if gap:
        img[ys[1], xs[1] + 40] = 255
    img[ys[0] + 10:ys[0] + 30, xs[0] + 20] = 0  # the stem of an "l"
    img[ys[0] + 20, xs[0] + 40:xs[0] + 55] = 0  # the bar of a "t"
    return img


def test_rules_in_an_image():
    hs, vs = image_rules(_ruled_image(gap=True), text_height=20)
    assert len(hs) == 4 and len(vs) == 4  # the thick rule is one; the stroke of a letter is none
    ys = sorted(y for y, _, _ in hs)
    assert abs(ys[0] - (round(YS[0] * SCALE) + 1)) <= 0.5  # the middle of the thick rule
    assert all(x1 - x0 >= (XS[-1] - XS[0]) * SCALE - 2 for _, x0, x1 in hs)  # the dropout closed
    grids = image_grids(_ruled_image(), 20, SCALE)
    assert len(grids) == 1
    assert [round(x / SCALE) for x in grids[0].xs] == XS and [round(y / SCALE) for y in grids[0].ys] == YS


def test_blank_and_text_only_images_have_no_rules():
    assert image_grids(np.full((400, 300, 3), 255, np.uint8), 20, SCALE) == []
    img = np.full((400, 300, 3), 255, np.uint8)
    for k in range(10):  # rows of letter strokes, each shorter than four text heights
        img[20 + 30 * k:40 + 30 * k, 10:280:9] = 0
    hs, vs = image_rules(img, 20)
    assert hs == [] and vs == []


def test_ocr_boxes_inside_scanned_rules_keep_a_wrapped_cell_whole():
    """OCR line boxes (in pixels, with a few pixels of margin) of the grid's cells: the
    description wraps onto three lines; its cells come from the rules (a ruled table's rows
    carry the height of one text line)."""
    grids = image_grids(_ruled_image(), 20, SCALE)
    cells = [("Name", 0, 0, 0), ("Description", 1, 0, 0), ("Value", 2, 0, 0), ("Alpha", 0, 1, 0),
             ("the first line of a long", 1, 1, 0), ("description that wraps", 1, 1, 1), ("onto three lines", 1, 1, 2),
             ("12", 2, 1, 0), ("Beta", 0, 2, 0), ("short one", 1, 2, 0), ("7", 2, 2, 0)]
    boxes = []
    for text, col, row, line in cells:
        x0, y0 = (XS[col] + 4) * SCALE, (YS[row] + 5 + 11 * line) * SCALE
        boxes.append(Box(x0 - 3, y0 - 3, x0 + 5.5 * SCALE * len(text) + 3, y0 + 10 * SCALE + 3, text))
    lines = order_boxes(boxes, 595 * SCALE, grids)
    rows = render(lines).splitlines()
    assert rows[0] == "| Name | Description | Value |"
    assert rows[2] == "| Alpha | the first line of a long description that wraps onto three lines | 12 |"
    assert rows[3] == "| Beta | short one | 7 |"
    assert all(ln.line_h > 0 for ln in lines if ln.table)  # the rules' cells, not rows guessed
    assert not any(ln.line_h > 0 for ln in order_boxes(boxes, 595 * SCALE))


def test_scanned_ruled_table_is_ocred_with_its_cells():
    """End to end: the ruled table rendered to an image and read by rapidocr."""
    from gristmill.ocr.cpu_ocr import RapidOcrEngine, render_page

    doc, page = _stroked_grid_page()
    img = render_page(page, 150)
    lines, _ = RapidOcrEngine().read(img, px_per_pt=img.shape[1] / page.rect.width)
    rows = render(lines).splitlines()
    assert rows[0] == "| Name | Description | Value |"
    assert rows[2] == "| Alpha | the first line of a long description that wraps onto three lines | 12 |"
    assert all(ln.line_h > 0 for ln in lines if ln.table)  # cells from the rules seen in the image
