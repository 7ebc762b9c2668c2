"""Shared inputs for the classifier tests: real text from the bundled sample corpus."""

from __future__ import annotations

import glob
import gzip
import json
import os

import pyarrow as pa

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "workflows", "sample_data")
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


class LocalFitContext:
    """Test double for the runner's FitContext: same interface, runs `map` in this process
    instead of on a Dask cluster (the Dask path is covered by the end-to-end CLI test)."""

    def __init__(self, inputs: list[str], state_dir: str):
        self.inputs, self.state_dir, self.workers, self.client = inputs, state_dir, 1, None
        os.makedirs(state_dir, exist_ok=True)

    def map(self, fn, items, **kwargs):
        return [fn(x, **kwargs) for x in items]
