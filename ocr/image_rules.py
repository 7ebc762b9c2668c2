"""Rule lines seen in a scanned page's image, so a scanned ruled table gets the same cells
as a text-layer one (`ruled.grids_from_segments`).

A rule is a long straight run of dark pixels: horizontal runs along the rows of the image,
vertical runs down its columns. Strokes of letters are no longer than a letter is tall, so
a run must be several text heights long; a scan breaks a rule here and there (noise, faint
toner), so gaps of a pixel or two are closed first. Thick rules give a run on each pixel row;
the grid builder joins rules this close. Coordinates go to points (the grid builder's
tolerances are in points) and the grids come back in pixels, where the OCR boxes are.
"""

from __future__ import annotations

import numpy as np

from gristmill.ocr.ruled import Grid, grids_from_segments

_DARK = 128     # grey level below which a pixel is ink
_CLOSE = 2      # pixel gaps this wide inside a rule are closed


def _runs(dark: np.ndarray, min_len: int) -> list[tuple[float, float, float]]:
    """(row, start, end) of the runs of True along each row at least `min_len` long."""
    closed = dark.copy()
    for k in range(1, _CLOSE + 1):  # a gap of up to _CLOSE pixels with ink on both sides
        closed[:, k:-k] |= dark[:, : -2 * k] & dark[:, 2 * k:]
    padded = np.zeros((closed.shape[0], closed.shape[1] + 2), np.int8)
    padded[:, 1:-1] = closed
    d = np.diff(padded, axis=1)
    rs, starts = np.nonzero(d == 1)
    _, ends = np.nonzero(d == -1)  # row-major order: the k-th end closes the k-th start
    keep = ends - starts >= min_len
    return _join_rows(list(zip(rs[keep].tolist(), starts[keep].tolist(), ends[keep].tolist())))


def _join_rows(runs: list[tuple[int, int, int]]) -> list[tuple[float, float, float]]:
    """The runs of one thick rule (on neighbouring rows, from about the same start to about
    the same end) as one segment on its middle row: fewer segments for the grid builder,
    whose pairing is quadratic."""
    out: list[list[float]] = []  # [first row, last row, start, end]
    open_: dict[tuple[int, int], list[float]] = {}
    for r, a, b in sorted(runs):
        key = (a // 4, b // 4)
        seg = open_.get(key)
        if seg is not None and r - seg[1] <= 1:
            seg[1] = r
            continue
        seg = [r, r, a, b]
        open_[key] = seg
        out.append(seg)
    return [((r0 + r1) / 2, float(a), float(b)) for r0, r1, a, b in out]


def image_rules(img: np.ndarray, text_height: float) -> tuple[list, list]:
    """Horizontal (y, x0, x1) and vertical (x, y0, y1) rules in pixels: dark runs at least
    four text heights long."""
    # The darkest channel (coloured rules are ink too); channel by channel, as a reduction
    # over the last axis of a uint8 image is many times slower.
    grey = np.minimum(np.minimum(img[:, :, 0], img[:, :, 1]), img[:, :, 2]) if img.ndim == 3 else img
    dark = grey < _DARK
    min_len = max(20, int(4 * text_height))
    return _runs(dark, min_len), _runs(np.ascontiguousarray(dark.T), min_len)


def image_grids(img: np.ndarray, text_height: float, px_per_pt: float) -> list[Grid]:
    """The ruled tables of a scanned page, in pixels."""
    hs, vs = image_rules(img, text_height)
    if not hs or not vs:
        return []
    to_pt = 1.0 / px_per_pt
    grids = grids_from_segments([(y * to_pt, a * to_pt, b * to_pt) for y, a, b in hs],
                                [(x * to_pt, a * to_pt, b * to_pt) for x, a, b in vs])
    return [Grid([y * px_per_pt for y in g.ys], [x * px_per_pt for x in g.xs],
                 [(x * px_per_pt, a * px_per_pt, b * px_per_pt) for x, a, b in g.verticals]) for g in grids]
