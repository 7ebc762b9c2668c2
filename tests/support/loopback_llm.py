"""TEST DOUBLE: a loopback OpenAI-compatible chat server with fixed latency and injected faults.

It stands in for a remote inference server (vLLM, SGLang, a hosted API), which cannot run
here; it is no model. Its answer is the document of the prompt with "indeed" after every
fourth word (so no 8-gram is the source's and every number and name stays), behind the
Wikipedia style's prefix. A document may carry fault markers, read from the prompt:

    [[fault:429x2]]   the first 2 requests for it get 429 (with Retry-After: 0)
    [[fault:500x1]]   500 once       [[fault:resetx1]]  the connection is closed once
    [[fault:badjsonx1]] a 200 whose body is not JSON, once
    [[fault:400]]     always 400     [[fault:length]]  finish_reason "length"
    [[fault:loop]]    a repetition loop below temperature 0.6
    [[fault:copy]]    the document verbatim         [[fault:noprefix]] no prefix
    [[fault:refusal]] "I'm sorry, but I can't help with that."
    [[fault:lostnum]] numbers removed                [[fault:invent]]   numbers added
    [[fault:short]]   one short sentence

`received` counts every request the server got, `by_document` per document text.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import Counter

MARKER = re.compile(r"\[\[fault:(\w+?)(?:x(\d+))?\]\]")
PREFIX = "Here is a paraphrased version:"


def document_of(prompt: str) -> str:
    m = re.search(r"Text:\s*(.*)", prompt, re.DOTALL)
    return (m.group(1) if m else prompt).strip()


def paraphrase(doc: str) -> str:
    words = MARKER.sub("", doc).split()
    out = []
    for i, w in enumerate(words):
        out.append(w)
        if i % 4 == 3:
            out.append("indeed")
    return " ".join(out)


class LoopbackLLM:
    def __init__(self, latency_s: float = 0.0, model: str = "loopback-double"):
        self.latency_s, self.model = latency_s, model
        self.received = 0
        self.by_document: Counter = Counter()
        self._attempts: Counter = Counter()
        self.url = ""
        self._loop = None
        self._thread = None

    # -- answers ----------------------------------------------------------------------
    def answer(self, req: dict) -> tuple[int, dict | str, dict]:
        prompt = req["messages"][-1]["content"]
        doc = document_of(prompt)
        self.by_document[MARKER.sub("", doc).strip()[:80]] += 1
        faults = {m.group(1): int(m.group(2) or 0) for m in MARKER.finditer(doc)}
        for kind in ("429", "500", "reset", "badjson"):
            if kind in faults:
                self._attempts[(kind, doc)] += 1
                if self._attempts[(kind, doc)] <= faults[kind]:
                    if kind == "429":
                        return 429, {"error": {"message": "rate limited"}}, {"Retry-After": "0"}
                    if kind == "500":
                        return 500, {"error": {"message": "internal"}}, {}
                    return 200 if kind == "badjson" else -1, "{not json", {}
        if "400" in faults:
            return 400, {"error": {"message": "prompt too long", "type": "invalid_request_error"}}, {}
        text, finish = f"{PREFIX}\n{paraphrase(doc)}", "stop"
        temperature = float(req.get("temperature") or 0)
        if "length" in faults:
            finish = "length"
        if "loop" in faults and temperature < 0.6:
            text = PREFIX + "\n" + " ".join(["the cat sat on the mat"] * 40)
        if "copy" in faults:
            text = f"{PREFIX}\n{MARKER.sub('', doc).strip()}"
        if "noprefix" in faults:
            text = paraphrase(doc)
        if "refusal" in faults:
            text = f"{PREFIX}\nI'm sorry, but I can't help with that request."
        if "lostnum" in faults:
            text = re.sub(r"\d+", "several", text)
        if "invent" in faults:
            text += " It cost 1234 dollars in 1999, 4321 in 2001 and 77 in 2024."
        if "short" in faults:
            text = f"{PREFIX}\nIt is a tower."
        n = len(text.split())
        body = {"id": f"cmpl-{self.received}", "object": "chat.completion", "model": self.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
                "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": n,
                          "total_tokens": len(prompt.split()) + n}}
        return 200, body, {}

    # -- serving ----------------------------------------------------------------------
    async def _handle(self, request):
        from aiohttp import web

        self.received += 1
        req = await request.json()
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        status, body, headers = self.answer(req)
        if status == -1:  # a reset: drop the connection without answering
            request.transport.close()
            return web.Response(status=500)
        text = body if isinstance(body, str) else json.dumps(body)
        return web.Response(status=status, text=text, content_type="application/json", headers=headers)

    async def _models(self, request):
        from aiohttp import web

        return web.json_response({"object": "list", "data": [{"id": self.model, "object": "model"}]})

    def __enter__(self) -> "LoopbackLLM":
        ready = threading.Event()

        def serve():
            from aiohttp import web

            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            app = web.Application()
            app.router.add_post("/v1/chat/completions", self._handle)
            app.router.add_get("/v1/models", self._models)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=2048)
            self._loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}/v1"
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        if self._loop:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
