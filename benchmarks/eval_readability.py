"""Extraction F1 on a third set: the real pages among Mozilla
readability's test pages (test/test-pages/*/source.html over 20 KB: news, blogs, Wikipedia,
documentation; the smaller ones are its synthetic unit tests), with readability's own
expected.html as gold. Scored like eval_aeb.py, with the article-extraction-benchmark's
shingle F1 (imported from that checkout's evaluate.py). The gold is one extractor's curated
output, not a human's: it keeps image captions and bylines that other conventions drop.
The default `blocks` model is trained on these pages too (its row is in-sample; held out:
train_block_extractor.py); the other engines never saw them.

    python benchmarks/eval_readability.py --root READABILITY_CHECKOUT --aeb-root AEB_CHECKOUT
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_aeb import DEFAULT_ENGINES, print_table, shingle_scorer  # noqa: E402

MIN_SOURCE_CHARS = 20_000  # below this the test pages are readability's synthetic unit tests


def load(root: str) -> list[tuple[str, str, str]]:
    from resiliparse.extract.html2text import extract_plain_text

    pages = []
    for d in sorted(glob.glob(os.path.join(root, "test", "test-pages", "*"))):
        with open(os.path.join(d, "source.html"), encoding="utf-8", errors="replace") as f:
            source = f.read()
        if len(source) < MIN_SOURCE_CHARS:
            continue
        with open(os.path.join(d, "expected.html"), encoding="utf-8", errors="replace") as f:
            gold = extract_plain_text(f.read(), preserve_formatting=True)
        pages.append((os.path.basename(d), source, gold))
    return pages


def site_of(name: str) -> str:
    """The site a test page comes from: "wikipedia-2" -> "wikipedia", "ars-1" -> "ars"."""
    return re.sub(r"-\d+$", "", name)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="checkout of https://github.com/mozilla/readability")
    ap.add_argument("--aeb-root", required=True, help="checkout of scrapinghub/article-extraction-benchmark")
    ap.add_argument("--engines", default=DEFAULT_ENGINES)
    args = ap.parse_args(argv)
    pages = load(args.root)
    if not pages:
        print(f"no readability test pages under {args.root}", file=sys.stderr)
        return 2
    print(f"{len(pages)} pages from {args.root}")
    print_table(args.engines.split(","), [source for _, source, _ in pages], [gold for _, _, gold in pages],
                *shingle_scorer(args.aeb_root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
