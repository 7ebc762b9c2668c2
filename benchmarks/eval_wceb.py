"""Extraction F1 on a fourth set that the shipped gristmill model was not trained on: the
web-content-extraction-benchmark (1,000 pages crawled in 2026 from 820 sites: articles,
forums, products, services, listings, documentation; gold written by an LLM and checked by
a person; Apache-2.0). Each page has the whole main text as gold plus `with` / `without`
snippets, so it is scored both ways: the article-extraction-benchmark's shingle F1 (averaged
over pages) and trafilatura's snippet F1 (summed over snippets), overall and per page type.

The set is not in the repository (third-party pages). Point --root at a checkout of
https://github.com/tiptopjaw/web-content-extraction-benchmark (977613a; its README names
Murrough-Foley/web-content-extraction-benchmark): its release/html/ and benchmark/ground-truth/
are read, and a gold page without HTML is skipped and counted. Point --aeb-root at a checkout
of scrapinghub/article-extraction-benchmark, whose evaluate.py scores the shingles.

    python benchmarks/eval_wceb.py --root PATH --aeb-root AEB [--engines blocks,trafilatura,...]
    python benchmarks/eval_wceb.py --root PATH --aeb-root AEB --write-evalset DIR   # then:
    python benchmarks/bench_ingest.py --whole-process --root DIR --warc DIR.warc.gz
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import shutil
import sys
import time
from collections import defaultdict

from gristmill.pipeline.ingest.charset import decode
from gristmill.pipeline.ingest.extract import ENGINES

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_aeb import DEFAULT_ENGINES, shingle_scorer  # noqa: E402
from eval_warc import snippet_scores  # noqa: E402


def load(root: str) -> tuple[list[dict], int]:
    """(pages, gold pages without HTML): each page {key, path, url, type, html, gold, with, without}."""
    pages, missing = [], 0
    for path in sorted(glob.glob(os.path.join(root, "benchmark", "ground-truth", "*.json"))):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        html_path = os.path.join(root, "release", "html", f"{d['file_id']}.html.gz")
        if not os.path.exists(html_path):
            missing += 1
            continue
        with gzip.open(html_path, "rb") as f:
            html, _ = decode(f.read())
        g = d["ground_truth"]
        kind = (d.get("_internal", {}).get("page_type") or {}).get("primary") or "unknown"
        pages.append({"key": d["file_id"], "path": html_path, "url": d.get("url", ""), "type": kind, "html": html,
                      "gold": g.get("main_content", ""), "with": g.get("with", []), "without": g.get("without", [])})
    return pages, missing


def score(pages: list[dict], texts: list[str], scorer=None) -> dict:
    """Shingle scores (None without the benchmark's scorer), snippet scores, snippet scores by page type."""
    shingles = None
    if scorer:
        metrics, matching = scorer
        shingles = metrics([matching(p["gold"], t) for p, t in zip(pages, texts)])
    by_type = defaultdict(list)
    for p, t in zip(pages, texts):
        by_type[p["type"]].append((p["with"], p["without"], t))
    snippets = snippet_scores((p["with"], p["without"], t) for p, t in zip(pages, texts))
    return {"shingles": shingles, "snippets": snippets,
            "snippets_by_type": {k: snippet_scores(v) for k, v in sorted(by_type.items())}}


def write_eval_layout(pages: list[dict], out: str) -> int:
    """The pages in the trafilatura evaluation set's layout (evaldata.json, html/KEY.html.gz), so
    that `bench_ingest.py --whole-process --root OUT` times both ingests on them; returns pages."""
    os.makedirs(os.path.join(out, "html"), exist_ok=True)
    gold = {}
    for p in pages:
        url = p["url"] or p["key"]
        if url in gold:  # a URL crawled twice: the evaluation set is keyed by URL, the first stays
            continue
        shutil.copyfile(p["path"], os.path.join(out, "html", f"{p['key']}.html.gz"))  # the bytes as crawled
        gold[url] = {"file": f"{p['key']}.html", "with": p["with"], "without": p["without"]}
    with open(os.path.join(out, "evaldata.json"), "w", encoding="utf-8") as f:
        json.dump(gold, f, ensure_ascii=False, indent=0)
    return len(gold)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="checkout of web-content-extraction-benchmark")
    ap.add_argument("--aeb-root", required=True, help="checkout of article-extraction-benchmark (its evaluate.py)")
    ap.add_argument("--engines", default=DEFAULT_ENGINES)
    ap.add_argument("--write-evalset", metavar="DIR", help="instead: write the pages in the trafilatura eval "
                    "set's layout to DIR, for `bench_ingest.py --whole-process --root DIR`")
    args = ap.parse_args(argv)
    pages, missing = load(args.root)
    if not pages:
        print(f"not a web-content-extraction-benchmark checkout: {args.root}", file=sys.stderr)
        return 2
    if args.write_evalset:
        print(f"{write_eval_layout(pages, args.write_evalset)} pages -> {args.write_evalset}")
        return 0
    scorer = shingle_scorer(args.aeb_root)
    types = sorted({p["type"] for p in pages})
    print(f"{len(pages)} pages from {args.root} ({missing} gold pages without HTML skipped); "
          + ", ".join(f"{t} {sum(p['type'] == t for p in pages)}" for t in types))
    print("| engine | shingle F1 | precision | recall | snippet F1 | precision | recall | pages/s | "
          + " | ".join(types) + " |")
    print("|---" * (8 + len(types)) + "|")
    for name in args.engines.split(","):
        t0 = time.perf_counter()
        texts = [ENGINES[name](p["html"]) or "" for p in pages]
        secs = time.perf_counter() - t0
        s = score(pages, texts, scorer)
        sh, sn = s["shingles"], s["snippets"]
        print(f"| {name} | {sh['f1']:.3f} | {sh['precision']:.3f} | {sh['recall']:.3f} | {sn['f1']:.3f} | "
              f"{sn['precision']:.3f} | {sn['recall']:.3f} | {len(pages) / secs:.0f} | "
              + " | ".join(f"{s['snippets_by_type'][t]['f1']:.3f}" for t in types) + " |", flush=True)
    print("per page type: snippet F1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
