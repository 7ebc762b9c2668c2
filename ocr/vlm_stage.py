"""`ocr_vlm@1`: the router of `ocr@1`, with pages that need OCR read by a vision-language
model behind an OpenAI-compatible server (see vlm.py).

The isolated worker renders those pages (1288 px on the long side, as olmOCR does) and
keeps their text layer; this process sends them to the server, many in flight. A page
the server cannot read falls back to its text layer, then to the bundled CPU engine
(`vlm_fallback`), and a PDF with too many failed pages is dropped with a reason.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from gristmill.ocr.isolate import DocResult
from gristmill.ocr.stage import OcrStage
from gristmill.ocr.vlm import VlmClient
from gristmill.pipeline.params import REQUIRED, param


class OcrVlmStage(OcrStage):
    """The router of ocr@1, with pages that need OCR read by a VLM behind an OpenAI-compatible server."""

    name = "ocr_vlm"
    # The server runs on GPU nodes; the client goes where it is (localhost:8000 there).
    resources = {"GPU": 1}
    deterministic = False  # a sampled model answer may differ between runs

    @dataclass(frozen=True)
    class Params(OcrStage.Params):
        vlm_url: str | None = param(REQUIRED, "OpenAI-compatible server, e.g. http://localhost:8000/v1")
        vlm_model: str = param("olmocr", "model name the server serves")
        vlm_in_flight: int = param(32, "page requests in flight at once", ge=1)
        vlm_timeout_s: float = param(300.0, "seconds per request before it is retried", gt=0)
        vlm_attempts: int = param(8, "attempts per page (rising temperature) before the page fails", ge=1)
        vlm_fallback: str = param("cpu", "a page the server cannot read: its text layer, then the bundled CPU "
                                         "OCR (cpu), the text layer only (text), or fail it (none)",
                                  choices=("cpu", "text", "none"))

    def __init__(self, **params):
        super().__init__(**params)
        if not self.cfg.vlm_url:
            raise ValueError("ocr_vlm needs vlm_url (an OpenAI-compatible server, e.g. http://localhost:8000/v1)")
        self._client = None
        self._cpu = None

    def __getstate__(self):
        state = super().__getstate__()
        state["_client"] = state["_cpu"] = None
        return state

    def _ocr_mode(self) -> str:
        return "render"

    def client(self) -> VlmClient:
        if self._client is None:
            c = self.cfg
            self._client = VlmClient(c.vlm_url, model=c.vlm_model, max_in_flight=c.vlm_in_flight,
                                     timeout_s=c.vlm_timeout_s, max_attempts=c.vlm_attempts)
        return self._client

    def _cpu_read(self, png: bytes):
        import numpy as np
        from PIL import Image

        if self._cpu is None:
            from gristmill.ocr.cpu_ocr import RapidOcrEngine

            self._cpu = RapidOcrEngine(threads=self.cfg.threads)
        img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        return self._cpu.read(img)

    def finish_pages(self, docs: list[tuple[DocResult, dict]]) -> None:
        todo = [(pg, counters) for res, counters in docs for pg in res.pages.values()
                if pg.get("engine") == "vlm" and pg.get("png")]
        answers = self.client().read_pages([pg["png"] for pg, _ in todo])  # the whole batch in flight
        fallback, model = self.cfg.vlm_fallback, self.cfg.vlm_model
        for (pg, counters), ans in zip(todo, answers):
            png = pg.pop("png")
            layer = pg.pop("fallback_lines", [])
            counters["vlm_attempts"] = counters.get("vlm_attempts", 0) + ans.attempts
            if ans.text is not None:
                pg.update(text=ans.text, engine=f"vlm:{model}", rotation=ans.rotation)
                counters["vlm_pages"] = counters.get("vlm_pages", 0) + 1
                continue
            counters["vlm_failed_pages"] = counters.get("vlm_failed_pages", 0) + 1
            pg["detail"] = ans.error
            if fallback in ("cpu", "text") and layer:
                pg.update(engine="pymupdf", lines=layer, reason=pg["reason"] + "+vlm_failed_text_layer")
            elif fallback == "cpu":
                lines, info = self._cpu_read(png)
                pg.update(engine=info["engine"], lines=[ln.as_tuple() for ln in lines],
                          height=info["height"], reason=pg["reason"] + "+vlm_failed_cpu_ocr")
            else:
                pg.update(route="failed", reason="vlm_failed", engine="none", lines=[])
