"""Client for a vision-language OCR model behind an OpenAI-compatible server (vLLM or
SGLang serving olmOCR-2 or a similar model), following the rules olmOCR found to work:

* many requests in flight (a thread pool; the server batches them on the GPU);
* an answer counts only with `finish_reason == "stop"` (`length` means a runaway);
* a rising temperature on each retry, so a repetition loop is not repeated;
* the model reports whether the page is upright (`is_rotation_valid`,
  `rotation_correction`); a wrong orientation is corrected and the page asked again;
* a page that still fails falls back to the text layer or CPU OCR (the caller's choice),
  and a document with too many failed pages is dropped with a reason.

olmOCR-2 answers with a YAML front matter (primary_language, is_rotation_valid,
rotation_correction, is_table, is_diagram) followed by the page text in Markdown.
"""

from __future__ import annotations

import base64
import io
import json
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

TEMPERATURES = (0.1, 0.1, 0.2, 0.3, 0.5, 0.8, 0.9, 1.0)

PROMPT = (
    "Attached is one page of a document. Return the plain text of the page as it would be read "
    "naturally, in reading order across columns. Render tables as Markdown (or HTML when cells "
    "span), equations as LaTeX, and leave out running headers, footers and page numbers. Begin "
    "with a YAML front matter giving primary_language, is_rotation_valid, rotation_correction "
    "(0, 90, 180 or 270), is_table and is_diagram."
)

_FRONT = re.compile(r"^\s*---\s*\n(.*?)\n---\s*\n?", re.S)


@dataclass
class PageAnswer:
    text: str | None          # None: the page failed
    attempts: int
    rotation: int = 0
    error: str | None = None


def parse_answer(content: str) -> tuple[dict, str]:
    """(front matter fields, text) of an olmOCR-style answer; plain text has no fields."""
    m = _FRONT.match(content or "")
    if not m:
        return {}, (content or "").strip()
    fields = {}
    for line in m.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            v = value.strip().strip("'\"")
            fields[key.strip()] = {"true": True, "false": False}.get(v.lower(), v)
    return fields, content[m.end():].strip()


def rotate_png(png: bytes, degrees: int) -> bytes:
    """Turn a PNG clockwise by `degrees` (a multiple of 90)."""
    if degrees % 360 == 0:
        return png
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)))
    out = Image.fromarray(np.ascontiguousarray(np.rot90(img, k=-(degrees // 90))))
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    return buf.getvalue()


class VlmClient:
    def __init__(self, url: str, model: str = "olmocr", max_in_flight: int = 32, timeout_s: float = 300.0,
                 max_tokens: int = 8000, max_attempts: int = len(TEMPERATURES), api_key: str | None = None):
        self.url = url.rstrip("/") + ("/chat/completions" if not url.rstrip("/").endswith("/chat/completions") else "")
        self.model = model
        self.max_in_flight = max_in_flight
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self.max_attempts = max_attempts
        self.api_key = api_key

    def _request(self, png: bytes, temperature: float) -> dict:
        body = {
            "model": self.model, "max_tokens": self.max_tokens, "temperature": temperature,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": PROMPT},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()}},
            ]}],
        }
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
            return json.loads(r.read())

    def read_page(self, png: bytes) -> PageAnswer:
        rotation = 0
        last_error = None
        for attempt, temperature in enumerate(TEMPERATURES[: self.max_attempts], start=1):
            try:
                reply = self._request(rotate_png(png, rotation), temperature)
                choice = reply["choices"][0]
            except (urllib.error.URLError, OSError, KeyError, IndexError, ValueError) as e:
                last_error = f"{type(e).__name__}: {e}"[:200]
                continue
            finish = choice.get("finish_reason")
            if finish != "stop":
                last_error = f"finish_reason={finish}"
                continue
            fields, text = parse_answer((choice.get("message") or {}).get("content") or "")
            if fields.get("is_rotation_valid") is False:
                try:
                    correction = int(str(fields.get("rotation_correction", 0)))
                except ValueError:
                    correction = 0
                if correction % 90 == 0 and correction % 360:
                    rotation = (rotation + correction) % 360
                    last_error = f"rotation_correction={correction}"
                    continue
            return PageAnswer(text=text, attempts=attempt, rotation=rotation)
        return PageAnswer(text=None, attempts=self.max_attempts, rotation=rotation, error=last_error)

    def read_pages(self, pngs: list[bytes]) -> list[PageAnswer]:
        """All pages concurrently, answers in input order."""
        if not pngs:
            return []
        with ThreadPoolExecutor(max_workers=min(self.max_in_flight, len(pngs))) as pool:
            return list(pool.map(self.read_page, pngs))
