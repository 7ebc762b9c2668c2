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
    print("| engine | F1 | precision | recall | pages/s |")
    print("|---|---|---|---|---|")
    for name in args.engines.split(","):
        engine = ENGINES[name]
        t0 = time.perf_counter()
        out = {k: engine(html) or "" for k, html in pages.items()}
        secs = time.perf_counter() - t0
        m = metrics_from_tp_fp_fns([string_shingle_matching(truth[k].get("articleBody", ""), out[k]) for k in truth])
        print(f"| {name} | {m['f1']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} | {len(pages) / secs:.0f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
