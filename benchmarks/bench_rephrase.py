"""Rephrasing throughput: gristmill's client vs datatrove's InferenceRunner, and the real local model.

1. Both clients against the same loopback server (tests/support/loopback_llm.py, a test double
   with a fixed latency per request, in its own process) at 64 and 512 requests in flight:
   requests/s, and the share of the ideal in-flight / latency.
2. The local SmolLM2-135M server (`--endpoint local`): completion tokens/s through
   gristmill's client with N in flight vs one client sending one request at a time; and a
   T = 0 rerun is checked byte-identical.

    python benchmarks/bench_rephrase.py [--latency 1.0] [--requests-per-slot 4] [--local-docs 6]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gristmill.pipeline.rephrase.client import ChatClient, Request  # noqa: E402

DOC = ("The Eiffel Tower in Paris was completed in 1889 and stands 330 metres tall. About 7 million people visit it "
       "each year.")


def _serve(latency, q):
    from tests.support.loopback_llm import LoopbackLLM

    with LoopbackLLM(latency_s=latency) as srv:
        q.put(srv.url)
        while True:
            time.sleep(3600)


def payload(i):
    return {"model": "m", "messages": [{"role": "user", "content": f"Text: {i} {DOC}"}], "max_tokens": 64,
            "temperature": 0}


def bench_gristmill(url, inflight, n):
    client = ChatClient(url, concurrency=inflight, max_attempts=3)
    t = time.perf_counter()
    res = client.run([Request(str(i), 0, payload(i)) for i in range(n)])
    dt = time.perf_counter() - t
    assert all(r.status == "ok" for r in res)
    return n / dt


def bench_datatrove(url, inflight, n):
    from datatrove.data import Document
    from datatrove.pipeline.inference.run_inference import InferenceConfig, InferenceRunner
    from datatrove.pipeline.writers import JsonlWriter

    async def rollout(document, generate):
        return await generate(payload(document.id))

    cfg = InferenceConfig(server_type="endpoint", model_name_or_path="m", endpoint_url=url.removesuffix("/v1"),
                          max_concurrent_generations=inflight, use_chat=True, metric_interval=3600)
    with tempfile.TemporaryDirectory() as tmp:
        runner = InferenceRunner(rollout, cfg, JsonlWriter(tmp))
        docs = [Document(text=DOC, id=str(i)) for i in range(n)]
        t = time.perf_counter()
        runner.run(iter(docs), rank=0, world_size=1)
        return n / (time.perf_counter() - t)


def bench_local(n_docs, inflight):
    from gristmill.pipeline.rephrase.server import LocalServer
    from gristmill.pipeline.rephrase.styles import get_style

    style = get_style("wiki")
    texts = [f"{DOC} Fact number {i}: the tower is repainted every 7 years." for i in range(n_docs)]
    reqs = [Request(str(i), 0, {"model": "m", "messages": style.messages(t), "max_tokens": 64, "temperature": 0})
            for i, t in enumerate(texts)]
    local = LocalServer(threads=int(os.environ.get("BENCH_THREADS", "1")))
    with local as url:
        out = {"startup_s": round(local.startup_s, 1)}
        # one client, one request at a time: the server's own throughput
        t, tokens, single = time.perf_counter(), 0, []
        for r in reqs:
            req = urllib.request.Request(url + "/chat/completions", data=json.dumps(r.payload).encode(),
                                         headers={"Content-Type": "application/json"})
            body = json.load(urllib.request.urlopen(req, timeout=600))
            tokens += body["usage"]["completion_tokens"]
            single.append(body["choices"][0]["message"]["content"])
        out["single_client_tokens_per_s"] = round(tokens / (time.perf_counter() - t), 2)
        client = ChatClient(url, concurrency=inflight)
        t = time.perf_counter()
        res = client.run(reqs)
        dt = time.perf_counter() - t
        out["gristmill_tokens_per_s"] = round(sum(r.body["usage"]["completion_tokens"] for r in res) / dt, 2)
        out["gristmill_in_flight"] = inflight
        out["t0_rerun_identical"] = [r.body["choices"][0]["message"]["content"] for r in res] == single
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=1.0)
    ap.add_argument("--requests-per-slot", type=int, default=4)
    ap.add_argument("--inflight", type=int, nargs="+", default=[64, 512])
    ap.add_argument("--local-docs", type=int, default=6)
    ap.add_argument("--skip-local", action="store_true")
    a = ap.parse_args()
    q = mp.Queue()
    proc = mp.Process(target=_serve, args=(a.latency, q), daemon=True)
    proc.start()
    url = q.get(timeout=30)
    rows = []
    try:
        for c in a.inflight:
            n = c * a.requests_per_slot
            ideal = c / a.latency
            bench_gristmill(url, c, c)  # warm-up: the server's first connections are paid by neither
            g = bench_gristmill(url, c, n)
            d = bench_datatrove(url, c, n)
            rows.append({"in_flight": c, "requests": n, "latency_s": a.latency, "ideal_rps": round(ideal, 1),
                         "gristmill_rps": round(g, 1), "gristmill_of_ideal": round(g / ideal, 3),
                         "datatrove_rps": round(d, 1), "datatrove_of_ideal": round(d / ideal, 3)})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        proc.terminate()
    if not a.skip_local:
        print(json.dumps({"local_model": bench_local(a.local_docs, 4)}), flush=True)


if __name__ == "__main__":
    main()
