"""Main-text extraction quality and speed on the trafilatura evaluation set.

For each page, the `with` snippets must appear in the extracted text and the `without`
snippets must not (trafilatura's own scoring: precision = tp / (tp + fp), recall =
tp / (tp + fn) over snippets, summed over all pages). The `blocks` engine was trained on
these pages, so its score here is in-sample; train_block_extractor.py reports it held out
by site. Pages/s is extraction time only,
one process, pages already decoded to Unicode by gristmill's charset module.

    python benchmarks/eval_extraction.py [../shared/data/html/trafilatura_eval] [--engines a,b]
    python benchmarks/eval_extraction.py --crawl-speed   # ingest docs/s per engine on real WARCs
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time

from gristmill.pipeline.ingest.charset import decode
from gristmill.pipeline.ingest.extract import ENGINES

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_warc import snippet_scores  # noqa: E402


def load(root: str):
    gold = json.load(open(os.path.join(root, "evaldata.json"), encoding="utf-8"))
    pages = []
    for url, g in gold.items():
        path = os.path.join(root, "html", g["file"] + ".gz")
        with gzip.open(path, "rb") as f:
            html, _ = decode(f.read())
        pages.append((url, html, g.get("with", []), g.get("without", [])))
    return pages


def score(pages, engine) -> dict:
    t0 = time.perf_counter()
    outputs = [engine(html) or "" for _, html, _, _ in pages]
    secs = time.perf_counter() - t0
    s = snippet_scores((with_, without, text) for (_, _, with_, without), text in zip(pages, outputs))
    return {**s, "pages_per_s": len(pages) / secs, "seconds": secs}


def crawl_speed(engines: list[str]) -> int:
    sys.path.insert(0, os.path.dirname(__file__))
    from bench_ingest import DEFAULT_FILES

    from gristmill.pipeline.ingest.stage import Ingest

    print("| engine | docs | seconds | docs/s (crawl pages) |")
    print("|---|---|---|---|")
    for name in engines:
        stage = Ingest(engine=name)
        stage.ensure_setup()
        t0 = time.perf_counter()
        n = sum(stage.process_file(f).table.num_rows for f in DEFAULT_FILES)
        s = time.perf_counter() - t0
        print(f"| {name} | {n} | {s:.1f} | {n / s:.1f} |", flush=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", nargs="?", default="../shared/data/html/trafilatura_eval")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--crawl-speed", action="store_true",
                    help="instead: ingest@1 documents/s per engine on bench_ingest.py's WARC files")
    args = ap.parse_args(argv)
    if args.crawl_speed:
        return crawl_speed(args.engines.split(","))
    if not os.path.exists(args.root):
        print(f"evaluation set not found: {args.root}", file=sys.stderr)
        return 2
    pages = load(args.root)
    if args.limit:
        pages = pages[: args.limit]
    print(f"{len(pages)} pages from {args.root}")
    print("| engine | precision | recall | F1 | pages/s |")
    print("|---|---|---|---|---|")
    trained_here = False
    for name in args.engines.split(","):
        s = score(pages, ENGINES[name])
        mark = " (in-sample)" if name == "blocks" else ""
        trained_here |= name == "blocks"
        print(f"| {name}{mark} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['pages_per_s']:.0f} |",
              flush=True)
    if trained_here:
        print("blocks was trained on these pages: its F1 here is in-sample. Its held-out F1 (5 folds by site) is "
              "what `python benchmarks/train_block_extractor.py --cv-only` prints.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
