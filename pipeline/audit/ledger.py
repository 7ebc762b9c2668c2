"""The audit's tables, each from the run's own records: the licence ledger, evidence per
document, licence conflicts inside duplicate clusters, opt-outs, exclusions, attribution,
synthetic lineage and the top domains.

Tokens of a document that never reached the tokenizer (a dropped one) are estimated from its
UTF-8 size and the run's measured bytes per token; every such column says `est_`.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict

import pyarrow as pa
import pyarrow.compute as pc

from gristmill.pipeline.audit.licenses import UNKNOWN, classify, evidence_type, most_restrictive
from gristmill.pipeline.audit.workdir import Run, StepInfo, read_documents, read_drops, text_bytes
from gristmill.pipeline.layout import list_parts

DOC_COLUMNS = ["id", "text", "source", "url", "domain", "fetched_at", "license", "license_evidence", "opt_out",
               "meta", "parent_id", "generator", "language"]


# opt-out signals that reserve text-and-data mining of the text (noimageai concerns images only)
def is_text_optout(signal: str) -> bool:
    return signal.startswith("robots:") or signal in ("noai", "tdm-reservation")


def documents_by_id(folder: str | None) -> dict[str, dict]:
    """id -> the audit's fields of every kept document of a step folder (text as its size)."""
    if not folder:
        return {}
    t = read_documents(folder, DOC_COLUMNS)
    t = t.append_column("bytes", text_bytes(t)).drop_columns(["text"])
    out = {}
    for row in t.to_pylist():
        row["meta"] = dict(row["meta"] or [])
        out[row["id"]] = row
    return out


def mixture_by_document(index: pa.Table, trained: list[int] | None) -> dict[str, dict]:
    """doc_id -> unique tokens (one copy), mixture tokens (all copies), trained tokens, copies."""
    out: dict[str, dict] = {}
    lic = index.column("license").to_pylist()
    for i, (doc, n, src, dom) in enumerate(zip(index.column("doc_id").to_pylist(), index.column("tokens").to_pylist(),
                                               index.column("source").to_pylist(), lic)):
        d = out.setdefault(doc, {"unique": n, "mixture": 0, "trained": 0, "copies": 0, "source": src,
                                 "license": dom or UNKNOWN})
        d["mixture"] += n
        d["copies"] += 1
        if trained is not None:
            d["trained"] += int(trained[i])
    return out


def ledger(mix: dict[str, dict], docs: dict[str, dict], trained_known: bool) -> list[dict]:
    total = sum(d["mixture"] for d in mix.values()) or 1
    rows: dict[str, dict] = {}
    for doc_id, d in sorted(mix.items()):
        lic = d["license"]
        r = rows.setdefault(lic, {"license": lic, **{k: v for k, v in classify(lic).as_dict().items() if k != "license"},
                                  "documents": 0, "unique_tokens": 0, "mixture_tokens": 0,
                                  "trained_tokens": 0 if trained_known else None, "found_by": defaultdict(int)})
        r["documents"] += 1
        r["unique_tokens"] += d["unique"]
        r["mixture_tokens"] += d["mixture"]
        if trained_known:
            r["trained_tokens"] += d["trained"]
        doc = docs.get(doc_id) or {}
        r["found_by"][evidence_type(doc.get("license_evidence"), lic)] += 1
    out = []
    for lic in sorted(rows):
        r = rows[lic]
        r["found_by"] = dict(sorted(r["found_by"].items()))
        r["share"] = round(r["mixture_tokens"] / total, 6)
        out.append(r)
    return out


def evidence_rows(mix: dict[str, dict], docs: dict[str, dict]) -> list[dict]:
    rows = []
    for doc_id in sorted(mix):
        doc = docs.get(doc_id) or {}
        ev = doc.get("license_evidence")
        fetched = doc.get("fetched_at")
        lic = mix[doc_id]["license"]
        rows.append({"id": doc_id, "license": lic, "evidence_type": evidence_type(ev, lic),
                     "snippet_sha256": hashlib.sha256(ev.encode()).hexdigest() if ev else None,
                     "url": doc.get("url"), "fetched_at": fetched.isoformat() if fetched else None})
    return rows


