"""Heuristic rules, gristmill vs datatrove, side by side on the same real documents, one core.

    python benchmarks/bench_filters.py [--pages 200] [--per-set 60]

Documents: main text of real web pages (trafilatura_eval HTML, extracted with resiliparse),
dolma's Common Crawl documents and slices of the text sets in ../shared/data. Each rule set
runs over all documents in this one process (polars limited to one thread; datatrove is
single-threaded Python); models/tokenizers are warmed up first. "all four" chains the rule
sets per document as a pipeline would (datatrove then reuses its cached spaCy words across
its filters; gristmill runs its stages one after another). Prints docs/s, the ratio, and
the keep/drop agreement per rule set; then PII masking (datatrove's PIIFormatter vs pii@1,
e-mails and public IPs; then gristmill with IPv6 added) with agreement on which documents get
masked, and C4 bad words (datatrove's C4BadWordsFilter vs c4_badwords@1, same word list).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ["POLARS_MAX_THREADS"] = "1"  # per-core comparison: set before polars is imported

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root
from tests.support import real_documents  # noqa: E402  (the one loader of ../shared/data's text sets)

RULE_SETS = [
    ("gopher_quality", "datatrove.pipeline.filters.GopherQualityFilter", "gopher_quality@1"),
    ("gopher_repetition", "datatrove.pipeline.filters.GopherRepetitionFilter", "gopher_repetition@1"),
    ("c4", "datatrove.pipeline.filters.C4QualityFilter", "c4_quality@1"),
    ("fineweb", "datatrove.pipeline.filters.FineWebQualityFilter", "fineweb_quality@1"),
]


def datatrove_run(steps, table):
    """{id: kept} per step, each document through all steps in turn (as datatrove chains them)."""
    from datatrove.data import Document

    kept = [dict() for _ in steps]
    for doc_id, text in zip(table.column("id").to_pylist(), table.column("text").to_pylist()):
        for k, step in enumerate(steps):
            kept[k][doc_id] = step.filter(Document(text=text, id=doc_id)) is True
    return kept


def c4_badwords_row(table, warm, words_file):
    """datatrove's C4BadWordsFilter vs c4_badwords@1 with the same list. Without a list file
    (no network here for LDNOOBW), a stand-in of LDNOOBW's English size: 400 words that occur
    exactly once in these documents (evenly spaced in alphabetical order), so that, as with
    real bad words, most documents match none and are scanned to the end."""
    import collections
    import re
    import tempfile

    from datatrove.data import Document
    from datatrove.pipeline.filters import c4_filters

    from gristmill.pipeline.registry import resolve

    if words_file is None:
        texts = table.column("text").to_pylist()
        counts = collections.Counter(w for t in texts for w in re.findall(r"[a-z]+", t.lower()))
        words_file = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False).name
        with open(words_file, "w") as f:
            once = sorted(w for w, c in counts.items() if c == 1)
            f.write("\n".join(once[:: max(1, len(once) // 400)][:400]) + "\n")
    c4_filters.cached_asset_path_or_download = lambda url, **kw: words_file  # datatrove reads our list
    dt, gm = c4_filters.C4BadWordsFilter(), resolve("c4_badwords@1")(words=words_file)
    dt.filter(Document(text="warm", id="w"))
    gm.process(warm)
    ids, texts = table.column("id").to_pylist(), table.column("text").to_pylist()
    t0 = time.perf_counter()
    dt_kept = {i: dt.filter(Document(text=t, id=i)) is True for i, t in zip(ids, texts)}
    t1 = time.perf_counter()
    out = gm.process(table)
    t2 = time.perf_counter()
    gm_kept = set(out.table.column("id").to_pylist())
    n = len(ids)
    agree = sum(v == (i in gm_kept) for i, v in dt_kept.items()) / n
    return ("c4_badwords", n / (t1 - t0), n / (t2 - t1), agree, n - sum(dt_kept.values()), out.drops.num_rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--per-set", type=int, default=60)
    ap.add_argument("--badwords", default=None, help="word list for the c4_badwords row (default: a stand-in)")
    args = ap.parse_args()
    if not real_documents.available():
        sys.exit("../shared/data is absent")
    import importlib

    import pyarrow as pa

    from gristmill.pipeline.registry import resolve

    table = real_documents.load(pages=args.pages, per_set=args.per_set)
    n, mb = table.num_rows, sum(len(t) for t in table.column("text").to_pylist()) / 1e6
    print(f"{n} documents, {mb:.1f} M characters (web pages {args.pages}, text sets {args.per_set} each)")
    warm = pa.table({"id": ["w"], "text": pa.array(["Warm up the tokenizers. " * 20], pa.large_string())})
    dt_steps, gm_stages = [], []
    for _, dt_path, gm_name in RULE_SETS:
        mod, cls = dt_path.rsplit(".", 1)
        dt_steps.append(getattr(importlib.import_module(mod), cls)())
        gm_stages.append(resolve(gm_name)())
        gm_stages[-1].ensure_setup()
        gm_stages[-1].process(warm)
    datatrove_run(dt_steps, warm)

    rows = []
    for (label, _, _), dt, gm in zip(RULE_SETS, dt_steps, gm_stages):
        t0 = time.perf_counter()
        (dt_kept,) = datatrove_run([dt], table)
        t1 = time.perf_counter()
        out = gm.process(table)
        t2 = time.perf_counter()
        gm_kept = set(out.table.column("id").to_pylist())
        agree = sum(v == (i in gm_kept) for i, v in dt_kept.items()) / n
        rows.append((label, n / (t1 - t0), n / (t2 - t1), agree, n - sum(dt_kept.values()), out.drops.num_rows))
    # PII masking: datatrove's formatter (e-mails, public IPs) vs gristmill's pii@1 on the same types
    from datatrove.pipeline.formatters.pii import PIIFormatter

    dt_pii = PIIFormatter()
    dt_pii.format(warm.column("text")[0].as_py())
    texts = table.column("text").to_pylist()
    t0 = time.perf_counter()
    dt_changed = [dt_pii.format(x) != x for x in texts]
    dt_rate = n / (time.perf_counter() - t0)
    # gristmill on datatrove's types, then with IPv6 added (datatrove has none): its extra cost
    for label, types in (("pii (e-mail, IP)", ["email", "ip"]), ("pii (e-mail, IP + IPv6)", ["email", "ipv6", "ip"])):
        gm_pii = resolve("pii@1")(types=types, max_total=None)
        gm_pii.process(warm)
        t1 = time.perf_counter()
        masked = gm_pii.process(table).table.column("text").to_pylist()
        t2 = time.perf_counter()
        agree = sum(d == (m != x) for d, m, x in zip(dt_changed, masked, texts)) / n
        rows.append((label, dt_rate, n / (t2 - t1), agree, sum(dt_changed), sum(m != x for m, x in zip(masked, texts))))
    rows.append(c4_badwords_row(table, warm, args.badwords))

    t0 = time.perf_counter()
    datatrove_run(dt_steps, table)
    t1 = time.perf_counter()
    current = table
    for gm in gm_stages:
        current = gm.process(current).table
    t2 = time.perf_counter()
    rows.append(("all four", n / (t1 - t0), n / (t2 - t1), None, None, None))

    print(f"\n| rule set | datatrove docs/s | gristmill docs/s | speed-up | keep/drop agreement | dropped (datatrove / gristmill) |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, dt_rate, gm_rate, agree, dt_drop, gm_drop in rows:
        agree_s = "" if agree is None else f"{agree:.2%}"
        drops = "" if dt_drop is None else f"{dt_drop} / {gm_drop}"
        print(f"| {label} | {dt_rate:,.0f} | {gm_rate:,.0f} | {gm_rate / dt_rate:.1f}x | {agree_s} | {drops} |")
    print("\npii row: agreement is on which documents get masked; its last column counts masked documents")


if __name__ == "__main__":
    main()
