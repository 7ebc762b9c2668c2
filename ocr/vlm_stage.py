"""`ocr_vlm@1`: the router of `ocr@1`, with pages that need OCR read by a vision-language
model behind an OpenAI-compatible server (see vlm.py).

The isolated worker renders those pages (1288 px on the long side, as olmOCR does) and
keeps their text layer; this process sends them to the server, many in flight. A page
the server cannot read falls back to its text layer, then to the bundled CPU engine
(`vlm_fallback`), and a PDF with too many failed pages is dropped with a reason.
"""

from __future__ import annotations

import io

from gristmill.ocr.isolate import DocResult
from gristmill.ocr.stage import OcrStage
from gristmill.ocr.vlm import VlmClient


class OcrVlmStage(OcrStage):
    """Params of `ocr@1`, plus vlm_url (required), vlm_model ("olmocr"), vlm_in_flight (32),
    vlm_timeout_s (300), vlm_fallback ("cpu": text layer, then CPU OCR | "text": text layer
    only | "none")."""

    name = "ocr_vlm"
    # The server runs on GPU nodes; the client goes where it is (localhost:8000 there).
    resources = {"GPU": 1}
    deterministic = False  # a sampled model answer may differ between runs

    def __init__(self, **params):
        if not params.get("vlm_url"):
            raise ValueError("ocr_vlm needs vlm_url (an OpenAI-compatible server, e.g. http://localhost:8000/v1)")
        super().__init__(**params)
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
            p = self.params
            self._client = VlmClient(p["vlm_url"], model=p.get("vlm_model", "olmocr"),
                                     max_in_flight=int(p.get("vlm_in_flight", 32)),
                                     timeout_s=float(p.get("vlm_timeout_s", 300)),
                                     max_attempts=int(p.get("vlm_attempts", 8)))
        return self._client

    def _cpu_read(self, png: bytes):
        import numpy as np
        from PIL import Image

        if self._cpu is None:
            from gristmill.ocr.cpu_ocr import RapidOcrEngine

            self._cpu = RapidOcrEngine(threads=int(self.params.get("threads", 1)))
        img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        return self._cpu.read(img)

    def finish_pages(self, docs: list[tuple[DocResult, dict]]) -> None:
        todo = [(pg, counters) for res, counters in docs for pg in res.pages.values()
                if pg.get("engine") == "vlm" and pg.get("png")]
        answers = self.client().read_pages([pg["png"] for pg, _ in todo])  # the whole batch in flight
        fallback = self.params.get("vlm_fallback", "cpu")
        model = self.params.get("vlm_model", "olmocr")
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
