"""`build_audit(path)`: the licensing audit of a run's final training tokens, and
`write_audit(audit, out_dir)`: its files.

Three levels of tokens: unique (each document of the mixture once), in the mixture (every
copy the mixture weights and epochs put in the train split) and trained on (what the bundled
trainer's random windows covered, replayed; only when the run trained). Everything is
recounted from the token index and the step folders; nothing is copied from a manifest, and
`audit.json` holds no clock or absolute path, so the same run gives the same bytes.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.pipeline.audit import ledger as L
from gristmill.pipeline.audit import tokens as T
from gristmill.pipeline.audit.workdir import Run, open_run, read_manifest, read_train_config, read_train_log

FORMAT = "gristmill-audit/1"
FILES = ("audit.json", "audit.html", "eu_summary.json", "eu_summary.md", "top_domains.csv", "attribution.csv",
         "exclusions.parquet", "evidence.parquet", "dataset_card.md", "croissant.json")


@dataclass
class Audit:
    data: dict               # what audit.json holds
    exclusions: pa.Table     # exclusions.parquet
    evidence: list[dict]     # evidence.parquet
    attribution: list[dict]  # attribution.csv
    run: Run


def _robots_agents() -> tuple[str, ...]:
    from gristmill.pipeline.ingest.robots import AI_AGENTS

    return tuple(AI_AGENTS)


def build_audit(path: str) -> Audit:
    run = open_run(path)
    if not run.token_dir:
        raise FileNotFoundError(f"{path}: no token folder (manifest.json) in this run; the audit covers training tokens")
    manifest = read_manifest(run.token_dir) or {}
    index = T.index_table(run.token_dir, "train")
    log = read_train_log(run.train_dir)
    cfg = (read_train_config(run.train_dir) or {}).get("train")
    steps_trained = max((r["step"] for r in log), default=0)
    trained = T.trained_tokens(run.token_dir, index, cfg, steps_trained).tolist() if cfg and steps_trained else None
    mix = L.mixture_by_document(index, trained)
    docs = L.documents_by_id(run.documents_dir)
    first = L.first_step_documents(run)
    unique_tokens = sum(d["unique"] for d in mix.values())
    mix_bytes = sum((docs.get(i) or {}).get("bytes") or 0 for i in mix)
    bytes_per_token = mix_bytes / unique_tokens if unique_tokens and mix_bytes else 4.0
    ex = L.exclusions(run, bytes_per_token)
    led = L.ledger(mix, docs, trained is not None)
    top = L.top_domains(first, mix)
    opt = L.optouts(ex, mix, docs, _robots_agents())
    attribution = L.attribution(mix, docs)
    evidence = L.evidence_rows(mix, docs)
    mixture_tokens = int(index.column("tokens").to_numpy().sum()) if index.num_rows else 0
    val_tokens = int(T.index_table(run.token_dir, "val").column("tokens").to_numpy().sum()) \
        if manifest.get("splits", {}).get("val", {}).get("shards") else 0
    levels = {"unique_tokens": unique_tokens, "unique_documents": len(mix), "mixture_tokens": mixture_tokens,
              "mixture_copies": index.num_rows, "trained_tokens": sum(trained) if trained is not None else None,
              "trained_steps": steps_trained or None, "validation_tokens": val_tokens,
              "bytes_per_token": round(bytes_per_token, 4)}
    data = {
        "format": FORMAT,
        "run": {"workdir": os.path.basename(run.root), "token_folder": os.path.relpath(run.token_dir, run.root),
                "documents_step": os.path.basename(run.documents_dir or ""),
                "tokenizer_hash": manifest.get("tokenizer", {}).get("hash"),
                "mixture_by": manifest.get("mixture", {}).get("by"), "seed": manifest.get("seed"),
                "steps": [s.name for s in run.steps]},
        "levels": levels,
        "licenses": led,
        "evidence_types": _count(r["evidence_type"] for r in evidence),
        "conflicts": L.conflicts(run, ex, mix),
        "optouts": opt,
        "exclusions": L.exclusion_summary(ex),
        "attribution_documents": len(attribution),
        "lineage": L.lineage(mix, docs, first),
        "top_domains": top,
        "balance": L.balance(run.document_steps),
        "collection": _collection(docs, first),
        "languages": _count((docs.get(i) or {}).get("language") or "unknown" for i in mix),
    }
    data["checks"] = checks(data, run, index, manifest, log)
    return Audit(data=data, exclusions=ex, evidence=evidence, attribution=attribution, run=run)


def _count(values) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def _collection(docs: dict, first: dict) -> dict:
    times = sorted(d["fetched_at"] for d in first.values() if d.get("fetched_at"))
    return {"first_fetch": times[0].isoformat() if times else None,
            "last_fetch": times[-1].isoformat() if times else None,
            "crawled_documents": sum(1 for d in first.values() if d.get("url") and d.get("fetched_at"))}


def checks(data: dict, run: Run, index: pa.Table, manifest: dict, log: list[dict]) -> list[dict]:
    """Each check: name, pass, and the numbers it compared."""
    out = []

    def check(name: str, ok: bool, **numbers):
        out.append({"name": name, "pass": bool(ok), **numbers})

    lv = data["levels"]
    per_license = sum(r["mixture_tokens"] for r in data["licenses"])
    bins = T.bin_tokens(run.token_dir, "train")
    check("tokens_per_license_sum_to_mixture_total", per_license == lv["mixture_tokens"] == bins,
          license_sum=per_license, index_total=lv["mixture_tokens"], bin_file_tokens=bins,
          manifest_total=manifest.get("total_tokens"))
    if lv["trained_tokens"] is not None:
        seen = log[-1].get("tokens_seen") if log else None
        lic_trained = sum(r["trained_tokens"] for r in data["licenses"])
        check("trained_tokens_match_trainer_log", lic_trained == lv["trained_tokens"] == seen,
              license_sum=lic_trained, replayed=lv["trained_tokens"], trainer_log=seen)
    no_row = [r for r in data["licenses"] if not r["license"]]
    check("every_kept_document_has_a_license_row",
          sum(r["documents"] for r in data["licenses"]) == lv["unique_documents"] and not no_row,
          ledger_documents=sum(r["documents"] for r in data["licenses"]), mixture_documents=lv["unique_documents"])
    check("no_opted_out_token", data["optouts"]["text_optout_tokens_in_mixture"] == 0,
          opted_out_tokens=data["optouts"]["text_optout_tokens_in_mixture"])
    bad = [b["step"] for b in data["balance"] if not (b["balanced"] and b["reads_previous_output"])]
    check("in_equals_out_plus_dropped_per_step", not bad, steps=len(data["balance"]), unbalanced=bad)
    top = data["top_domains"]
    want = math.ceil(0.1 * top["domains_total"])
    sizes_add_up = sum(r["bytes"] for r in top["rows"]) == top["listed_bytes"]
    ranked = all(a["bytes"] >= b["bytes"] for a, b in zip(top["rows"], top["rows"][1:]))
    check("top_domains_list_size_and_sums", top["listed"] == len(top["rows"]) == want and sizes_add_up and ranked,
          domains_total=top["domains_total"], listed=len(top["rows"]), expected=want, listed_bytes=top["listed_bytes"])
    nd = [r["id"] for r in data["lineage"] if r["nd_ancestors"]]
    check("no_nd_ancestor_of_synthetic_rows", not nd, synthetic_rows=len(data["lineage"]), with_nd_ancestor=nd)
    return out


def write_audit(audit: Audit, out_dir: str) -> dict[str, str]:
    """Every audit file into `out_dir`; returns name -> path."""
    from gristmill.pipeline.audit import eu
    from gristmill.pipeline.audit.pages import audit_page

    os.makedirs(out_dir, exist_ok=True)
    paths = {name: os.path.join(out_dir, name) for name in FILES}
    _write_text(paths["audit.json"], json.dumps(audit.data, indent=2, sort_keys=True) + "\n")
    pq.write_table(audit.exclusions, paths["exclusions.parquet"])
    ev_schema = pa.schema([(k, pa.string()) for k in ("id", "license", "evidence_type", "snippet_sha256", "url",
                                                      "fetched_at")])
    pq.write_table(pa.Table.from_pylist(audit.evidence, schema=ev_schema), paths["evidence.parquet"])
    _write_csv(paths["top_domains.csv"], audit.data["top_domains"]["rows"],
               ["rank", "domain", "bytes", "documents", "share_of_scraped_bytes", "mixture_tokens"])
    _write_csv(paths["attribution.csv"], audit.attribution,
               ["id", "url", "title", "author", "license", "license_url", "modified"])
    summary = eu.eu_summary(audit.data)
    _write_text(paths["eu_summary.json"], json.dumps(summary, indent=2, sort_keys=True) + "\n")
    _write_text(paths["eu_summary.md"], eu.eu_markdown(summary))
    _write_text(paths["dataset_card.md"], eu.dataset_card(audit.data))
    _write_text(paths["croissant.json"], json.dumps(eu.croissant(audit.data), indent=2, sort_keys=True) + "\n")
    _write_text(paths["audit.html"], audit_page(audit.data))
    return paths


def _write_text(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _write_csv(path: str, rows: list[dict], fields: list[str]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    os.replace(tmp, path)
