"""`rephrase@1`: LLM rewrites of documents, checked for fidelity, with lineage.

A corpus stage. Its fit plans every request over the whole corpus (policy, --select,
--max-docs, styles chosen per document, segments), starts the local server if
`endpoint: local`, sends what the request cache lacks at `concurrency` in flight, and stops
the server. Each shard's process then reads its answers back from the cache (so the
server's lifetime is one phase, and a resumed run asks for nothing twice), checks them and
writes the input documents unchanged plus the accepted synthetic rows; rejected generations
go to the drop log with their reason and metrics.

Counts: docs_in (originals) + generated == docs_out + docs_dropped, and in `counters`
originals_in == originals_out + originals_dropped (0: originals are never dropped here),
generated == accepted + rejected.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.pipeline.params import param
from gristmill.pipeline.rephrase import checks
from gristmill.pipeline.rephrase.client import ChatClient, Request, RequestCache, cache_key
from gristmill.pipeline.rephrase.plan import count_tokens, eligible_rows, items_for
from gristmill.pipeline.rephrase.policy import synthetic_license
from gristmill.pipeline.rephrase.styles import STYLES
from gristmill.pipeline.schema import conform, drop_log, empty_drops, stable_id
from gristmill.pipeline.stage import Stage, StageOutput

CACHE_DIR = "requests"
PLAN = "plan.json"
METRIC_COLUMNS = {
    "rephrase_style": pa.string(), "rephrase_segment": pa.int32(), "rephrase_rollout": pa.int32(),
    "rephrase_finish_reason": pa.string(), "rephrase_similarity": pa.float32(), "rephrase_copy": pa.float32(),
    "rephrase_length_ratio": pa.float32(), "rephrase_repetition": pa.float32(),
    "rephrase_lost_numbers": pa.float32(), "rephrase_invented_numbers": pa.int32(),
    "rephrase_lost_entities": pa.float32(),
}
LINEAGE_COLUMNS = {"parent_id": pa.string(), "generator": pa.string(), "parent_source": pa.string(),
                   "parent_url": pa.string(), "parent_license": pa.string()}


class Rephrase(Stage):
    """Rewrite chosen documents with an LLM server (styles, fidelity checks, licence policy, lineage)."""

    name = "rephrase"
    kind = "corpus"
    reads = ("text",)
    adds = tuple(LINEAGE_COLUMNS) + tuple(METRIC_COLUMNS)

    @dataclass(frozen=True)
    class Params:
        endpoint: str = param("local", "OpenAI-compatible base URL (http://host:8000/v1), or `local`: start the "
                                       "packaged SmolLM2-135M server on 127.0.0.1 for this step")
        model: str = param("", "model name sent to the server (default for local: the packaged model)")
        api_key_env: str = param("OPENAI_API_KEY", "environment variable holding the API key, if any")
        style: str = param("wiki", "style for every document no `styles_by` rule picks", choices=tuple(STYLES))
        styles_by: list[dict] = param([], "rules [{when: 'score_quality < 0.3', styles: [wiki]}, ...]: the first "
                                          "that holds picks the document's styles")
        select: str | None = param(None, "only documents where this holds, e.g. 'score_quality >= 0.5'")
        max_docs: int | None = param(None, "rephrase at most this many documents (the first eligible, in order)",
                                     ge=0)
        input_tokens: int | None = param(None, "segment budget in tokens (default: the style's; smaller for small "
                                               "models)", ge=16)
        max_segments: int | None = param(None, "rewrite only the first N segments of each document (cost cap)",
                                         ge=1)
        rollouts: int = param(1, "generations per document, style and segment (seed + rollout)", ge=1)
        concurrency: int = param(64, "requests in flight", ge=1)
        max_new_tokens: int = param(512, "max_tokens of every request", ge=1)
        temperature: float | None = param(None, "sampling temperature (default: the style's, 0.5 for Nemotron-CC)",
                                          ge=0)
        top_p: float | None = param(None, "nucleus sampling (default: the style's, 0.9)", gt=0, le=1)
        seed: int = param(0, "sampling seed (rollout r uses seed + r)")
        require_license: bool = param(False, "never send a document without a licence")
        generator_terms: str | None = param(None, "the model's licence, when its terms bind outputs (e.g. "
                                                  "Llama-3.3-Community); default for local: Apache-2.0")
        similarity: bool = param(True, "add rephrase_similarity (all-MiniLM-L6-v2 cosine to the source)")
        max_attempts: int = param(6, "tries per request on 429/5xx/connection errors", ge=1)
        local_threads: int = param(1, "torch threads of the local server", ge=1)

    def _model(self) -> str:
        from gristmill.pipeline.rephrase.server import MODEL_NAME

        return self.cfg.model or (MODEL_NAME if self.cfg.endpoint == "local" else "default")

    def _terms(self) -> str | None:
        from gristmill.pipeline.rephrase.server import MODEL_LICENSE

        return self.cfg.generator_terms or (MODEL_LICENSE if self.cfg.endpoint == "local" else None)

    # -- the corpus-wide phase: plan, then ask -------------------------------------------
    def fit(self, ctx) -> dict:
        t0 = time.time()
        left = self.cfg.max_docs
        plans, requests, not_sent = {}, [], {}
        for path in ctx.inputs:
            table = conform(pq.read_table(path))
            rows, skipped = eligible_rows(table, self.cfg)
            for k, v in skipped.items():
                not_sent[k] = not_sent.get(k, 0) + v
            if left is not None:
                not_sent["over_max_docs"] = not_sent.get("over_max_docs", 0) + max(0, len(rows) - left)
                rows, left = rows[:left], left - min(left, len(rows))
            ids = table.column("id").to_pylist()
            plans[os.path.basename(path)] = [ids[i] for i in rows]
            requests += [Request(it.request_id, it.rollout, it.payload) for it in items_for(table, rows, self.cfg,
                                                                                             self._model())]
        with open(os.path.join(ctx.state_dir, PLAN), "w") as f:
            json.dump(plans, f)
        cache = RequestCache(os.path.join(ctx.state_dir, CACHE_DIR), name=f"fit-{int(time.time() * 1000)}")
        missing = [r for r in requests if cache.get(cache_key(r.doc_id, r.rollout, r.payload)) is None]
        info = {"documents_planned": sum(map(len, plans.values())), "requests": len(requests),
                "requests_cached": len(requests) - len(missing), "not_sent": not_sent}
        if missing:
            info.update(self._ask(missing, cache))
        cache.close()
        info["seconds"] = round(time.time() - t0, 2)
        return info

    def _ask(self, requests: list[Request], cache: RequestCache) -> dict:
        from gristmill.pipeline.rephrase.server import LocalServer

        def loops(body: dict) -> bool:
            return checks.repetition(checks.words(body["choices"][0]["message"].get("content") or "")) > 0.3

        def run(url: str) -> dict:
            client = ChatClient(url, self.cfg.concurrency, os.environ.get(self.cfg.api_key_env),
                                max_attempts=self.cfg.max_attempts, cache=cache, loop_check=loops, seed=self.cfg.seed)
            results = client.run(requests)
            s = client.stats
            tokens = s.completion_tokens
            return {"http_requests": s.sent, "retried": s.retried, "loop_retries": s.loop_retries,
                    "http_status": {str(k): v for k, v in sorted(s.by_status.items())},
                    "failed": sum(r.status == "request_failed" for r in results),
                    "rejected_by_server": sum(r.status == "rejected_by_server" for r in results),
                    "completion_tokens": tokens, "generation_seconds": round(s.seconds, 2),
                    "tokens_per_s": round(tokens / s.seconds, 2) if s.seconds else None}

        if self.cfg.endpoint != "local":
            return {"endpoint": self.cfg.endpoint, **run(self.cfg.endpoint)}
        local = LocalServer(threads=self.cfg.local_threads)
        with local as url:
            pid, started = local.proc.pid, round(local.startup_s, 2)
            out = run(url)
        return {"endpoint": "local", "server_pid": pid, "server_startup_s": started, **out}

    # -- per shard: read the answers back, check them, write rows ------------------------
    def setup(self, ctx=None) -> None:
        self.state_dir = ctx.state_dir if ctx else None
        self.embedder = None
        self.plan = {}
        if ctx is not None and os.path.exists(os.path.join(ctx.state_dir, PLAN)):
            with open(os.path.join(ctx.state_dir, PLAN)) as f:
                self.plan = json.load(f)
        self.cache = RequestCache(os.path.join(ctx.state_dir, CACHE_DIR) if ctx else None)

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        table = conform(table)
        planned = set(self.plan.get(os.path.basename(ctx.input_path), []) if ctx else [])
        ids = table.column("id").to_pylist()
        rows = [i for i, d in enumerate(ids) if d in planned]
        _, not_sent = eligible_rows(table, self.cfg)
        items = items_for(table, rows, self.cfg, self._model())
        parents = table.to_pylist() if items else []
        accepted, rejected, reasons, details, metrics_of = [], [], [], [], []
        for it in items:
            hit = _final_answer(self.cache, it)
            rec = self._row(it, parents[it.row], hit)
            if rec["reason"] is None:
                accepted.append(rec["row"])
                metrics_of.append((it.text, rec["row"]["text"]))
            else:
                rejected.append(rec["row"])
                reasons.append(rec["reason"])
                details.append(rec["detail"])
        if self.cfg.similarity and accepted:
            if self.embedder is None:
                from gristmill.pipeline.rephrase.embed import Embedder

                self.embedder = Embedder()
            sims = self.embedder.similarity([a for a, _ in metrics_of], [b for _, b in metrics_of])
            for row, s in zip(accepted, sims):
                row["rephrase_similarity"] = s
        originals = _with_columns(table)
        out = originals
        if accepted:
            out = pa.concat_tables([originals, _typed(accepted, originals.schema)], promote_options="default")
        drops = empty_drops()
        if rejected:
            drops = drop_log(_typed(rejected, originals.schema), self.versioned_name, pa.array(reasons),
                             details=pa.array(details, pa.string()))
        counters = {"originals_in": table.num_rows, "originals_out": table.num_rows, "originals_dropped": 0,
                    "generated": len(items), "accepted": len(accepted), "rejected": len(rejected),
                    "documents_rephrased": len(rows)}
        for k, v in not_sent.items():
            counters[f"not_sent_{k}"] = v
        for r in reasons:
            counters[f"rejected_{r}"] = counters.get(f"rejected_{r}", 0) + 1
        return StageOutput(out, drops, counters, generated=len(items))

    def _row(self, it, parent: dict, hit: dict | None) -> dict:
        base = {
            "id": None, "text": "", "source": f"synthetic-{it.style.name}", "url": None, "domain": None,
            "origin_file": parent.get("origin_file"), "origin_offset": parent.get("origin_offset"),
            "origin_page": parent.get("origin_page"), "language": parent.get("language"),
            "license": synthetic_license(parent.get("license"), self._terms()), "opt_out": [],
            "parent_id": it.doc_id, "parent_source": parent.get("source"), "parent_url": parent.get("url"),
            "parent_license": parent.get("license"), "rephrase_style": it.style.versioned,
            "rephrase_segment": it.segment, "rephrase_rollout": it.rollout,
        }
        if hit is None or hit["status"] != "ok":
            base["id"] = stable_id("synthetic", it.doc_id, it.style.versioned, it.segment, it.rollout)
            reason = "request_failed" if hit is None else hit["status"]
            return {"row": base, "reason": reason, "detail": (hit or {}).get("error") or "no answer after retries"}
        body = hit["body"]
        choice = body["choices"][0]
        sampling = {k: v for k, v in it.payload.items() if k in ("top_p", "max_tokens", "seed")}
        sampling["temperature"] = hit.get("temperature", it.payload.get("temperature"))
        generator = json.dumps({"model": body.get("model") or self._model(), "style": it.style.versioned,
                                "prompt_hash": it.style.prompt_hash, "sampling": sampling}, sort_keys=True)
        m = checks.measure(it.text, choice["message"].get("content") or "", it.style, count_tokens,
                           (body.get("usage") or {}).get("completion_tokens"), choice.get("finish_reason"),
                           self.cfg.max_new_tokens)
        reason = checks.verdict(m, it.style)
        base.update(text=m["text"], generator=generator,
                    id=stable_id("synthetic", it.doc_id, generator, it.segment, it.rollout),
                    rephrase_finish_reason=m["finish_reason"], rephrase_copy=m["copy_overlap"],
                    rephrase_length_ratio=m["length_ratio"], rephrase_repetition=m["repetition"],
                    rephrase_lost_numbers=m["lost_numbers"], rephrase_invented_numbers=m["invented_numbers"],
                    rephrase_lost_entities=m["lost_entities"])
        detail = json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items() if k != "text"},
                            sort_keys=True) if reason else None
        return {"row": base, "reason": reason, "detail": detail}


def _final_answer(cache: RequestCache, it) -> dict | None:
    """The answer kept for an item: the last temperature of the loop schedule that was asked
    (the client asks the next one only while the answers loop)."""
    from gristmill.pipeline.rephrase.client import LOOP_TEMPERATURES

    hit = cache.get(cache_key(it.request_id, it.rollout, it.payload))
    if hit is None or hit["status"] != "ok":
        return hit
    hit = {**hit, "temperature": it.payload.get("temperature")}
    base_t = it.payload.get("temperature") or 0.0
    for t in LOOP_TEMPERATURES:
        if t <= base_t:
            continue
        nxt = cache.get(cache_key(it.request_id, it.rollout, {**it.payload, "temperature": t}))
        if nxt is None or nxt["status"] != "ok":
            break
        hit = {**nxt, "temperature": t}
    return hit


def _with_columns(table: pa.Table) -> pa.Table:
    for name, typ in {**LINEAGE_COLUMNS, **METRIC_COLUMNS}.items():
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, table.column(name).cast(typ))
        else:
            table = table.append_column(pa.field(name, typ), pa.nulls(table.num_rows, typ))
    return table


def _typed(rows: list[dict], schema: pa.Schema) -> pa.Table:
    names = [n for n in schema.names if n in rows[0]]
    return pa.table({n: pa.array([r.get(n) for r in rows], schema.field(n).type) for n in names})
