"""A labelled near-duplicate benchmark built from real text, and its pairwise scoring.

Documents: the 21 Gutenberg editions of ../shared/data/dedup/gutenberg_editions (HTML
tags stripped) plus passages of real text (Gutenberg novels, WikiText-2 articles, US
speeches, Shakespeare, Common Crawl pages), each with one generated variant: word edits,
added boilerplate, truncation, paragraph/sentence reordering, or a mix, each tuned by
bisection to a target Jaccard drawn uniformly from [low, 1]. Every label is the measured
Jaccard, never the target.

Jaccard here is defined independently of gristmill's code: sets of word 5-grams after
lower-casing and replacing punctuation (Unicode category P) with spaces; a text of fewer
than 5 words is one shingle. A pair is a true duplicate when its Jaccard >= 0.8.
"""

from __future__ import annotations

import html
import itertools
import json
import os
import random
import re

import regex

PUNCT = regex.compile(r"\p{P}+")
KINDS = ("edit", "boilerplate", "truncate", "reorder", "mixed")
BOILERPLATE = (
    "Home About Us Services Blog Contact Login Register Search this site Skip to main content Menu",
    "We use cookies to improve your experience on our website. By continuing to browse you agree to our "
    "use of cookies. Read our privacy policy and terms of service to learn more. Accept all cookies.",
    "Copyright 2024 All rights reserved. Follow us on Facebook Twitter Instagram LinkedIn. Subscribe to "
    "our newsletter for the latest updates, offers and news delivered straight to your inbox every week.",
    "This eBook is for the use of anyone anywhere at no cost and with almost no restrictions whatsoever. "
    "You may copy it, give it away or re-use it under the terms of the Project Gutenberg License included.",
)


def words(text: str) -> list[str]:
    return PUNCT.sub(" ", text.lower()).split()


def shingle_set(text: str, n: int = 5) -> set:
    w = words(text)
    if 0 < len(w) < n:
        return {tuple(w)}
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _paragraph_chunks(text: str, rng: random.Random, lo=120, hi=700) -> list[str]:
    paras = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    out, cur, n, target = [], [], 0, rng.randint(lo, hi)
    for p in paras:
        cur.append(p)
        n += len(p.split())
        if n >= target:
            out.append("\n\n".join(cur))
            cur, n, target = [], 0, rng.randint(lo, hi)
    return out


def real_passages(data: str, rng: random.Random) -> list[str]:
    t = os.path.join(data, "text")
    texts = []
    for name in ("pg84_frankenstein.txt", "pg1342_pride_and_prejudice.txt"):
        texts += _paragraph_chunks(open(os.path.join(t, "gutenberg", name), encoding="utf-8").read(), rng)
    for split in ("valid.txt", "test.txt"):
        raw = open(os.path.join(t, "wikitext2", split), encoding="utf-8").read()
        for art in re.split(r"\n = [^=\n]+ = \n", raw):
            texts += _paragraph_chunks(art.replace("\n", "\n\n"), rng)
    for sub in ("nltk_inaugural/inaugural", "nltk_state_union/state_union"):
        folder = os.path.join(t, sub)
        for f in sorted(os.listdir(folder)):
            texts += _paragraph_chunks(open(os.path.join(folder, f), encoding="latin-1").read(), rng)
    texts += _paragraph_chunks(open(os.path.join(t, "tinyshakespeare", "input.txt")).read(), rng, 120, 400)
    for f in sorted(os.listdir(os.path.join(t, "dolma_cc_web"))):
        if f.endswith(".jsonl"):
            texts += [json.loads(line)["text"] for line in open(os.path.join(t, "dolma_cc_web", f))]
    seen, out = set(), []
    for x in texts:
        key = " ".join(words(x))
        if len(key.split()) >= 50 and key not in seen:
            seen.add(key)
            out.append(x)
    return out


