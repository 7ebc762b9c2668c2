"""PDFs inside WARCs: `read_any@1` OCRs them inline (one `pdf` document per PDF record, the
WARC as origin; a truncated record dropped as `truncated_pdf`), or queues them like ingest."""

from __future__ import annotations

import glob
import importlib.util
import os

import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator

from gristmill.pipeline.context import ShardContext, StepContext
from gristmill.pipeline.ingest.mixed import ReadAny
from gristmill.pipeline.ingest.stage import Ingest
from tests.support.paths import SAMPLE

WARC = os.path.join(SAMPLE, "warc", "gutenberg-pdf-crawl.warc.gz")
BUILDER = os.path.join(SAMPLE, "warc", "build_pdf_warc.py")


def _records(path):
    with open(path, "rb") as f:
        return [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.rec_headers.get_header("WARC-Date"),
                 r.rec_headers.get_header("WARC-Truncated"), r.http_headers and r.http_headers.get_header("Content-Type"),
                 len(r.content_stream().read())) for r in ArchiveIterator(f)]


@pytest.fixture(scope="module")
def inline():
    return ReadAny(ingest={"source": "web"}, ocr={"source": "pdf"}).process_file(WARC)


def test_sample_warc_holds_a_pdf_an_html_page_and_a_truncated_pdf():
    recs = _records(WARC)
    assert [r[0] for r in recs] == ["warcinfo", "response", "response", "response"]
    assert recs[1][4].startswith("text/html")
    assert [r[4] for r in recs[2:]] == ["application/pdf"] * 2
    assert recs[2][3] is None and recs[3][3] == "length" and recs[3][5] == 4096


def test_read_any_ocrs_the_pdf_records_of_a_warc(inline):
    out = inline
    assert out.records_in == 4 == out.table.num_rows + out.drops.num_rows
    docs = {d["source"]: d for d in out.table.to_pylist()}
    assert set(docs) == {"web", "pdf"}
    pdf = docs["pdf"]
    assert pdf["origin_file"] == WARC and pdf["url"] == "https://library.example.org/austen/pandp-p15-16.pdf"
    assert pdf["domain"] == "library.example.org" and pdf["fetched_at"].isoformat() == "2026-02-03T10:15:02+00:00"
    assert pdf["pdf_pages"] == 2 and pdf["page_engines"] == ["pymupdf", "pymupdf"]
    assert pdf["page_routes"] == ["text:text_layer_ok"] * 2
    assert "Elizabeth" in pdf["text"] and len(pdf["text"].split()) > 500
    # origin_offset is the PDF record's offset in the WARC: ingest queues the same row
    _, queued = Ingest().read_file(WARC)
    queued = queued.to_pylist()
    assert [(q["id"], q["origin_offset"]) for q in queued][0] == (pdf["id"], pdf["origin_offset"])
    drops = {d["reason"]: d for d in out.drops.to_pylist()}
    assert set(drops) == {"record_warcinfo", "truncated_pdf"}  # no pdf_queued left
    cut = drops["truncated_pdf"]
    assert cut["stage"] == "ocr@1" and cut["url"].endswith("pandp-p17-18.pdf")
    assert cut["id"] == queued[1]["id"] and cut["origin_offset"] == queued[1]["origin_offset"]
    assert out.counters["warc_pdfs_ocr"] == 2 and out.counters["pdfs_queued"] == 0


def test_inline_ocr_is_deterministic_and_writes_no_queue(inline, tmp_path):
    ctx = ShardContext(StepContext.local(str(tmp_path)), 0)
    again = ReadAny(ingest={"source": "web"}, ocr={"source": "pdf"}).process_file(WARC, ctx)
    assert again.table.equals(inline.table) and again.drops.equals(inline.drops)
    assert not os.path.exists(tmp_path / "pdfs")


def test_queue_mode_keeps_ingest_behaviour(tmp_path):
    ctx = ShardContext(StepContext.local(str(tmp_path)), 3)
    out = ReadAny(warc_pdfs="queue").process_file(WARC, ctx)
    assert out.records_in == 4 and out.table.num_rows == 1
    assert sorted(out.drops.column("reason").to_pylist()) == ["pdf_queued", "pdf_queued", "record_warcinfo"]
    queue = pq.read_table(tmp_path / "pdfs" / "part-00003.parquet")
    assert queue.num_rows == 2 and queue.column("warc_truncated").to_pylist() == [None, "length"]
    with pytest.raises(ValueError):
        ReadAny(warc_pdfs="bogus").process_file(WARC)


def test_inline_ocr_keeps_the_isolation_limits():
    out = ReadAny(ocr={"doc_timeout_s": 0.001}).process_file(WARC)  # no PDF can be read that fast
    assert out.records_in == out.table.num_rows + out.drops.num_rows == 4
    assert set(out.table.column("source").to_pylist()) == {"web"}
    reasons = out.drops.column("reason").to_pylist()
    assert "doc_timeout" in reasons or "parse_timeout" in reasons, reasons


def test_sample_warc_builder_is_deterministic(shared_data, tmp_path):
    spec = importlib.util.spec_from_file_location("build_pdf_warc", BUILDER)
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    a, b = str(tmp_path / "a.warc.gz"), str(tmp_path / "b.warc.gz")
    builder.main(shared_data, a)
    builder.main(shared_data, b)
    assert open(a, "rb").read() == open(b, "rb").read()
    assert _records(a) == _records(WARC)  # the committed file is this script's output
    assert glob.glob(os.path.join(SAMPLE, "LICENSES", "*pdf_warc*"))
