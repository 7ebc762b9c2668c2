"""Per-file outcome of `gristmill ocr` on the pdf.js selection (bad, broken, encrypted,
huge and odd PDFs): every file must yield a document or a counted reason.

    gristmill ocr ../shared/data/pdf/pdfjs_selection/pdfs --out /tmp/ocr-pdfjs --workers 1
    python benchmarks/ocr_bad_pdfs.py /tmp/ocr-pdfjs [../shared/data/pdf/pdfjs_selection/files.json]
"""

from __future__ import annotations

import collections
import glob
import json
import os
import sys

import pyarrow.parquet as pq


def main(out_dir: str, files_json: str) -> int:
    files = json.load(open(files_json))
    outcome: dict[str, str] = {}
    for f in sorted(glob.glob(os.path.join(out_dir, "part-*.parquet"))):
        for d in pq.read_table(f, columns=["origin_file", "pdf_pages", "pages_ocr", "text"]).to_pylist():
            outcome[os.path.basename(d["origin_file"])] = (f"text: {len(d['text'])} chars, {d['pdf_pages']} pages, "
                                                           f"{d['pages_ocr']} OCRed")
    for f in sorted(glob.glob(os.path.join(out_dir, "dropped", "part-*.parquet"))):
        for d in pq.read_table(f, columns=["origin_file", "reason", "detail"]).to_pylist():
            outcome[os.path.basename(d["origin_file"])] = f"dropped: {d['reason']} ({(d['detail'] or '')[:60]})"
    by_cat = collections.defaultdict(collections.Counter)
    print("| file | category | outcome |\n|---|---|---|")
    for name, info in sorted(files.items(), key=lambda kv: (kv[1]["category"], kv[0])):
        o = outcome.get(name, "MISSING")
        by_cat[info["category"]]["text" if o.startswith("text") else o.split(" (")[0]] += 1
        print(f"| {name} | {info['category']} | {o} |")
    print()
    for cat, c in sorted(by_cat.items()):
        print(f"{cat}: {dict(c)}")
    missing = [n for n in files if n not in outcome]
    stats = json.load(open(os.path.join(out_dir, "stats.json")))
    print(f"\nfiles {len(files)}, accounted {len(files) - len(missing)}, docs_in {stats['docs_in']}, "
          f"docs_out {stats['docs_out']}, dropped {stats['docs_dropped']} {stats['dropped_by_reason']}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else
                  "../shared/data/pdf/pdfjs_selection/files.json"))
