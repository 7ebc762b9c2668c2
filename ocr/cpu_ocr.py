"""The bundled OCR engine: rapidocr 3.x (PP-OCR detection + recognition models shipped in
its wheel, run by onnxruntime), on CPU or, where onnxruntime has CUDA, on GPU.

rapidocr's line-orientation classifier is off: it flips upright lines and hurts. Page
rotation is handled here instead: detection boxes that are mostly taller than wide mean a
page turned by 90 or 270 degrees; a low recognition confidence triggers a try at the
opposite orientation, and the more confident reading wins.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from gristmill.ocr.image_rules import image_grids
from gristmill.ocr.layout import Box, Line, order_boxes

log = logging.getLogger("gristmill.ocr")


def _bundled_models() -> dict:
    """Pin the models inside the wheel: any other choice makes rapidocr download them."""
    from rapidocr import ModelType, OCRVersion

    return {"Det.ocr_version": OCRVersion.PPOCRV6, "Det.model_type": ModelType.SMALL,
            "Rec.ocr_version": OCRVersion.PPOCRV6, "Rec.model_type": ModelType.SMALL}


def cuda_available() -> bool:
    try:
        import onnxruntime as ort

        return "CUDAExecutionProvider" in ort.get_available_providers()
    except Exception:  # noqa: BLE001 - no runtime means no CUDA
        return False


class RapidOcrEngine:
    """`read(image) -> (lines, info)`; `image` is an HxWx3 uint8 array."""

    def __init__(self, threads: int = 1, device: str = "cpu", low_confidence: float = 0.85,
                 use_cls: bool = False):
        from rapidocr import RapidOCR

        self.device = "cuda" if device in ("cuda", "gpu") and cuda_available() else "cpu"
        self.fell_back = device in ("cuda", "gpu") and self.device == "cpu"
        params = {
            **_bundled_models(),
            "Global.use_cls": use_cls,  # off by default: it flips upright lines (measured)
            "Global.log_level": "error",
            # Detection on the page scaled to 960 px on its long side: at rapidocr's default
            # (short side >= 736) a lone word on a blank 150-dpi scan was missed; recognition
            # still reads crops from the full-resolution image.
            "Det.limit_type": "max",
            "Det.limit_side_len": 960,
            "EngineConfig.onnxruntime.intra_op_num_threads": int(threads),
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            "EngineConfig.onnxruntime.use_cuda": self.device == "cuda",
        }
        self._engine = RapidOCR(params=params)
        self.use_cls = use_cls
        self.low_confidence = low_confidence
        self.name = f"rapidocr-{self.device}"

    def _run(self, img: np.ndarray):
        out = self._engine(img, use_det=True, use_cls=self.use_cls, use_rec=True)
        if out.boxes is None or out.txts is None:
            return [], 0.0
        items = []
        for quad, txt, score in zip(out.boxes, out.txts, out.scores):
            q = np.asarray(quad)
            items.append((float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()),
                          float(q[:, 1].max()), txt, float(score)))
        chars = sum(len(t[4]) for t in items) or 1
        conf = sum(t[5] * len(t[4]) for t in items) / chars
        return items, conf

    @staticmethod
    def _mostly_tall(items) -> bool:
        """Most text boxes taller than wide: the page is turned by 90 or 270 degrees."""
        if not items:
            return False
        tall = sum(1 for x0, y0, x1, y1, _, _ in items if (y1 - y0) > 1.5 * (x1 - x0))
        return tall / len(items) > 0.6

    def read(self, img: np.ndarray, detect_rotation: bool = True,
             px_per_pt: float = 150 / 72) -> tuple[list[Line], dict]:
        """OCR one page image; returns its lines in reading order and what was done.
        Rules drawn in the image (a ruled table) give its cells, as a text layer's do;
        `px_per_pt` is the image's scale (pixels per point of the page).

        Upright pages (the common case) cost one pass; a turned page costs two or three.
        """
        rotation = 0
        items, conf = self._run(img)
        if detect_rotation and self._mostly_tall(items):
            # rapidocr turns tall crops itself, so the readings may look fine, but their boxes
            # are columns of one word each: turn the page and read it again. A page turned the
            # other way (270) comes out upside down and is caught by the check below.
            img = np.ascontiguousarray(np.rot90(img, k=-1))  # clockwise by 90
            items, conf = self._run(img)
            rotation = 90
        if detect_rotation and items and conf < self.low_confidence:
            flipped = np.ascontiguousarray(np.rot90(img, k=2))
            items2, conf2 = self._run(flipped)
            if conf2 > conf + 0.05:
                items, conf, img = items2, conf2, flipped
                rotation = (rotation + 180) % 360
        boxes = [Box(x0, y0, x1, y1, t) for x0, y0, x1, y1, t, _ in items]
        grids = image_grids(img, float(np.median([b.h for b in boxes])), px_per_pt) if boxes else []
        lines = order_boxes(boxes, float(img.shape[1]), grids)
        return lines, {"rotation": rotation, "confidence": round(conf, 4), "height": float(img.shape[0]),
                       "width": float(img.shape[1]),
                       "engine": self.name}


def render_page(page, dpi: int = 150, max_side: int = 2000) -> np.ndarray:
    """A page as an HxWx3 uint8 RGB array, at `dpi` but no larger than `max_side` pixels."""
    import pymupdf

    longest = max(page.rect.width, page.rect.height) / 72.0 * dpi
    if longest > max_side:
        dpi = max(36, int(dpi * max_side / longest))
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csRGB, alpha=False)
    return np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3).copy()


def default_threads() -> int:
    return int(os.environ.get("GRISTMILL_OCR_THREADS", "1"))
