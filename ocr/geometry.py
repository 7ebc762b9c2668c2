"""Positioned text shared by the layout, table and margin code: boxes (text-layer spans
or OCR boxes), lines in reading order, and row grouping."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Box:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    line_h: float = 0.0  # a ruled cell's box spans its lines: the height of one of them

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
    line_h: float = 0.0       # > 0: height of one text line in a ruled table's row (cells wrap)

    def as_tuple(self) -> tuple:
        """The form pages travel in between the worker and the parent (pickled)."""
        return (self.text, self.x0, self.y0, self.x1, self.y1, self.para_break, self.table, self.line_h)


class TableBlock(list):
    """Boxes of one table (a list of Box) with the x edges between its columns."""

    def __init__(self, boxes: list[Box], edges: list[float], ruled: bool = False):
        super().__init__(boxes)
        self.edges = edges
        self.ruled = ruled  # cells come from rule lines: one box per cell, no wrapped rows to join


def group_rows(boxes: list[Box]) -> list[list[Box]]:
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
