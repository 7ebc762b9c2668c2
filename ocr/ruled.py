"""Ruled tables from a page's drawings: the rule lines (stroked lines, thin filled
rectangles, the edges of stroked cell rectangles) that meet in a grid give the cells,
so a cell whose text wraps onto several lines stays one cell, which alignment of words
alone cannot tell from a new row.

`ruled_tables` finds the grids of a text-layer page, `grids_from_segments` those of a
scan from the rules `image_rules` sees in it; `cell_boxes` turns the boxes inside one into
one box per cell, which `tables.table_rows` writes as rows without guessing wrapped lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from gristmill.ocr.geometry import Box, group_rows

_THIN = 2.0   # a filled rectangle at most this thick is a rule
_TOL = 2.0    # rules this close meet (or are one rule)
_MIN_ROW = 6.0  # a band thinner than this between two rules is a double rule, not a row
MAX_RULES = 1500  # more rule segments than this on a page: a drawing, not tables


@dataclass
class Grid:
    """A ruled table: row rules' y, column rules' x, and the vertical rules as segments
    (a cell spanning columns has no rule between them in its row)."""
    ys: list[float]
    xs: list[float]
    verticals: list[tuple[float, float, float]]  # (x, y0, y1)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return self.xs[0], self.ys[0], self.xs[-1], self.ys[-1]

    def holds(self, b: Box) -> bool:
        cx, cy = (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2
        x0, y0, x1, y1 = self.bbox
        return x0 <= cx <= x1 and y0 <= cy <= y1


def _segments(drawings) -> tuple[list[tuple[float, float, float]], list[tuple[float, float, float]]]:
    """Horizontal (y, x0, x1) and vertical (x, y0, y1) rule segments of the drawings."""
    hs, vs = [], []

    def add_rect(r):
        if r.height <= _THIN and r.width > _TOL:
            hs.append(((r.y0 + r.y1) / 2, r.x0, r.x1))
        elif r.width <= _THIN and r.height > _TOL:
            vs.append(((r.x0 + r.x1) / 2, r.y0, r.y1))

    for d in drawings:
        stroked = d.get("color") is not None and "s" in (d.get("type") or "")
        for item in d.get("items", []):
            if item[0] == "l":
                p, q = item[1], item[2]
                if abs(p.y - q.y) <= _THIN / 2 and abs(p.x - q.x) > _TOL:
                    hs.append(((p.y + q.y) / 2, min(p.x, q.x), max(p.x, q.x)))
                elif abs(p.x - q.x) <= _THIN / 2 and abs(p.y - q.y) > _TOL:
                    vs.append(((p.x + q.x) / 2, min(p.y, q.y), max(p.y, q.y)))
            elif item[0] == "re":
                r = item[1]
                if r.height <= _THIN or r.width <= _THIN:
                    add_rect(r)
                elif stroked:  # a stroked cell rectangle: its four edges
                    hs += [(r.y0, r.x0, r.x1), (r.y1, r.x0, r.x1)]
                    vs += [(r.x0, r.y0, r.y1), (r.x1, r.y0, r.y1)]
    return hs, vs


def _cluster(values: list[float]) -> list[float]:
    out: list[float] = []
    for v in sorted(values):
        if out and v - out[-1] <= _TOL:
            continue
        out.append(v)
    return out


def _breaks(hs: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """Rules drawn cell by cell break where one piece ends and the next starts: an x where
    two or more rules break is a column rule, though none is drawn, from the first such
    rule to the last."""
    ends: dict[float, list[float]] = {}
    for y, x0, x1 in hs:
        for x in (x0, x1):
            ends.setdefault(round(x), []).append(y)
    out = []
    for y, _x0, x1 in hs:  # a piece's right end where another piece of that rule starts
        starts = ends.get(round(x1), [])
        if sum(1 for yy in starts if abs(yy - y) <= _TOL) < 2:
            continue
        out.append((x1, y))
    by_x: dict[int, list[float]] = {}
    for x, y in out:
        by_x.setdefault(round(x), []).append(y)
    return [(float(x), min(ys), max(ys)) for x, ys in by_x.items() if len(_cluster(ys)) >= 2]


def ruled_tables(drawings, min_rows: int = 2, min_cols: int = 2) -> list[Grid]:
    """Grids of rules that meet: connected groups of horizontal and vertical rules
    with at least `min_rows` rows and `min_cols` columns."""
    hs, vs = _segments(drawings)
    return grids_from_segments(hs, vs, min_rows, min_cols)


def grids_from_segments(hs: list[tuple[float, float, float]], vs: list[tuple[float, float, float]],
                        min_rows: int = 2, min_cols: int = 2) -> list[Grid]:
    """`ruled_tables` from rule segments in points: horizontal (y, x0, x1), vertical
    (x, y0, y1); from a page's drawings or from the rules seen in a scan (`image_rules`)."""
    if len(hs) + len(vs) > MAX_RULES:  # a chart or map, not a table; the pairing below is quadratic
        return []
    segs = [("h", s) for s in hs] + [("v", s) for s in vs]
    parent = list(range(len(segs)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def meet(a, b) -> bool:
        (ka, (pa, a0, a1)), (kb, (pb, b0, b1)) = a, b
        if ka == kb:  # collinear pieces of one rule
            return abs(pa - pb) <= _TOL and a0 <= b1 + _TOL and b0 <= a1 + _TOL
        if ka == "v":
            (pa, a0, a1), (pb, b0, b1) = (pb, b0, b1), (pa, a0, a1)
        # a: horizontal at y=pa from a0..a1; b: vertical at x=pb from b0..b1
        return a0 - _TOL <= pb <= a1 + _TOL and b0 - _TOL <= pa <= b1 + _TOL

    for i in range(len(segs)):
        for j in range(i + 1, len(segs)):
            if find(i) != find(j) and meet(segs[i], segs[j]):
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(segs)):
        groups.setdefault(find(i), []).append(i)
    grids = []
    for members in groups.values():
        h = [segs[i][1] for i in members if segs[i][0] == "h"]
        v = [segs[i][1] for i in members if segs[i][0] == "v"]
        if not h and not v:
            continue
        v = v + _breaks(h)
        ys = _cluster([s[0] for s in h] + [e for s in v for e in s[1:]])
        xs = _cluster([s[0] for s in v] + [e for s in h for e in s[1:]])
        rows = sum(1 for a, b in zip(ys, ys[1:]) if b - a >= _MIN_ROW)
        cols = _cluster([s[0] for s in v if xs[0] + _TOL < s[0] < xs[-1] - _TOL])
        if rows >= min_rows and len(cols) + 1 >= min_cols:
            grids.append(Grid(ys, [xs[0]] + cols + [xs[-1]], v))
    return sorted(grids, key=lambda g: (g.ys[0], g.xs[0]))


def _bands(grid: Grid, boxes: list[Box]) -> list[tuple[float, float, list[float]]]:
    """Rows between the rules, each with its column cuts. A band whose text lines line up
    across two or more cells on two or more lines holds several rows ruled only around
    them (a statement ruled under its totals), not wrapped cells: each text row is a band."""
    out = []
    for y0, y1 in zip(grid.ys, grid.ys[1:]):
        if y1 - y0 < _MIN_ROW:
            continue
        mid = (y0 + y1) / 2
        cuts = _cluster([x for x, v0, v1 in grid.verticals if v0 - _TOL <= mid <= v1 + _TOL])
        cuts = _cluster(sorted(set([grid.xs[0]] + cuts + [grid.xs[-1]])))
        inside = [b for b in boxes if y0 <= (b.y0 + b.y1) / 2 <= y1]
        rows = group_rows(inside)

        def cell(b: Box) -> int:
            return sum(1 for c in cuts if (b.x0 + b.x1) / 2 >= c)

        across = sum(1 for r in rows if len({cell(b) for b in r}) >= 2)
        if across >= 2:
            for r in rows:
                out.append((min(b.y0 for b in r) - 0.1, max(b.y1 for b in r) + 0.1, cuts))
        else:
            out.append((y0, y1, cuts))
    return out


def cell_boxes(grid: Grid, boxes: list[Box]) -> list[Box]:
    """One box per filled cell of the grid, its text the cell's lines in reading order
    joined with spaces; the box spans the cell, so a cell over several columns (no rule
    between them in its row) crosses the column edges."""
    out = []
    for y0, y1, cuts in _bands(grid, boxes):
        for x0, x1 in zip(cuts, cuts[1:]):
            inside = [b for b in boxes if x0 <= (b.x0 + b.x1) / 2 <= x1 and y0 <= (b.y0 + b.y1) / 2 <= y1]
            if not inside:
                continue
            inside.sort(key=lambda b: ((b.y0 + b.y1) / 2, b.x0))
            text = " ".join(b.text.strip() for b in inside if b.text.strip())
            if text:
                pad = min(1.0, (x1 - x0) / 4)
                line_h = sorted(b.h for b in inside)[len(inside) // 2]
                out.append(Box(x0 + pad, y0 + 0.5, x1 - pad, y1 - 0.5, text, line_h))
    return out
