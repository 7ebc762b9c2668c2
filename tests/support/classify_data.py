"""Shared inputs for the classifier tests: real text from the bundled sample corpus."""

from __future__ import annotations

import glob
import gzip
import json
import os

import pyarrow as pa

from tests.support.paths import SAMPLE

# tiny fastText settings: a model trains in well under a second
TINY = {"epoch": 20, "dim": 16, "bucket": 5000, "lr": 0.5}


def sample_docs(max_chars: int = 1500, per_source: int = 40) -> dict[str, list[str]]:
    """source -> up to `per_source` documents (first `max_chars` characters)."""
    out: dict[str, list[str]] = {}
    for path in sorted(glob.glob(os.path.join(SAMPLE, "*.jsonl.gz"))):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                docs = out.setdefault(r["source"], [])
                if len(docs) < per_source and len(r["text"]) >= 300:
                    docs.append(r["text"][:max_chars])
    return out


def table(docs: dict[str, list[str]]) -> pa.Table:
    rows = [(f"{s}-{i}", t, s) for s, texts in docs.items() for i, t in enumerate(texts)]
    return pa.table({"id": [r[0] for r in rows], "text": [r[1] for r in rows], "source": [r[2] for r in rows]})
