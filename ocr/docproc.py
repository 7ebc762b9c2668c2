"""Read one PDF page by page: route each page, extract or OCR it. Runs inside the
isolated worker process (worker.py), so whatever pymupdf or the OCR engine does to a
bad file (crash, hang, memory blow-up) stays there.

`process_document` yields messages: one `open` (page count, metadata, rights evidence)
or one `error`, then one `page` per page, then `done`.
"""

from __future__ import annotations

import time

from gristmill.ocr.layout import _LEADERS, Line
from gristmill.ocr.pdf_meta import rights_evidence
from gristmill.ocr.router import RouterConfig, route
from gristmill.ocr.textlayer import page_lines, page_signals

EDGE_PAGES = 2  # pages at each end scanned for licence text


def open_pdf(source):
    """Open a PDF from a path or bytes; returns (doc, None) or (None, (reason, detail))."""
    import pymupdf

    try:
        if isinstance(source, (bytes, bytearray)):
            doc = pymupdf.open(stream=bytes(source), filetype="pdf")
        else:
            doc = pymupdf.open(source, filetype="pdf")
    except Exception as e:  # noqa: BLE001 - any parser error is a reason, not a crash
        return None, ("unreadable_pdf", f"{type(e).__name__}: {e}"[:300])
    if doc.needs_pass and not doc.authenticate(""):
        return None, ("encrypted", "needs a user password")
    try:
        n = doc.page_count
    except Exception as e:  # noqa: BLE001
        return None, ("unreadable_pdf", f"page tree: {e}"[:300])
    if n == 0:
        return None, ("no_pages", "the PDF has no pages")
    return doc, None


def _lines_out(lines: list[Line]) -> list[tuple]:
    return [ln.as_tuple() for ln in lines]


def _markdown_page(doc, index: int) -> str:
    import pymupdf4llm

    chunks = pymupdf4llm.to_markdown(doc, pages=[index], page_chunks=True, use_ocr=False, header=False,
                                     footer=False, show_progress=False)
    return _LEADERS.sub(" ", chunks[0]["text"]).strip() if chunks else ""


def _ruled(page, min_segments: int = 8) -> bool:
    """Enough straight vector lines/rectangles for a ruled table (or a figure)."""
    try:
        segments = sum(1 for path in page.get_cdrawings() for item in path.get("items", ()) if item[0] in ("l", "re"))
    except Exception:  # noqa: BLE001
        return False
    return segments >= min_segments


class Engines:
    """OCR engines built once per worker process, on first use."""

    def __init__(self):
        self._cache = {}

    def get(self, device: str, threads: int):
        key = (device, threads)
        if key not in self._cache:
            from gristmill.ocr.cpu_ocr import RapidOcrEngine

            self._cache[key] = RapidOcrEngine(threads=threads, device=device)
        return self._cache[key]


def process_document(msg: dict, engines: Engines):
    opts = msg.get("opts", {})
    cfg = RouterConfig(**opts.get("router", {}))
    text_mode = opts.get("text_mode", "plain")  # "plain", "markdown" (pymupdf4llm), "auto": markdown on ruled pages
    ocr_mode = opts.get("ocr", "cpu")                # "cpu", "cuda", "render" (for a VLM), "none"
    dpi = int(opts.get("dpi", 150))
    start = int(msg.get("start_page", 0))
    doc, err = open_pdf(msg["pdf"])
    if err:
        yield {"kind": "error", "reason": err[0], "detail": err[1]}
        return
    n = doc.page_count
    if start == 0:
        meta = {k: v for k, v in (doc.metadata or {}).items() if v}
        try:
            xmp = doc.get_xml_metadata() or ""
        except Exception:  # noqa: BLE001
            xmp = ""
        edge = []
        for i in list(range(min(EDGE_PAGES, n))) + list(range(max(EDGE_PAGES, n - EDGE_PAGES), n)):
            try:
                edge.append(doc[i].get_text())
            except Exception:  # noqa: BLE001
                edge.append("")
        rights = rights_evidence(xmp, "\n".join(edge[:EDGE_PAGES]), "\n".join(edge[EDGE_PAGES:]))
        yield {"kind": "open", "pages": n, "meta": meta, "rights": rights,
               "repaired": bool(getattr(doc, "is_repaired", False))}
    for i in range(start, n):
        yield _page(doc, i, cfg, text_mode, ocr_mode, dpi, engines, opts)
    yield {"kind": "done"}


