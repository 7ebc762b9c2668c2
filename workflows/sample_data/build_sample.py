"""Rebuild the quickstart's sample corpus from ../shared/data (redistributable sets only).

    python workflows/sample_data/build_sample.py [SHARED_DATA_DIR]

Writes <source>-<k>.jsonl.gz here (two shards per source) and copies each set's
ORIGIN/LICENSE files into LICENSES/. The output is committed; this script documents
exactly how it was made and is deterministic.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PD = "LicenseRef-public-domain"


def wikitext(root):
    """WikiText-2 validation split: one document per article, light detokenisation."""
    text = open(os.path.join(root, "text/wikitext2/valid.txt"), encoding="utf-8").read()
    parts = re.split(r"\n \= ([^=\n][^\n]*?) \= \n", "\n" + text)
    fixes = [(" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", "."), (" , ", ", "), (" . ", ". "),
             (" ; ", "; "), (" : ", ": "), (" 's", "'s"), ("( ", "("), (" )", ")")]
    for title, body in zip(parts[1::2], parts[2::2]):
        body = re.sub(r"\n \= \= (.+?) \= \= \n", r"\n\n\1\n", body).strip()
        for a, b in fixes:
            body = body.replace(a, b)
        yield dict(id=f"wikitext2:{title}", text=f"{title}\n\n{body}", source="encyclopedic",
                   url="https://en.wikipedia.org/wiki/" + title.replace(" ", "_"), license="CC-BY-SA-3.0")


def gutenberg(root):
    """Two Project Gutenberg novels, one document per chapter (PG boilerplate kept in its own doc)."""
    for fname, book in [("pg84_frankenstein.txt", 84), ("pg1342_pride_and_prejudice.txt", 1342)]:
        text = open(os.path.join(root, "text/gutenberg", fname), encoding="utf-8").read()
        chunks = re.split(r"\n(?=(?:Chapter|CHAPTER|Letter) [0-9IVXLC]+\.?\s*\n)", text)
        for k, chunk in enumerate(chunks):
            if chunk.strip():
                yield dict(id=f"gutenberg:{book}:{k}", text=chunk.strip(), source="literary",
                           url=f"https://www.gutenberg.org/ebooks/{book}", license=PD)


def shakespeare(root):
    """Tiny Shakespeare in blocks of about 60 lines, cut at speaker boundaries."""
    lines = open(os.path.join(root, "text/tinyshakespeare/input.txt"), encoding="utf-8").read().split("\n")
    block, k = [], 0
    for line in lines + [""]:
        block.append(line)
        if line == "" and len(block) >= 60:
            yield dict(id=f"tinyshakespeare:{k}", text="\n".join(block).strip(), source="dialogue", license=PD)
            block, k = [], k + 1


def speeches(root):
    for folder in ("nltk_inaugural/inaugural", "nltk_state_union/state_union"):
        d = os.path.join(root, "text", folder)
        for fname in sorted(os.listdir(d)):
            if fname.endswith(".txt"):
                raw = open(os.path.join(d, fname), "rb").read().decode("utf-8", errors="replace")
                yield dict(id=f"{folder.split('/')[1]}:{fname[:-4]}", text=raw.strip(), source="speeches", license=PD)


def gsm8k(root, limit=600):
    with open(os.path.join(root, "text/gsm8k_qa/test.jsonl"), encoding="utf-8") as f:
        for k, line in enumerate(f):
            if k >= limit:
                break
            r = json.loads(line)
            yield dict(id=f"gsm8k:test:{k}", text=f"Question: {r['question']}\nAnswer: {r['answer']}",
                       source="math", license="MIT")


def humaneval(root):
    with gzip.open(os.path.join(root, "text/humaneval_code/HumanEval.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            yield dict(id=r["task_id"], text=r["prompt"] + r["canonical_solution"], source="code", license="MIT")


def mirrors(root):
    """Re-posted copies of sample documents, as a crawl finds them: 8 exact copies and 16 near
    copies (a site header and footer added, a few words changed, the end cut off). Generated
    from the redistributable texts above, so the quickstart's dedupe has real work to do."""
    import random

    rng = random.Random(0)
    originals = list(wikitext(root))[:12] + list(speeches(root))[:12]
    for k, doc in enumerate(originals):
        text = doc["text"]
        if k % 3 == 0:
            copy = text
        else:
            words = text.split(" ")
            for _ in range(max(1, len(words) // 200)):
                i = rng.randrange(len(words))
                words[i] = words[i].upper()
            cut = int(len(words) * 0.95)
            copy = ("Home | News | About us | Contact\n\n" + " ".join(words[:cut])
                    + "\n\nShare this page. Copyright notice: see original source.")
        yield dict(id=f"mirror:{k}", text=copy, source="web", url=f"http://mirror.example/{k}",
                   license=doc["license"])


SETS = {"encyclopedic": (wikitext, "wikitext2"), "literary": (gutenberg, "gutenberg"),
        "dialogue": (shakespeare, "tinyshakespeare"), "speeches": (speeches, "nltk_inaugural"),
        "math": (gsm8k, "gsm8k_qa"), "code": (humaneval, "humaneval_code"),
        "mirrors": (mirrors, "wikitext2")}


def main(root):
    lic_dir = os.path.join(HERE, "LICENSES")
    os.makedirs(lic_dir, exist_ok=True)
    for source, (fn, folder) in SETS.items():
        docs = list(fn(root))
        half = (len(docs) + 1) // 2
        for k, chunk in enumerate((docs[:half], docs[half:])):
            path = os.path.join(HERE, f"{source}-{k}.jsonl.gz")
            with gzip.GzipFile(path, "wb", mtime=0) as f:
                for d in chunk:
                    f.write((json.dumps(d, ensure_ascii=False) + "\n").encode("utf-8"))
        print(f"{source:13s} {len(docs):5d} docs")
    for folder in ("wikitext2", "gutenberg", "tinyshakespeare", "nltk_inaugural", "nltk_state_union",
                   "gsm8k_qa", "humaneval_code"):
        src = os.path.join(root, "text", folder)
        for fname in os.listdir(src):
            if fname.startswith(("ORIGIN", "LICENSE", "README")):
                shutil.copy(os.path.join(src, fname), os.path.join(lic_dir, f"{folder}.{fname}"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../../shared/data"))
