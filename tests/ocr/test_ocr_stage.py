"""ocr@1 end to end on PDFs made here: routing, OCR, rotation, isolation, the PDF queue."""

from __future__ import annotations

import dataclasses
import os
import re
import signal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gristmill.ocr.stage import OcrStage
from tests.support import ocr_fixtures as fx

SCAN_LINES = ["Scanned pages need OCR", "because they have no text"]


@pytest.fixture(scope="module")
def stage():
    return OcrStage()


def _write(tmp_path, name, data: bytes) -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def _one(out):
    assert out.records_in == out.table.num_rows + out.drops.num_rows
    return out.table.to_pylist(), out.drops.to_pylist()


def _words(s: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() else " " for c in s).split()


def test_born_digital_text_layer_columns_and_running_lines(stage, tmp_path):
    path = _write(tmp_path, "two_col.pdf", fx.born_digital(3))
    docs, drops = _one(stage.process_file(path))
    assert not drops and len(docs) == 1
    d = docs[0]
    assert d["pdf_pages"] == 3 and d["pages_ocr"] == 0 and d["page_engines"] == ["pymupdf"] * 3
    assert d["page_routes"] == ["text:text_layer_ok"] * 3
    assert d["origin_file"] == path and d["source"] == "pdf"
    text = d["text"]
    assert fx.HEADER not in text  # running header removed
    first_page = text[d["page_offsets"][0]:d["page_offsets"][1]]
    assert first_page.index("right hand side") < first_page.index("This sentence belongs")
    assert first_page.index("read out.") < first_page.index("Page body number 1")  # below both columns
    assert "Page body number 2" in text[d["page_offsets"][1]:d["page_offsets"][2]]
    assert not any(line.strip() in {"1", "2", "3"} for line in text.splitlines())  # page numbers gone
    assert "|" not in text  # two columns of prose are no table


def test_scanned_page_is_ocred(stage, tmp_path):
    path = _write(tmp_path, "scan.pdf", fx.scanned(SCAN_LINES))
    docs, drops = _one(stage.process_file(path))
    assert not drops, drops
    d = docs[0]
    assert d["page_routes"] == ["ocr:no_text_layer"] and d["page_engines"] == ["rapidocr-cpu"]
    assert d["pages_ocr"] == 1
    assert _words(d["text"]) == _words(" ".join(SCAN_LINES))


def test_rotated_scan_is_turned_upright(stage, tmp_path):
    path = _write(tmp_path, "scan90.pdf", fx.scanned(SCAN_LINES, rotate=90))
    docs, drops = _one(stage.process_file(path))
    assert not drops, drops
    assert _words(docs[0]["text"]) == _words(" ".join(SCAN_LINES))


def test_bad_inputs_are_dropped_with_reasons(stage, tmp_path):
    cases = {
        "enc.pdf": (fx.encrypted(), "encrypted"),
        "junk.pdf": (b"%PDF-1.4\n" + os.urandom(300), None),  # unreadable or no pages: a reason either way
        "notpdf.pdf": (b"hello, I am text", "not_pdf"),
        "blank.pdf": (_blank(), "no_text"),
    }
    for name, (data, reason) in cases.items():
        docs, drops = _one(stage.process_file(_write(tmp_path, name, data)))
        assert not docs and len(drops) == 1, name
        if reason:
            assert drops[0]["reason"] == reason, (name, drops[0])
        assert drops[0]["reason"] and drops[0]["stage"] == "ocr@1"


def _blank() -> bytes:
    import pymupdf

    doc = pymupdf.open()
    doc.new_page()
    return doc.tobytes()


def test_rights_evidence_from_the_pdf(stage, tmp_path):
    xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           '<rdf:Description xmlns:tdm="http://www.w3.org/ns/tdmrep/" xmlns:cc="http://creativecommons.org/ns#" '
           'tdm:reservation="1" cc:license="https://creativecommons.org/licenses/by/4.0/"/></rdf:RDF></x:xmpmeta>')
    path = _write(tmp_path, "xmp.pdf", fx.with_xmp("A page with enough words to be read from its text layer.", xmp))
    docs, _ = _one(stage.process_file(path))
    assert docs[0]["license"] == "CC-BY-4.0" and docs[0]["opt_out"] == ["tdm-reservation"]


def test_page_timeout_kills_restarts_and_counts(stage, tmp_path):
    saved = stage.cfg
    stage.cfg = dataclasses.replace(saved, page_timeout_s=0.001, max_failed_pages=0.5)  # no page is that fast
    try:
        path = _write(tmp_path, "scan.pdf", fx.scanned(SCAN_LINES))
        out = stage.process_file(path)
        docs, drops = _one(out)
        assert not docs and drops[0]["reason"] in ("too_many_failed_pages", "parse_timeout")
        assert out.counters["worker_restarts"] >= 1
    finally:
        stage.cfg = saved
    out = stage.process_file(_write(tmp_path, "ok.pdf", fx.born_digital(1)))
    assert out.table.num_rows == 1  # a fresh worker took the next document


def test_worker_crash_is_survived(stage, tmp_path):
    w = stage.worker()
    path = _write(tmp_path, "ok.pdf", fx.born_digital(1))
    assert w.run(path, {}).error is None
    os.kill(w.proc.pid, signal.SIGKILL)
    res = w.run(path, {})
    assert res.error is None and len(res.pages) == 1