def _page(doc, i, cfg, text_mode, ocr_mode, dpi, engines, opts) -> dict:
    t0 = time.perf_counter()
    out = {"kind": "page", "index": i}
    try:
        page = doc[i]
        sig = page_signals(page)
        decision, reason = route(sig, cfg)
        if decision == "blank" and len(page.get_drawings()) > 50:
            decision, reason = "ocr", "vector_drawn_page"  # text drawn as paths has no text layer
        out.update(route=decision, reason=reason, signals=sig.as_dict(), height=float(page.rect.height),
                   width=float(page.rect.width))
        visible_only = True
        if decision == "ocr" and ocr_mode == "none":  # the text layer, even an invisible one, is all we have
            decision = "text" if sig.chars else "blank"
            out["reason"] = reason + "+ocr_disabled"
            visible_only = False
        if decision == "text":
            if text_mode == "markdown" or (text_mode == "auto" and _ruled(page)):
                out.update(engine="pymupdf4llm", text=_markdown_page(doc, i))
            else:
                out.update(engine="pymupdf", lines=_lines_out(page_lines(page, sig.text_angle, visible_only)))
                if sig.text_angle in (90, 270):
                    out["height"], out["width"] = float(page.rect.width), float(page.rect.height)
        elif decision == "ocr":
            from gristmill.ocr.cpu_ocr import render_page

            if ocr_mode == "render":  # the parent sends it to a VLM; keep the text layer as fallback
                import pymupdf

                longest = max(page.rect.width, page.rect.height)
                pix = page.get_pixmap(matrix=pymupdf.Matrix(opts.get("render_px", 1288) / longest,
                                                            opts.get("render_px", 1288) / longest))
                out.update(engine="vlm", png=pix.tobytes("png"),
                           fallback_lines=_lines_out(page_lines(page, sig.text_angle)) if sig.visible_chars else [])
            else:
                engine = engines.get(ocr_mode, int(opts.get("threads", 1)))
                img = render_page(page, dpi)
                lines, info = engine.read(img, px_per_pt=img.shape[1] / page.rect.width)
                out.update(engine=info["engine"], lines=_lines_out(lines), height=info["height"], width=info["width"],
                           rotation=info["rotation"], confidence=info["confidence"],
                           gpu_fallback=engine.fell_back)
                ocr_chars = sum(len(ln.text) for ln in lines)
                if sig.chars and ocr_chars < 0.3 * sig.chars and not (
                        sig.garbage_ratio > cfg.max_garbage or sig.script_mix > cfg.max_script_mix):
                    # The engine saw (almost) nothing where a clean layer has text: an invisible
                    # layer over a blank render, or a script the engine does not read.
                    out.update(engine="pymupdf", reason=reason + "+ocr_empty_kept_layer",
                               lines=_lines_out(page_lines(page, sig.text_angle, visible_only=False)),
                               height=float(page.rect.height), width=float(page.rect.width))
        else:
            out.update(engine="none", lines=[])
    except MemoryError:
        out.update(route="failed", reason="memory_limit", engine="none", lines=[])
    except Exception as e:  # noqa: BLE001 - one bad page fails alone
        detail = f"{type(e).__name__}: {e}"[:300]
        out_of_memory = any(k in detail.lower() for k in ("malloc", "out of memory", "bad_alloc", "allocate"))
        out.update(route="failed", reason="memory_limit" if out_of_memory else "page_error", engine="none",
                   lines=[], detail=detail)
    out["seconds"] = round(time.perf_counter() - t0, 4)
    return out
