"""Language ID accuracy of ingest's fastText lid.176.ftz on the NLTK Genesis translations.

Each file is cut into chunks of N words (default 30, about two verses) and every chunk is
classified; accuracy = share of chunks given the file's language. lolcat has no ISO code:
its row shows what the model calls it.

    python benchmarks/eval_langid.py [../shared/data/text/nltk_genesis/genesis] [--words 30]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

from gristmill.pipeline.ingest.charset import decode
from gristmill.pipeline.ingest.langid import LanguageIdentifier

EXPECTED = {"english-kjv": "en", "english-web": "en", "finnish": "fi", "french": "fr", "german": "de",
            "portuguese": "pt", "swedish": "sv", "lolcat": None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", nargs="?", default="../shared/data/text/nltk_genesis/genesis")
    ap.add_argument("--words", type=int, default=30)
    args = ap.parse_args(argv)
    if not os.path.isdir(args.root):
        print(f"not found: {args.root}", file=sys.stderr)
        return 2
    lid = LanguageIdentifier()
    print(f"| file | expected | chunks of {args.words} words | accuracy | most common predictions |")
    print("|---|---|---|---|---|")
    total = correct = 0
    for name, expected in EXPECTED.items():
        with open(os.path.join(args.root, f"{name}.txt"), "rb") as f:
            text, _ = decode(f.read(), html=False)
        words = text.split()
        chunks = [" ".join(words[i:i + args.words]) for i in range(0, len(words), args.words)]
        langs, _ = lid.predict(chunks)
        counts = Counter(langs)
        top = ", ".join(f"{k} {v}" for k, v in counts.most_common(3))
        if expected is None:
            print(f"| {name} | (none) | {len(chunks)} | n/a | {top} |")
            continue
        ok = counts.get(expected, 0)
        total += len(chunks)
        correct += ok
        print(f"| {name} | {expected} | {len(chunks)} | {ok / len(chunks):.3f} | {top} |")
    print(f"| all (ISO languages) | | {total} | {correct / total:.3f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
