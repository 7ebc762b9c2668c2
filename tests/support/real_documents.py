"""Real documents from ../shared/data for the filter agreement test and benchmark.

Nothing is cached in the repo: web pages are extracted on the fly with resiliparse
(main content), the text sets are cut into documents the way a corpus would hold them.
"""

from __future__ import annotations

import functools
import glob
import gzip
import json
import os
import re

import pyarrow as pa

from tests.support.paths import SHARED_DATA as DATA


def available() -> bool:
    return os.path.isdir(os.path.join(DATA, "text"))


def _chunks(lines: list[str], size: int) -> list[str]:
    return ["\n".join(lines[i:i + size]) for i in range(0, len(lines), size)]


def web_pages(limit: int | None = None) -> list[str]:
    """Main text of the trafilatura_eval pages: resiliparse where installed (the numbers in
    the README), else trafilatura (a datatrove[processing] dependency)."""
    files = sorted(glob.glob(os.path.join(DATA, "html", "trafilatura_eval", "html", "*.gz")))[:limit]
    try:
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.encoding import bytes_to_str, detect_encoding

        def extract(raw: bytes) -> str:
            return extract_plain_text(bytes_to_str(raw, detect_encoding(raw)), main_content=True)
    except ImportError:
        import trafilatura

        def extract(raw: bytes) -> str:
            return trafilatura.extract(raw.decode("utf-8", "replace")) or ""
    return [extract(gzip.open(f).read()) for f in files]


def text_sets(per_set: int | None = None) -> dict[str, list[str]]:
    t = os.path.join(DATA, "text")
    sets: dict[str, list[str]] = {}
    sets["dolma_cc_web"] = [json.loads(line)["text"] for f in sorted(glob.glob(f"{t}/dolma_cc_web/*.jsonl"))
                            for line in open(f, encoding="utf-8")]
    book_chunks = []
    for f in sorted(glob.glob(f"{t}/gutenberg/*.txt")):
        book_chunks += _chunks(open(f, encoding="utf-8-sig").read().splitlines(), 120)
    sets["gutenberg"] = book_chunks
    wiki = open(f"{t}/wikitext2/test.txt", encoding="utf-8").read()
    sets["wikitext2"] = [a for a in re.split(r"\n(?= = [^=])", wiki) if a.strip()]
    sets["tinyshakespeare"] = _chunks(open(f"{t}/tinyshakespeare/input.txt", encoding="utf-8").read().splitlines(), 80)
    speeches = sorted(glob.glob(f"{t}/nltk_inaugural/inaugural/*.txt") + glob.glob(f"{t}/nltk_state_union/state_union/*.txt"))
    sets["speeches"] = [open(f, encoding="latin-1").read() for f in speeches]
    sets["gsm8k_qa"] = [(r := json.loads(line))["question"] + "\n" + r["answer"]
                        for line in open(f"{t}/gsm8k_qa/test.jsonl", encoding="utf-8")]
    sets["humaneval_code"] = [(r := json.loads(line))["prompt"] + r["canonical_solution"]
                              for line in gzip.open(f"{t}/humaneval_code/HumanEval.jsonl.gz", "rt", encoding="utf-8")]
    if per_set:
        # spread the sample over each set instead of taking its head
        sets = {k: v[:: max(1, len(v) // per_set)][:per_set] for k, v in sets.items()}
    return sets


def load(pages: int | None = 200, per_set: int | None = 60) -> pa.Table:
    """id, text, source for web pages + text sets (deterministic order)."""
    rows = [("web", p) for p in web_pages(pages)]
    for name, docs in text_sets(per_set).items():
        rows += [(name, d) for d in docs]
    return pa.table({
        "id": [f"{src}-{i}" for i, (src, _) in enumerate(rows)],
        "text": pa.array([d for _, d in rows], pa.large_string()),
        "source": [src for src, _ in rows],
    })


@functools.lru_cache(1)
def _cached_load(pages, per_set):
    return load(pages=pages, per_set=per_set)


def load_real_documents(pages=40, per_set=12):
    """Real documents (web pages + text sets) from ../shared/data; skips the test where absent."""
    import pytest

    if not available():
        pytest.skip("../shared/data is absent (real test data for the agreement test)")
    return _cached_load(pages, per_set)
