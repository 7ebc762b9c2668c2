"""A page's text layer: measured signals for the router, and its lines in reading order.

Signals come from one `get_texttrace()` pass (characters with render mode, font and
opacity) plus the page's image boxes; the lines come from `get_text("dict")`, rotated so
the dominant writing direction is horizontal, then ordered by `layout.order_boxes`.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import asdict, dataclass

from gristmill.ocr.layout import Box, Line, order_boxes
from gristmill.ocr.ruled import ruled_tables

# Script groups that legitimately mix on one page (Japanese uses all of the first group).
_SCRIPT_GROUP = {
    "CJK": "CJK", "HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK", "IDEOGRAPHIC": "CJK",
    "FULLWIDTH": "CJK", "HALFWIDTH": "CJK", "KATAKANA-HIRAGANA": "CJK", "BOPOMOFO": "CJK",
}


@dataclass
class PageSignals:
    chars: int = 0             # non-space characters in the text layer (visible or not)
    visible_chars: int = 0
    invisible_ratio: float = 0.0  # render mode 3 or zero opacity: an OCR layer over a scan
    glyphless_ratio: float = 0.0  # characters in GlyphLessFont (Tesseract's OCR layer font)
    garbage_ratio: float = 0.0    # U+FFFD, control, unassigned, private-use characters
    letter_ratio: float = 0.0     # letters and digits among non-space characters
    script_mix: float = 0.0       # letter share outside the two largest script groups
    image_cover: float = 0.0      # page area covered by images (0..1, capped)
    rotation: int = 0             # /Rotate of the page
    text_angle: int = 0           # dominant writing direction of the text layer, degrees

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _script(ch: str) -> str:
    try:
        first = unicodedata.name(ch).split()[0]
    except ValueError:
        return "?"
    return _SCRIPT_GROUP.get(first, first)


def text_signals(chars: str) -> tuple[float, float, float]:
    """(garbage_ratio, letter_ratio, script_mix) of a string."""
    nonspace = [c for c in chars if not c.isspace()]
    if not nonspace:
        return 0.0, 0.0, 0.0
    garbage = letters = 0
    scripts: dict[str, int] = {}
    for c in nonspace:
        cat = unicodedata.category(c)
        # Private-use characters (Co) are not counted: symbol fonts (Wingdings, math) use them.
        if c == "\ufffd" or cat in ("Cc", "Cn", "Cs"):
            garbage += 1
        elif cat[0] in "LN":
            letters += 1
            if cat[0] == "L":
                s = _script(c)
                scripts[s] = scripts.get(s, 0) + 1
    n = len(nonspace)
    total_l = sum(scripts.values())
    top2 = sum(sorted(scripts.values(), reverse=True)[:2])
    mix = (total_l - top2) / total_l if total_l else 0.0
    return garbage / n, letters / n, mix


def page_signals(page) -> PageSignals:
    sig = PageSignals(rotation=int(page.rotation or 0))
    chars: list[str] = []
    invisible = glyphless = 0
    angle_votes: dict[int, int] = {}
    for span in page.get_texttrace():
        text = "".join(chr(c[0]) for c in span["chars"] if c[0] >= 0)
        n = sum(1 for c in text if not c.isspace())
        if not n:
            continue
        chars.append(text)
        if span.get("type") == 3 or span.get("opacity", 1.0) == 0:
            invisible += n
        if "glyphless" in str(span.get("font", "")).lower():
            glyphless += n
        dx, dy = span.get("dir", (1.0, 0.0))
        ang = int(round(math.degrees(math.atan2(dy, dx)) / 90.0)) % 4 * 90
        angle_votes[ang] = angle_votes.get(ang, 0) + n
    all_text = "".join(chars)
    sig.chars = sum(1 for c in all_text if not c.isspace())
    sig.visible_chars = sig.chars - invisible
    if sig.chars:
        sig.invisible_ratio = invisible / sig.chars
        sig.glyphless_ratio = glyphless / sig.chars
        sig.garbage_ratio, sig.letter_ratio, sig.script_mix = text_signals(all_text)
        sig.text_angle = max(angle_votes, key=angle_votes.get)
    area = abs(page.rect) or 1.0
    covered = 0.0
    for info in page.get_image_info():
        r = page.rect & info["bbox"]  # clip to the page
        if not r.is_empty:
            covered += abs(r)
    sig.image_cover = min(1.0, covered / area)
    return sig


def _rotate_box(x0, y0, x1, y1, angle: int, w: float, h: float) -> tuple[float, float, float, float]:
    """Box coordinates after turning the page so text written at `angle` is horizontal."""
    if angle == 90:    # text runs downwards (dir (0, 1) in y-down space)
        return y0, w - x1, y1, w - x0
    if angle == 270:   # text runs upwards
        return h - y1, x0, h - y0, x1
    if angle == 180:
        return w - x1, h - y1, w - x0, h - y0
    return x0, y0, x1, y1


# Ligatures expanded (training text wants "fi", not U+FB01), text outside the page dropped.
_FLAGS = 64  # pymupdf.TEXT_MEDIABOX_CLIP


def page_lines(page, angle: int = 0, visible_only: bool = True) -> list[Line]:
    """Text-layer lines of a page in reading order (fully transparent spans skipped
    unless `visible_only` is False)."""
    w, h = page.rect.width, page.rect.height
    boxes = []
    d = page.get_text("dict", flags=_FLAGS)
    for block in d.get("blocks", []):
        for line in block.get("lines", []):
            text = "".join(s["text"] for s in line["spans"] if not visible_only or s.get("alpha", 255) != 0)
            if not text.strip():
                continue
            x0, y0, x1, y1 = _rotate_box(*line["bbox"], angle, w, h)
            boxes.append(Box(x0, y0, x1, y1, text))
    width = h if angle in (90, 270) else w
    grids = ruled_tables(page.get_drawings()) if angle == 0 else []  # rules of turned pages not turned
    return order_boxes(boxes, width, grids)
