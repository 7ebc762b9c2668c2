"""Per-page routing: read the text layer, or OCR the page, from measured signals.

Each decision is (route, reason). Routes: `text` (pymupdf text layer), `ocr` (render and
run an OCR engine), `blank` (nothing to read). The first rule that fires wins; the order
puts the cheap, confident cases first.
"""

from __future__ import annotations

from dataclasses import dataclass

from gristmill.ocr.textlayer import PageSignals


@dataclass(frozen=True)
class RouterConfig:
    min_chars: int = 50             # fewer visible characters than this: not a real text layer...
    max_garbage: float = 0.05       # ...or more garbage characters than this share
    min_letters: float = 0.5        # ...or fewer letters/digits than this share
    max_script_mix: float = 0.15    # ...or letters spread over more than two script groups
    max_invisible: float = 0.5      # invisible (OCR-layer) share above which we re-OCR
    scan_cover: float = 0.5         # image cover of a scanned page
    sparse_chars: int = 200         # a page mostly image with fewer chars is OCRed
    trust_ocr_layer: bool = False   # keep existing invisible OCR layers when they look clean
    force: str | None = None        # "text" or "ocr": route every page one way (benchmarks)


def route(sig: PageSignals, cfg: RouterConfig = RouterConfig()) -> tuple[str, str]:
    """(route, reason) for one page."""
    if cfg.force == "ocr":
        return "ocr", "forced_ocr"
    if cfg.force == "text":
        return "text", "forced_text"
    layer_clean = (sig.garbage_ratio <= cfg.max_garbage and sig.letter_ratio >= cfg.min_letters
                   and sig.script_mix <= cfg.max_script_mix)
    if sig.chars and (sig.invisible_ratio > cfg.max_invisible or sig.glyphless_ratio > cfg.max_invisible):
        if cfg.trust_ocr_layer and layer_clean and sig.chars >= cfg.min_chars:
            return "text", "ocr_layer_kept"
        return "ocr", "invisible_text_layer"
    if sig.visible_chars >= cfg.min_chars:
        if not layer_clean:
            return "ocr", "garbled_text_layer"
        if sig.image_cover >= cfg.scan_cover and sig.visible_chars < cfg.sparse_chars:
            return "ocr", "image_page_sparse_text"
        return "text", "text_layer_ok"
    if sig.image_cover > 0.02:
        return "ocr", "no_text_layer" if sig.visible_chars == 0 else "image_page_sparse_text"
    if sig.visible_chars == 0:
        return "blank", "no_text_no_image"
    if not layer_clean:
        return "ocr", "garbled_text_layer"
    return "text", "short_text_layer"
