"""A synthetic corpus of N documents built from real text, with planted duplicates.

    python benchmarks/scale_corpus.py --docs 1000000 --out /work/scratch_scale16/c1m [--seed 0]

Every document is a sequence of real sentences drawn from a pool of ~200k distinct
sentences of ../shared/data: Gutenberg novels and the Gutenberg editions set, WikiText-2,
US inaugural and State of the Union speeches, the Genesis translations (8 languages),
Shakespeare, GSM8K questions, the 20 Common Crawl pages of dolma_cc_web and the
ground-truth snippets of the trafilatura HTML evaluation set (mostly German web pages).

Length. A document's byte length is drawn from a log-normal (median 300 bytes, sigma 0.9,
so a mean of ~450 bytes, a long tail up to ~8 KB) and filled with whole sentences (at least
two). Real web text is longer (Common Crawl's WET pages average a few KB; C4 ~2.2 KB):
10M documents of several KB would need ~50 GB per copy and would not fit this machine's
disk and time budget, so the documents are short and the README's projection scales by
bytes and tokens, not documents.

Duplicates, decided per document by a seeded counter-based hash, so every shard is
generated independently and the whole corpus is reproducible:
- `--exact-rate` (default 4%): a copy of another (unique) document, either byte-identical,
  lower-cased, or with punctuation changed ('. ' -> '; '): equal after gristmill's
  normalisation (lower case, punctuation runs as spaces), so all are exact duplicates.
- `--near-rate` (default 6%): a copy with random word edits (replacements by pool words,
  an inserted boilerplate line or a cut end) aimed at a Jaccard drawn uniformly from
  [0.65, 1.0]; the *measured* Jaccard (word 5-grams after lower-casing and replacing
  punctuation by spaces, benchmarks/dedupe_data.py's definition) is stored, so copies below
  0.8 are the hard negatives.
The original of a copy is any unique document of the corpus (often in another shard).
Truth columns, carried through the pipeline: `truth_kind` (unique / exact / near),
`truth_of` (id of the original), `truth_jaccard` (measured, 1.0 for exact copies).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dedupe_data import BOILERPLATE, jaccard, shingle_set  # noqa: E402  (the benchmark's own Jaccard)

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")
DOCS_PER_SHARD = 100_000
MEDIAN_BYTES, SIGMA = 300, 0.9
M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _read(path: str) -> str:
    """UTF-8, else the file's 8-bit code page (nltk's Swedish Genesis is DOS cp437)."""
    raw = open(path, "rb").read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437" if "swedish" in path else "latin-1")


def _split_sentences(text: str) -> list[str]:
    out = []
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        out += re.split(r"(?<=[.!?;:])\s+", para)
    return out


def sentence_pool(data: str = DATA) -> tuple[list[str], list[str]]:
    """Distinct real sentences of 20..600 characters, and the domain each comes from."""
    t = os.path.join(data, "text")
    sets: list[tuple[str, str]] = []  # (domain, raw text)
    for f in sorted(glob.glob(os.path.join(t, "gutenberg", "*.txt"))) + sorted(
            glob.glob(os.path.join(data, "dedup", "gutenberg_editions", "docs", "*.txt"))):
        sets.append(("literary", open(f, encoding="utf-8", errors="replace").read()))
    for f in ("valid.txt", "test.txt"):
        raw = open(os.path.join(t, "wikitext2", f), encoding="utf-8").read()
        sets.append(("encyclopedic", re.sub(r"^ = .* = $", "", raw, flags=re.M)))
    for sub in ("nltk_inaugural/inaugural", "nltk_state_union/state_union"):
        for f in sorted(glob.glob(os.path.join(t, sub, "*.txt"))):
            sets.append(("speech", _read(f)))
    for f in sorted(glob.glob(os.path.join(t, "nltk_genesis", "genesis", "*.txt"))):
        sets.append(("multilingual", open(f, encoding="latin-1").read()))
    sets.append(("dialogue", open(os.path.join(t, "tinyshakespeare", "input.txt"), encoding="utf-8").read()))
    for line in open(os.path.join(t, "gsm8k_qa", "test.jsonl"), encoding="utf-8"):
        sets.append(("math", json.loads(line)["question"]))
    for f in sorted(glob.glob(os.path.join(t, "dolma_cc_web", "*.jsonl"))):
        for line in open(f, encoding="utf-8"):
            sets.append(("web", json.loads(line)["text"]))
    ev = json.load(open(os.path.join(data, "html", "trafilatura_eval", "evaldata.json"), encoding="utf-8"))
    for page in ev.values():
        sets.append(("web", "\n\n".join(page.get("with", []) + page.get("without", []))))
    seen: set[str] = set()
    sentences, domains = [], []
    for domain, raw in sets:
        for s in _split_sentences(raw):
            if 20 <= len(s) <= 600 and s not in seen:
                seen.add(s)
                sentences.append(s)
                domains.append(domain)
    return sentences, domains


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a counter-based hash, so any document's draws are recomputable."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & M64
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & M64
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & M64
        return x ^ (x >> np.uint64(31))


def uniform(g: np.ndarray, stream: int, seed: int) -> np.ndarray:
    h = mix(mix(g.astype(np.uint64) ^ np.uint64(seed * 1_000_003 + 7)) ^ np.uint64(stream * 0x51ED27))
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class Corpus:
    def __init__(self, n_docs: int, seed: int, exact_rate: float, near_rate: float, data: str = DATA):
        self.n, self.seed, self.exact_rate, self.near_rate = n_docs, seed, exact_rate, near_rate
        sentences, domains = sentence_pool(data)
        self.pool = pa.array(sentences, pa.string())
        self.pool_len = pc.binary_length(self.pool).to_numpy().astype(np.int64)
        self.pool_domain = pa.array(domains).dictionary_encode()
        self.vocab = sorted({w for s in sentences[::7] for w in s.split() if w.isalpha()})
        self.mean_sentence = float(self.pool_len.mean())

    def kinds(self, g: np.ndarray) -> np.ndarray:
        """0 unique, 1 exact copy, 2 near copy."""
        u = uniform(g, 1, self.seed)
        return np.where(u < self.exact_rate, 1, np.where(u < self.exact_rate + self.near_rate, 2, 0))

    def originals(self, g: np.ndarray) -> np.ndarray:
        """For copies: a unique document anywhere in the corpus (redrawn until unique)."""
        o = (uniform(g, 2, self.seed) * self.n).astype(np.int64)
        for r in range(3, 40):
            bad = self.kinds(o) != 0
            if not bad.any():
                break
            o[bad] = (uniform(g[bad], r, self.seed) * self.n).astype(np.int64)
        return o

    def texts(self, g: np.ndarray) -> pa.Array:
        """The text of unique document(s) g: log-normal byte length in whole sentences."""
        u1, u2 = uniform(g, 10, self.seed), uniform(g, 11, self.seed)
        z = np.sqrt(-2 * np.log(np.maximum(u1, 1e-300))) * np.cos(2 * np.pi * u2)  # Box-Muller
        target = np.minimum(MEDIAN_BYTES * np.exp(SIGMA * z), 8000)
        k = np.maximum(2, np.rint(target / self.mean_sentence)).astype(np.int64)
        offsets = np.r_[0, np.cumsum(k)]
        doc = np.repeat(g.astype(np.uint64), k)
        pos = (np.arange(offsets[-1]) - np.repeat(offsets[:-1], k)).astype(np.uint64)
        idx = (mix(mix(doc ^ np.uint64(self.seed)) + pos) % np.uint64(len(self.pool))).astype(np.int64)
        lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), self.pool.take(pa.array(idx)))
        return pc.binary_join(lists, " "), idx[offsets[:-1]]

    def near_copy(self, text: str, g: int) -> tuple[str, float]:
        rng = np.random.default_rng([self.seed, g])
        target = rng.uniform(0.65, 1.0)
        words = text.split(" ")
        n = len(words)
        kind = rng.integers(3)
        if kind == 0 or n < 20:  # replace m words: each kills up to 5 of ~n shingles
            m = max(1, int(round(max(n - 4, 1) * (1 - target) / (5 * (1 + target)))))
            for p in rng.choice(n, size=min(m, n), replace=False):
                words[p] = self.vocab[int(rng.integers(len(self.vocab)))]
            out = " ".join(words)
        elif kind == 1:  # boilerplate line inserted somewhere
            p = int(rng.integers(n))
            out = " ".join(words[:p] + [BOILERPLATE[int(rng.integers(len(BOILERPLATE)))]] + words[p:])
        else:  # the end cut: keep a fraction ~target of the words
            out = " ".join(words[:max(5, int(round(n * target)))])
        return out, jaccard(shingle_set(text), shingle_set(out))

    def shard(self, s: int, per_shard: int) -> pa.Table:
        g = np.arange(s * per_shard, min(self.n, (s + 1) * per_shard), dtype=np.int64)
        kind = self.kinds(g)
        base = np.where(kind == 0, g, self.originals(g))
        text, first = self.texts(base)
        text = text.to_pylist() if (kind != 0).any() else text
        jac = np.ones(len(g), np.float32)
        if not isinstance(text, pa.Array):
            for i in np.flatnonzero(kind == 1):
                v = int(mix(np.array([g[i]], np.uint64))[0] % np.uint64(3))
                text[i] = text[i] if v == 0 else text[i].lower() if v == 1 else text[i].replace(". ", "; ")
            for i in np.flatnonzero(kind == 2):
                text[i], jac[i] = self.near_copy(text[i], int(g[i]))
            text = pa.array(text, pa.large_string())
        else:
            text = text.cast(pa.large_string())
        ids = pc.binary_join_element_wise("d", pa.array(np.char.zfill(g.astype(str), 9)), "")
        of = pc.binary_join_element_wise("d", pa.array(np.char.zfill(base.astype(str), 9)), "")
        return pa.table({
            "id": ids, "text": text,
            "source": self.pool_domain.take(pa.array(first)).cast(pa.string()),
            "truth_kind": pa.array(np.array(["unique", "exact", "near"])[kind]),
            "truth_of": pc.if_else(pa.array(kind != 0), of, pa.nulls(len(g), pa.string())),
            "truth_jaccard": pa.array(jac),
        })


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exact-rate", type=float, default=0.04)
    ap.add_argument("--near-rate", type=float, default=0.06)
    ap.add_argument("--docs-per-shard", type=int, default=DOCS_PER_SHARD)
    a = ap.parse_args(argv)
    t0 = time.time()
    corpus = Corpus(a.docs, a.seed, a.exact_rate, a.near_rate)
    os.makedirs(a.out, exist_ok=True)
    shards = -(-a.docs // a.docs_per_shard)
    totals = {"docs": 0, "text_bytes": 0, "exact": 0, "near": 0, "near_at_or_above_0.8": 0}
    for s in range(shards):
        t = corpus.shard(s, a.docs_per_shard)
        pq.write_table(t, os.path.join(a.out, f"part-{s:05d}.parquet"), compression="zstd", row_group_size=50_000)
        kinds = t.column("truth_kind").to_numpy(zero_copy_only=False)
        totals["docs"] += t.num_rows
        totals["text_bytes"] += int(pc.sum(pc.binary_length(t.column("text"))).as_py())
        totals["exact"] += int((kinds == "exact").sum())
        totals["near"] += int((kinds == "near").sum())
        totals["near_at_or_above_0.8"] += int(((kinds == "near") & (t.column("truth_jaccard").to_numpy() >= 0.8)).sum())
        if s % 10 == 0:
            print(f"shard {s + 1}/{shards} {time.time() - t0:.0f}s", flush=True)
    totals.update(pool_sentences=len(corpus.pool), mean_sentence_bytes=round(corpus.mean_sentence, 1),
                  mean_doc_bytes=round(totals["text_bytes"] / max(1, totals["docs"]), 1), seed=a.seed,
                  exact_rate=a.exact_rate, near_rate=a.near_rate, shards=shards,
                  parquet_bytes=sum(os.path.getsize(p) for p in glob.glob(os.path.join(a.out, "*.parquet"))),
                  seconds=round(time.time() - t0, 1))
    with open(os.path.join(a.out, "corpus.json"), "w") as f:
        json.dump(totals, f, indent=1)
    print(json.dumps(totals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
