"""An asyncio client for OpenAI-compatible chat servers (vLLM, SGLang, llama.cpp, hosted APIs).

Many requests in flight (`concurrency` workers over a bounded queue, so a million documents
never become a million pending tasks), one connection pool. Per request:

* 429, 5xx, a reset connection, a timeout or an unreadable JSON body: retried with
  exponential backoff and full jitter (a server's `Retry-After` is honoured), at most
  `max_attempts` times, then the request fails (`request_failed`);
* 400 (and other 4xx): the server refuses this document; not retried (`rejected_by_server`);
* a repetition loop in the answer (`loop_check`): resent at the next temperature of a rising
  schedule (olmOCR's remedy), the last answer kept if every one loops.

Every answer goes through the `RequestCache` before the request is sent: a rerun, or a run
resumed after a kill, sends nothing it already has an answer for.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import time
from dataclasses import dataclass, field
from typing import Callable

LOOP_TEMPERATURES = (0.2, 0.4, 0.6, 0.8, 1.0)
RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def payload_hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def cache_key(doc_id: str, rollout: int, payload: dict) -> str:
    return hashlib.sha256(f"{doc_id}\x00{rollout}\x00{payload_hash(payload)}".encode()).hexdigest()[:24]


class RequestCache:
    """Answers by (doc id, rollout, payload hash), one append-only JSONL file per writer.

    A line is written and flushed as soon as its answer arrives, so a killed run keeps what it
    got; a torn last line is ignored on load."""

    def __init__(self, folder: str | None, name: str = "cache"):
        self.entries: dict[str, dict] = {}
        self.path = None
        self._file = None
        if folder:
            os.makedirs(folder, exist_ok=True)
            for f in sorted(os.listdir(folder)):
                if f.endswith(".jsonl"):
                    self._load(os.path.join(folder, f))
            self.path = os.path.join(folder, f"{name}.jsonl")

    def _load(self, path: str) -> None:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                self.entries[rec["key"]] = rec

    def get(self, key: str) -> dict | None:
        return self.entries.get(key)

    def put(self, rec: dict) -> None:
        self.entries[rec["key"]] = rec
        if self.path:
            if self._file is None:
                self._file = open(self.path, "a", encoding="utf-8")
            self._file.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file:
            self._file.close()
            self._file = None


@dataclass
class Request:
    doc_id: str
    rollout: int
    payload: dict
    tag: object = None  # the caller's (which segment of which document)


@dataclass
class Result:
    request: Request
    status: str                   # ok | rejected_by_server | request_failed
    body: dict | None = None
    error: str | None = None
    attempts: int = 0
    loop_retries: int = 0
    cached: bool = False
    temperature: float | None = None


@dataclass
class ClientStats:
    sent: int = 0                 # HTTP requests sent (retries included)
    cached: int = 0               # answers taken from the cache
    retried: int = 0
    loop_retries: int = 0
    completion_tokens: int = 0    # over every answer received, loop retries included
    by_status: dict = field(default_factory=dict)
    seconds: float = 0.0


class ChatClient:
    def __init__(self, base_url: str, concurrency: int = 64, api_key: str | None = None, timeout_s: float = 600.0,
                 max_attempts: int = 6, backoff_s: float = 0.5, max_backoff_s: float = 30.0,
                 cache: RequestCache | None = None, loop_check: Callable[[dict], bool] | None = None,
                 loop_temperatures: tuple[float, ...] = LOOP_TEMPERATURES, seed: int = 0):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.concurrency = max(1, concurrency)
        self.api_key = api_key
        self.timeout_s, self.max_attempts = timeout_s, max_attempts
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.cache = cache or RequestCache(None)
        self.loop_check = loop_check
        self.loop_temperatures = loop_temperatures
        self.rng = random.Random(seed)  # jitter only: never changes what is asked
        self.stats = ClientStats()

    def run(self, requests: list[Request]) -> list[Result]:
        """All requests, answers in the order given."""
        return asyncio.run(self.run_async(requests))

    async def run_async(self, requests: list[Request]) -> list[Result]:
        import aiohttp

        t0 = time.time()
        results: list[Result | None] = [None] * len(requests)
        queue: asyncio.Queue = asyncio.Queue(maxsize=2 * self.concurrency)
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        connector = aiohttp.TCPConnector(limit=self.concurrency, force_close=False)
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as session:
            async def worker():
                while True:
                    item = await queue.get()
                    if item is None:
                        return
                    i, req = item
                    results[i] = await self._one(session, req)

            workers = [asyncio.create_task(worker()) for _ in range(min(self.concurrency, max(1, len(requests))))]
            for item in enumerate(requests):
                await queue.put(item)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        self.stats.seconds += time.time() - t0
        return results  # type: ignore[return-value]

    async def _one(self, session, req: Request) -> Result:
        result = await self._cached_or_sent(session, req, req.payload)
        if self.loop_check is None or result.status != "ok":
            return result
        base_t = req.payload.get("temperature") or 0.0
        for t in self.loop_temperatures:
            if not self.loop_check(result.body):
                break
            if t <= base_t:
                continue
            self.stats.loop_retries += 1
            retried = await self._cached_or_sent(session, req, {**req.payload, "temperature": t})
            retried.loop_retries = result.loop_retries + 1
            if retried.status != "ok":
                break
            result = retried
        return result

    async def _cached_or_sent(self, session, req: Request, payload: dict) -> Result:
        key = cache_key(req.doc_id, req.rollout, payload)
        hit = self.cache.get(key)
        temperature = payload.get("temperature")
        if hit is not None:
            self.stats.cached += 1
            return Result(req, hit["status"], hit.get("body"), hit.get("error"), 0, cached=True, temperature=temperature)
        result = await self._send(session, req, payload)
        result.temperature = temperature
        if result.status in ("ok", "rejected_by_server"):  # a failure is not an answer: a rerun asks again
            self.cache.put({"key": key, "doc_id": req.doc_id, "rollout": req.rollout, "status": result.status,
                            "body": result.body, "error": result.error})
        return result

    async def _send(self, session, req: Request, payload: dict) -> Result:
        import aiohttp

        error = ""
        for attempt in range(1, self.max_attempts + 1):
            self.stats.sent += 1
            retry_after = None
            try:
                async with session.post(self.url, data=json.dumps(payload)) as resp:
                    status = resp.status
                    self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
                    text = await resp.text()
                    if status == 200:
                        try:
                            body = json.loads(text)
                            body["choices"][0]["message"]
                            self.stats.completion_tokens += int((body.get("usage") or {}).get("completion_tokens") or 0)
                            return Result(req, "ok", body, attempts=attempt)
                        except (ValueError, KeyError, IndexError, TypeError) as e:
                            error = f"unreadable answer: {type(e).__name__}: {text[:120]!r}"
                    elif status in RETRY_STATUS:
                        error = f"HTTP {status}: {text[:200]}"
                        retry_after = resp.headers.get("Retry-After")
                    else:  # 400 and other 4xx: this document is refused, asking again won't help
                        return Result(req, "rejected_by_server", None, f"HTTP {status}: {text[:300]}", attempt)
            except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as e:
                error = f"{type(e).__name__}: {e}"
            if attempt < self.max_attempts:
                self.stats.retried += 1
                await asyncio.sleep(self._delay(attempt, retry_after))
        return Result(req, "request_failed", None, error, self.max_attempts)

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.max_backoff_s)
            except ValueError:
                pass
        cap = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return self.rng.uniform(0, cap)  # full jitter: retries of many requests do not arrive together