def transform(text: str, kind: str, s: float, seed: int, vocab: list[str]) -> str:
    """`text` changed with strength s in [0, 1] (0: unchanged); deterministic given seed."""
    rng = random.Random(seed)
    if kind == "edit":
        out = []
        for w in text.split(" "):
            r = rng.random()
            if r < s * 0.15:
                continue  # delete
            out.append(rng.choice(vocab) if r < s * 0.3 else w)  # substitute
            if rng.random() < s * 0.1:
                out.append(rng.choice(vocab))  # insert
        return " ".join(out)
    if kind == "boilerplate":
        n_words = int(s * 1.2 * len(text.split()))
        blocks, got = [], 0
        while got < n_words:
            b = rng.choice(BOILERPLATE).split()[: n_words - got]
            blocks.append(" ".join(b))
            got += len(b)
        head = blocks[: len(blocks) // 2]
        return "\n\n".join(head + [text] + blocks[len(blocks) // 2:])
    if kind == "truncate":
        w = text.split(" ")
        return " ".join(w[: max(1, int(len(w) * (1 - 0.9 * s)))])
    if kind == "reorder":
        w = text.split(" ")
        n_blocks = 1 + int(s * len(w) / 5)
        cuts = sorted(rng.sample(range(1, len(w)), min(n_blocks, len(w) - 1))) if len(w) > 1 else []
        parts = [w[i:j] for i, j in zip([0] + cuts, cuts + [len(w)])]
        rng.shuffle(parts)
        return " ".join(itertools.chain.from_iterable(parts))
    t = transform(text, "truncate", s * 0.5, seed, vocab)
    t = transform(t, "edit", s * 0.4, seed + 1, vocab)
    return transform(t, "boilerplate", s * 0.3, seed + 2, vocab)


def make_variant(text: str, kind: str, target: float, seed: int, vocab: list[str]) -> tuple[str, float]:
    """Bisect the strength so the variant's Jaccard to `text` is close to `target`."""
    base = shingle_set(text)
    lo, hi, best = 0.0, 1.0, (text, 1.0)
    for _ in range(14):
        mid = (lo + hi) / 2
        v = transform(text, kind, mid, seed, vocab)
        j = jaccard(base, shingle_set(v))
        if abs(j - target) < abs(best[1] - target):
            best = (v, j)
        if j > target:
            lo = mid
        else:
            hi = mid
    return best


def strip_html(raw: str) -> str:
    raw = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", raw)
    return html.unescape(re.sub(r"(?s)<[^>]+>", " ", raw))


def editions(data: str) -> list[dict]:
    folder = os.path.join(data, "dedup", "gutenberg_editions", "docs")
    out = []
    for f in sorted(os.listdir(folder)):
        raw = open(os.path.join(folder, f), encoding="utf-8", errors="replace").read()
        out.append({"id": f"ed:{f}", "text": strip_html(raw) if f.endswith(".htm") else raw})
    return out


def build(data: str, n_pairs: int, seed: int = 0, low: float = 0.5, with_editions: bool = True):
    """(documents [{id, text}], labelled pairs [(id_a, id_b, jaccard, kind)])."""
    rng = random.Random(seed)
    passages = real_passages(data, rng)
    rng.shuffle(passages)
    vocab = sorted({w for p in passages[:200] for w in p.split()})
    docs, pairs = [], []
    for i, text in enumerate(passages[:n_pairs]):
        kind = KINDS[i % len(KINDS)]
        target = rng.uniform(low, 1.0)
        variant, j = make_variant(text, kind, target, seed * 100_003 + i, vocab)
        docs += [{"id": f"p{i:05d}", "text": text}, {"id": f"p{i:05d}v", "text": variant}]
        pairs.append((f"p{i:05d}", f"p{i:05d}v", j, kind))
    if with_editions:
        eds = editions(data)
        sets = {d["id"]: shingle_set(d["text"]) for d in eds}
        for a, b in itertools.combinations(sorted(sets), 2):
            pairs.append((a, b, jaccard(sets[a], sets[b]), "editions"))
        docs += eds
    return docs, pairs, passages[n_pairs:]


def score(clusters: dict[str, object], pairs, texts: dict[str, str], threshold: float = 0.8) -> dict:
    """Pairwise precision/recall/F1 of a clustering. Predicted pairs: every pair of documents
    sharing a cluster. True pairs: labelled pairs with Jaccard >= threshold, plus any
    predicted pair whose measured Jaccard is >= threshold."""
    label = {(a, b): j for a, b, j, _ in pairs}
    members: dict[object, list[str]] = {}
    for doc, c in clusters.items():
        if c is not None:
            members.setdefault(c, []).append(doc)
    predicted = set()
    for m in members.values():
        predicted |= {tuple(sorted(p)) for p in itertools.combinations(m, 2)}
    cache: dict[str, set] = {}

    def jac(a, b):
        if (a, b) in label:
            return label[(a, b)]
        for d in (a, b):
            if d not in cache:
                cache[d] = shingle_set(texts[d])
        return jaccard(cache[a], cache[b])

    tp = sum(1 for p in predicted if jac(*p) >= threshold)
    fp = len(predicted) - tp
    fn = sum(1 for (a, b), j in label.items() if j >= threshold and (a, b) not in predicted)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4)}