def exclusions(run: Run, bytes_per_token: float) -> pa.Table:
    """One row per dropped document: step, reason, whether it was dedupe, its size and licence."""
    cols = defaultdict(list)
    for step in run.document_steps:
        drops = read_drops(step.folder)
        if not drops.num_rows:
            continue
        upstream = documents_by_id(step.upstream) if step.upstream else {}
        dedupe = step.stage.startswith("dedupe") or step.name.startswith("dedupe")
        for r in drops.to_pylist():
            up = upstream.get(r["id"]) or {}
            size = up.get("bytes")
            cols["step"].append(step.name)
            cols["stage"].append(r["stage"] or step.stage)
            cols["kind"].append("dedupe" if dedupe else "filter")
            cols["reason"].append(r["reason"])
            cols["id"].append(r["id"])
            cols["url"].append(r["url"])
            cols["source"].append(r["source"])
            cols["domain"].append(up.get("domain"))
            cols["license"].append(up.get("license"))
            cols["opt_out"].append(list(up.get("opt_out") or []))
            cols["bytes"].append(size)
            cols["est_tokens"].append(None if size is None else int(round(size / bytes_per_token)))
            cols["duplicate_of"].append(r["duplicate_of"])
            cols["dup_cluster"].append(r["dup_cluster"])
            cols["detail"].append(r["detail"])
    schema = pa.schema([("step", pa.string()), ("stage", pa.string()), ("kind", pa.string()), ("reason", pa.string()),
                        ("id", pa.string()), ("url", pa.string()), ("source", pa.string()), ("domain", pa.string()),
                        ("license", pa.string()), ("opt_out", pa.list_(pa.string())), ("bytes", pa.int64()),
                        ("est_tokens", pa.int64()), ("duplicate_of", pa.string()), ("dup_cluster", pa.string()),
                        ("detail", pa.string())])
    return pa.table({f.name: pa.array(cols[f.name], f.type) for f in schema}, schema=schema)


def exclusion_summary(ex: pa.Table) -> list[dict]:
    acc: dict[tuple, dict] = {}
    for r in ex.select(["step", "kind", "reason", "bytes", "est_tokens"]).to_pylist():
        a = acc.setdefault((r["step"], r["reason"]), {"step": r["step"], "kind": r["kind"], "reason": r["reason"],
                                                       "documents": 0, "bytes": 0, "est_tokens": 0})
        a["documents"] += 1
        a["bytes"] += r["bytes"] or 0
        a["est_tokens"] += r["est_tokens"] or 0
    order = {}
    for r in ex.column("step").to_pylist():
        order.setdefault(r, len(order))
    return sorted(acc.values(), key=lambda a: (order[a["step"]], a["reason"]))


def conflicts(run: Run, ex: pa.Table, mix: dict[str, dict]) -> list[dict]:
    """Duplicate clusters whose copies carry different licences; the most restrictive governs."""
    out = []
    dd = ex.filter(pc.and_(pc.equal(ex.column("kind"), "dedupe"), pc.is_valid(ex.column("duplicate_of"))))
    by_step = defaultdict(list)
    for r in dd.to_pylist():
        by_step[r["step"]].append(r)
    for step_name, rows in by_step.items():
        step = run.step(step_name)
        upstream = documents_by_id(step.upstream) if step and step.upstream else {}
        clusters: dict[str, dict] = {}
        for r in rows:
            kept = r["duplicate_of"]
            c = clusters.setdefault(r["dup_cluster"] or kept, {"kept": kept, "members": {}})
            c["members"][r["id"]] = r["license"] or UNKNOWN
            c["members"][kept] = (upstream.get(kept) or {}).get("license") or UNKNOWN
        for cid in sorted(clusters):
            c = clusters[cid]
            lics = sorted(set(c["members"].values()))
            if len(lics) < 2:
                continue
            kept_lic = c["members"][c["kept"]]
            governing = most_restrictive(lics)
            out.append({"step": step_name, "cluster": cid, "kept_id": c["kept"], "kept_license": kept_lic,
                        "licenses": lics, "documents": len(c["members"]), "governing_license": governing,
                        "kept_carries_governing": kept_lic == governing, "kept_in_mixture": c["kept"] in mix})
    return out


def optouts(ex: pa.Table, mix: dict[str, dict], docs: dict[str, dict], agents: tuple[str, ...]) -> dict:
    removed: dict[str, dict] = {}
    for r in ex.select(["step", "opt_out", "est_tokens", "domain"]).to_pylist():
        for sig in sorted(set(r["opt_out"] or [])):
            a = removed.setdefault(sig, {"signal": sig, "documents": 0, "est_tokens": 0, "domains": set(), "steps": set()})
            a["documents"] += 1
            a["est_tokens"] += r["est_tokens"] or 0
            a["steps"].add(r["step"])
            if r["domain"]:
                a["domains"].add(r["domain"])
    kept: dict[str, dict] = {}
    for doc_id, d in mix.items():
        for sig in sorted(set((docs.get(doc_id) or {}).get("opt_out") or [])):
            k = kept.setdefault(sig, {"signal": sig, "documents": 0, "mixture_tokens": 0,
                                      "reserves_text_mining": is_text_optout(sig)})
            k["documents"] += 1
            k["mixture_tokens"] += d["mixture"]
    return {
        "signals_checked": {"robots_txt_agents": list(agents), "meta_and_header": ["noai", "noimageai"],
                            "tdmrep": ["tdm-reservation (header or <meta>)"]},
        "removed": [{**a, "domains": len(a["domains"]), "steps": sorted(a["steps"])}
                    for _, a in sorted(removed.items())],
        "in_mixture": [kept[s] for s in sorted(kept)],
        "text_optout_tokens_in_mixture": sum(k["mixture_tokens"] for k in kept.values() if k["reserves_text_mining"]),
    }


