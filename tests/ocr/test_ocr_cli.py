"""`gristmill ocr` end to end: PDF files and an ingest folder's PDF queue built from the
real crawl in ../shared/data/warc/aut (example.pdf.warc.gz), through the Dask runner."""

from __future__ import annotations

import glob
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gristmill.pipeline import cli

from tests.support import ocr_fixtures as fx
from tests.support.paths import SHARED_DATA

WARCS = glob.glob(os.path.join(SHARED_DATA, "warc", "aut", "**", "example.pdf.warc.gz"), recursive=True)


def _warc_pdfs(path: str, limit: int = 1) -> list[dict]:
    from warcio.archiveiterator import ArchiveIterator

    rows = []
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type != "response" or "pdf" not in (rec.http_headers.get_header("Content-Type") or ""):
                continue
            rows.append({"url": rec.rec_headers.get_header("WARC-Target-URI"), "data": rec.content_stream().read()})
            if len(rows) >= limit:
                break
    return rows


@pytest.mark.skipif(not WARCS, reason="../shared/data/warc/aut/.../example.pdf.warc.gz is absent")
def test_gristmill_ocr_files_and_ingest_queue(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    warc = os.path.abspath(WARCS[0])
    pdf = _warc_pdfs(warc)[0]
    truncated = pdf["data"][: len(pdf["data"]) // 2]
    ingest = tmp_path / "ingest"
    (ingest / "pdfs").mkdir(parents=True)
    table = pa.table({
        "id": ["w1", "w2"], "url": [pdf["url"]] * 2, "domain": ["yorkspace.library.yorku.ca"] * 2,
        "origin_file": [warc] * 2, "origin_offset": pa.array([1000, 2000], pa.int64()),
        "fetched_at": pa.array([0, 0], pa.timestamp("us", tz="UTC")), "content_type": ["application/pdf"] * 2,
        "http_status": pa.array([200, 200], pa.int32()), "warc_truncated": [None, "length"],
        "content_length": pa.array([len(pdf["data"]), len(truncated)], pa.int64()),
        "pdf_bytes": pa.array([pdf["data"], truncated], pa.binary()),
    })
    pq.write_table(table, ingest / "pdfs" / "part-00000.parquet")
    (ingest / "part-00000.parquet").write_bytes(b"")  # ingest's documents: not PDFs, must be ignored
    (tmp_path / "paper.pdf").write_bytes(fx.born_digital(2))
    rc = cli.main(["ocr", "paper.pdf", "ingest", "--out", "out", "--workers", "1", "--quiet"])
    assert rc == 0
    stats = json.load(open("out/stats.json"))
    assert stats["docs_in"] == 3 == stats["docs_out"] + stats["docs_dropped"]
    assert stats["dropped_by_reason"] == {"truncated_pdf": 1}
    docs = [d for f in sorted(glob.glob("out/part-*.parquet")) for d in pq.read_table(f).to_pylist()]
    by_origin = {d["origin_file"]: d for d in docs}
    assert "paper.pdf" in by_origin  # the path as given
    crawl = by_origin[warc]
    assert crawl["id"] == "w1" and crawl["url"] == pdf["url"] and crawl["pdf_pages"] == 4
    assert "WARC" in crawl["text"] and crawl["page_engines"] == ["pymupdf"] * 4
