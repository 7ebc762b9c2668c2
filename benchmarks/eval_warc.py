"""The trafilatura evaluation set as one WARC: the 990 real pages of
`../shared/data/html/trafilatura_eval`, one HTTP response record each, so that ingest
(gristmill's and datatrove's) can be timed as users run it and its output scored against
the same gold snippets as `eval_extraction.py`.

The file is a function of the pages alone (fixed dates, record ids from the URL, gzip
members without timestamps), so rebuilding it gives the same bytes, and the documents
ingest makes from it (whose ids hash the file's path and record offsets) are the same.

    python benchmarks/eval_warc.py OUT.warc.gz [--root ../shared/data/html/trafilatura_eval]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import uuid

DEFAULT_ROOT = "../shared/data/html/trafilatura_eval"
WARC_DATE = "2024-05-01T00:00:00Z"


def gold(root: str = DEFAULT_ROOT) -> dict:
    """url -> {"file", "with", "without"} (the eval set's evaldata.json)."""
    with open(os.path.join(root, "evaldata.json"), encoding="utf-8") as f:
        return json.load(f)


def _record(url: str, body: bytes) -> bytes:
    http = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body)
    record_id = uuid.UUID(hashlib.md5(url.encode("utf-8")).hexdigest())
    head = ("WARC/1.0\r\nWARC-Type: response\r\n"
            f"WARC-Record-ID: <urn:uuid:{record_id}>\r\nWARC-Date: {WARC_DATE}\r\n"
            f"WARC-Target-URI: {url}\r\nWARC-Identified-Payload-Type: text/html\r\n"
            "Content-Type: application/http; msgtype=response\r\n"
            f"Content-Length: {len(http)}\r\n\r\n").encode("utf-8")
    return gzip.compress(head + http + b"\r\n\r\n", compresslevel=6, mtime=0)


def build(out_path: str, root: str = DEFAULT_ROOT) -> int:
    """Write the WARC (per-record gzip) to `out_path` atomically; returns the record count."""
    pages = gold(root)
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as out:
        for url, g in pages.items():
            with gzip.open(os.path.join(root, "html", g["file"] + ".gz"), "rb") as f:
                out.write(_record(url, f.read()))
    os.replace(tmp, out_path)
    return len(pages)


def ensure(out_path: str, root: str = DEFAULT_ROOT) -> str:
    """`out_path`, built first if it is not there yet."""
    if not os.path.exists(out_path):
        os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        build(out_path, root)
    return out_path


def snippet_scores(items) -> dict:
    """Precision, recall and F1 over snippets, summed over pages: items of (with, without, text)."""
    tp = fp = fn = 0
    for with_, without, text in items:
        hits = sum(s in text for s in with_)
        tp, fn, fp = tp + hits, fn + len(with_) - hits, fp + sum(s in text for s in without)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def score(texts_by_url: dict[str, str], pages: dict) -> dict:
    """snippet_scores of texts by URL against the gold of those URLs; a page
    with no document scores as empty text."""
    return snippet_scores((g.get("with", []), g.get("without", []), texts_by_url.get(url) or "")
                          for url, g in pages.items())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--root", default=DEFAULT_ROOT)
    args = ap.parse_args(argv)
    n = build(args.out, args.root)
    print(f"{n} records -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