def test_pdf_queue_rows(stage, tmp_path):
    good = fx.born_digital(2)
    rows = [
        {"id": "q1", "url": "https://example.org/a.pdf", "pdf_bytes": good, "warc_truncated": None},
        {"id": "q2", "url": "https://example.org/b.pdf", "pdf_bytes": good[: len(good) // 3], "warc_truncated": "length"},
        {"id": "q3", "url": "https://example.org/c.pdf", "pdf_bytes": b"", "warc_truncated": None},
    ]
    table = pa.table({
        "id": [r["id"] for r in rows], "url": [r["url"] for r in rows], "domain": ["example.org"] * 3,
        "origin_file": ["crawl.warc.gz"] * 3, "origin_offset": pa.array([0, 100, 200], pa.int64()),
        "fetched_at": pa.array([0, 0, 0], pa.timestamp("us", tz="UTC")), "content_type": ["application/pdf"] * 3,
        "http_status": pa.array([200] * 3, pa.int32()), "warc_truncated": [r["warc_truncated"] for r in rows],
        "content_length": pa.array([len(r["pdf_bytes"]) for r in rows], pa.int64()),
        "pdf_bytes": pa.array([r["pdf_bytes"] for r in rows], pa.binary()),
    })
    qdir = tmp_path / "pdfs"
    qdir.mkdir()
    pq.write_table(table, qdir / "part-00000.parquet")
    out = stage.process_file(str(qdir / "part-00000.parquet"))
    docs, drops = _one(out)
    assert out.records_in == 3
    by_id = {d["id"]: d for d in docs}
    assert by_id["q1"]["url"] == "https://example.org/a.pdf" and by_id["q1"]["origin_file"] == "crawl.warc.gz"
    assert by_id["q1"]["origin_offset"] == 0 and by_id["q1"]["pdf_pages"] == 2
    reasons = {d["id"]: d["reason"] for d in drops}
    assert reasons["q3"] == "empty_pdf"
    if "q2" in reasons:  # a truncated PDF is either repaired or dropped as truncated
        assert reasons["q2"] in ("truncated_pdf", "no_text", "too_many_failed_pages")
    else:
        assert by_id["q2"]["meta"] and dict(by_id["q2"]["meta"])["warc_truncated"] == "true"


def test_deterministic(stage, tmp_path):
    path = _write(tmp_path, "two_col.pdf", fx.born_digital(2))
    a = stage.process_file(path).table
    b = stage.process_file(path).table
    assert a.equals(b)


def test_auto_text_mode_keeps_ruled_tables_as_markdown(tmp_path):
    path = _write(tmp_path, "table.pdf", fx.ruled_table())
    plain = OcrStage().process_file(path).table.to_pylist()[0]
    auto = OcrStage(text_mode="auto").process_file(path).table.to_pylist()[0]
    assert plain["page_engines"] == ["pymupdf"] and auto["page_engines"] == ["pymupdf4llm"]
    assert plain["text"] == ("Table 1 lists the fruit we counted on Monday.\n\n| Fruit | Count | Colour |\n"
                             "|---|---|---|\n| Apple | 12 | red |\n| Pear | 7 | green |")
    rows = [ln for ln in auto["text"].splitlines() if ln.startswith("|")]
    assert any("Apple" in r and "12" in r and "red" in r for r in rows), auto["text"]


def test_plain_mode_writes_an_unruled_table_as_markdown(stage, tmp_path):
    docs, _ = _one(stage.process_file(_write(tmp_path, "rain.pdf", fx.column_table())))
    blocks = docs[0]["text"].split("\n\n")
    assert blocks[0].startswith("Rainfall measured") and blocks[2].startswith("The wettest station")
    rows = blocks[1].splitlines()
    assert rows[1] == "|---|---|---|"
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows[:1] + rows[2:]]
    assert cells == [[c.replace("|", "\\|") for c in row] for row in fx.TABLE_CELLS]


def test_scanned_table_is_ocred_into_the_same_markdown_table(stage, tmp_path):
    docs, _ = _one(stage.process_file(_write(tmp_path, "rain_scan.pdf", fx.as_scan(fx.column_table()))))
    assert docs[0]["page_engines"] == ["rapidocr-cpu"]  # OCR boxes go through the same layout code
    blocks = docs[0]["text"].split("\n\n")
    assert len(blocks) == 3 and blocks[2].startswith("The wettest station")
    rows = blocks[1].splitlines()
    assert rows[1] == "|---|---|---|"
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows[:1] + rows[2:]]
    assert [c[:2] for c in cells] == [row[:2] for row in fx.TABLE_CELLS]
    assert [c[2] for c in cells[2:]] == ["calm", "SW"] and len(cells[1]) == 3


def test_columns_of_prose_are_not_taken_for_a_table(stage, tmp_path):
    for n in (2, 3):
        docs, _ = _one(stage.process_file(_write(tmp_path, f"prose{n}.pdf", fx.prose_columns(n))))
        text = docs[0]["text"]
        assert "|" not in text and text.count("\n\n") == n - 1, text  # one paragraph per column
        assert text.startswith("It is a truth universally")
