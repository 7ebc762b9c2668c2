"""Extraction F1 on Zyte/scrapinghub's article-extraction-benchmark (181 English news and
blog pages with their whole article body as gold), scored with that benchmark's own metric
(4-token shingles, precision and recall averaged over pages). The default `blocks` model is
trained on these pages too, so its row is in-sample; train_block_extractor.py reports it held
out (by site, and by set: trained without these pages). The other engines never saw them.

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
IN_SAMPLE = " (in-sample: trained on this set)"


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
        label = name + (IN_SAMPLE if name == "blocks" else "")
        print(f"| {label} | {m['f1']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} | {len(htmls) / secs:.0f} |",
              flush=True)


def shingle_scorer(root: str):
    """The benchmark's own (metrics_from_tp_fp_fns, string_shingle_matching), from its evaluate.py."""
    if root not in sys.path:
        sys.path.insert(0, root)
    from evaluate import metrics_from_tp_fp_fns, string_shingle_matching

    return metrics_from_tp_fp_fns, string_shingle_matching


def load(root: str) -> list[tuple[str, str, str, str]]:
    """(key, decoded html, gold article body, url) per page; [] if root is not a checkout."""
    truth_path = os.path.join(root, "ground-truth.json")
    if not os.path.exists(truth_path):
        return []
    pages = []
    for key, gold in json.load(open(truth_path, encoding="utf-8")).items():
        with gzip.open(os.path.join(root, "html", f"{key}.html.gz"), "rb") as f:
            html, _ = decode(f.read())
        pages.append((key, html, gold.get("articleBody", ""), gold.get("url", key)))
    return pages


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="checkout of article-extraction-benchmark")
    ap.add_argument("--engines", default=DEFAULT_ENGINES)
    args = ap.parse_args(argv)
    pages = load(args.root)
    if not pages:
        print(f"not an article-extraction-benchmark checkout: {args.root}", file=sys.stderr)
        return 2
    print(f"{len(pages)} pages from {args.root}")
    print_table(args.engines.split(","), [html for _, html, _, _ in pages], [gold for _, _, gold, _ in pages],
                *shingle_scorer(args.root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