def attribution(mix: dict[str, dict], docs: dict[str, dict]) -> list[dict]:
    rows = []
    for doc_id in sorted(mix):
        c = classify(mix[doc_id]["license"])
        if not c.attribution:
            continue
        doc = docs.get(doc_id) or {}
        meta = doc.get("meta") or {}
        rows.append({"id": doc_id, "url": doc.get("url"), "title": meta.get("title"), "author": meta.get("author"),
                     "license": c.license, "license_url": c.url,
                     "modified": "text extracted, filtered, PII-masked and tokenized by gristmill"})
    return rows


def lineage(mix: dict[str, dict], docs: dict[str, dict], ancestors: dict[str, dict]) -> list[dict]:
    """Each synthetic row (one with parent_id): its parent, the parent's licence, the generator,
    the licence it inherits (the most restrictive along its ancestry) and any ND ancestor."""
    known = {**ancestors, **docs}
    rows = []
    for doc_id in sorted(mix):
        doc = docs.get(doc_id) or {}
        if not doc.get("parent_id"):
            continue
        chain, cur, seen = [], doc.get("parent_id"), {doc_id}
        while cur and cur not in seen:
            seen.add(cur)
            parent = known.get(cur)
            chain.append((cur, (parent or {}).get("license") if parent else None, parent is not None))
            cur = (parent or {}).get("parent_id")
        lics = [doc.get("license")] + [lic for _, lic, _ in chain]
        nd = [pid for pid, lic, _ in chain if lic and classify(lic).no_derivatives]
        rows.append({"id": doc_id, "parent_id": doc["parent_id"], "parent_license": chain[0][1] or UNKNOWN,
                     "parent_found": chain[0][2], "generator": doc.get("generator"),
                     "license": doc.get("license") or UNKNOWN, "ancestors": len(chain),
                     "inherited_license": most_restrictive(lics), "nd_ancestors": nd})
    return rows


def top_domains(first_docs: dict[str, dict], mix: dict[str, dict], fraction: float = 0.1) -> dict:
    """The top `fraction` of all domains by size of content scraped (UTF-8 bytes of the texts
    read from them), ceil(fraction * N) of them, with their tokens in the mixture."""
    size: dict[str, int] = defaultdict(int)
    docs_n: dict[str, int] = defaultdict(int)
    for d in first_docs.values():
        if d.get("domain"):
            size[d["domain"]] += d["bytes"] or 0
            docs_n[d["domain"]] += 1
    mix_tokens: dict[str, int] = defaultdict(int)
    for doc_id, m in mix.items():
        dom = (first_docs.get(doc_id) or {}).get("domain")
        if dom:
            mix_tokens[dom] += m["mixture"]
    ranked = sorted(size, key=lambda d: (-size[d], d))
    k = math.ceil(fraction * len(ranked)) if ranked else 0
    total = sum(size.values())
    rows = [{"rank": i + 1, "domain": d, "bytes": size[d], "documents": docs_n[d],
             "share_of_scraped_bytes": round(size[d] / total, 6) if total else 0.0,
             "mixture_tokens": mix_tokens.get(d, 0)} for i, d in enumerate(ranked[:k])]
    return {"domains_total": len(ranked), "fraction": fraction, "listed": k, "scraped_bytes_total": total,
            "listed_bytes": sum(r["bytes"] for r in rows), "rows": rows}


def first_step_documents(run: Run) -> dict[str, dict]:
    """The documents the run started from: its input, when that is a folder of document parts
    (a workflow on an earlier output), else what its first (source) step read."""
    steps = run.document_steps
    if not steps:
        return {}
    if steps[0].upstream and list_parts(steps[0].upstream):
        return documents_by_id(steps[0].upstream)
    return documents_by_id(steps[0].folder)


def balance(steps: list[StepInfo]) -> list[dict]:
    out, prev = [], None
    for s in steps:
        out.append({"step": s.name, "docs_in": s.docs_in, "generated": s.generated, "docs_out": s.docs_out,
                    "docs_dropped": s.docs_dropped,
                    "balanced": s.docs_in + s.generated == s.docs_out + s.docs_dropped,
                    "reads_previous_output": prev is None or s.docs_in == prev.docs_out})
        prev = s
    return out
