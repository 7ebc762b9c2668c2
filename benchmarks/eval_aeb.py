"""Extraction F1 on pages no engine here was trained on: Zyte/scrapinghub's
article-extraction-benchmark (181 English news and blog pages with their whole article
body as gold), scored with that benchmark's own metric (4-token shingles, precision and
recall averaged over pages).

The set is not in the repository (third-party pages); point --root at a checkout of
https://github.com/scrapinghub/article-extraction-benchmark (its html/ and
ground-truth.json; its evaluate.py is imported for the scoring).

    python benchmarks/eval_aeb.py --root PATH [--engines blocks,trafilatura,...]
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

DEFAULT_ENGINES = "blocks,trafilatura,trafilatura+resiliparse,resiliparse"


def print_table(engines: list[str], htmls: list[str], golds: list[str], metrics, matching) -> None:
    """One markdown row per engine: the benchmark's shingle F1/precision/recall, pages/s."""
    print("| engine | F1 | precision | recall | pages/s |")
    print("|---|---|---|---|---|")
    for name in engines:
        engine = ENGINES[name]
        t0 = time.perf_counter()
        out = [engine(html) or "" for html in htmls]
        secs = time.perf_counter() - t0
        m = metrics([matching(gold, text) for gold, text in zip(golds, out)])
        print(f"| {name} | {m['f1']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} | {len(htmls) / secs:.0f} |",
              flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="checkout of article-extraction-benchmark")
    ap.add_argument("--engines", default=DEFAULT_ENGINES)
    args = ap.parse_args(argv)
    truth_path = os.path.join(args.root, "ground-truth.json")
    if not os.path.exists(truth_path):
        print(f"not an article-extraction-benchmark checkout: {args.root}", file=sys.stderr)
        return 2
    sys.path.insert(0, args.root)
    from evaluate import metrics_from_tp_fp_fns, string_shingle_matching

    truth = json.load(open(truth_path, encoding="utf-8"))
    pages = {}
    for key in truth:
        with gzip.open(os.path.join(args.root, "html", f"{key}.html.gz"), "rb") as f:
            pages[key], _ = decode(f.read())
    print(f"{len(pages)} pages from {args.root}")
    keys = list(truth)
    print_table(args.engines.split(","), [pages[k] for k in keys], [truth[k].get("articleBody", "") for k in keys],
                metrics_from_tp_fp_fns, string_shingle_matching)
    return 0


if __name__ == "__main__":
    sys.exit(main())
