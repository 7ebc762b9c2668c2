"""ingest@1 on hand-written records: every reason code, every signal, determinism."""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from gristmill.pipeline import registry
from gristmill.pipeline.ingest import charset, licenses, optout
from gristmill.pipeline.ingest.langid import LanguageIdentifier, model_path
from gristmill.pipeline.ingest.payload import decode_payload
from gristmill.pipeline.ingest.pdf_queue import PDF_SCHEMA
from gristmill.pipeline.ingest.records import iter_records, sniff
from gristmill.pipeline.ingest.robots import RobotsRules
from gristmill.pipeline.ingest.stage import Ingest
from tests.support.ingest_helpers import build_warc, html_page, response  # noqa: E402


@pytest.fixture(scope="module")
def warc(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("warc") / "test.warc.gz")
    build_warc(path)
    return path


@pytest.fixture(scope="module")
def ingested(warc):
    out, pdfs = Ingest(engine="resiliparse").read_file(warc)
    return pdfs, out


def by_url(table):
    return {r["url"]: r for r in table.to_pylist()}


def test_registered():
    assert registry.resolve("ingest@1") is Ingest
    assert registry.resolve("read_any@1").kind == "source"


def test_every_record_is_counted_with_a_reason(ingested, warc):
    _, out = ingested
    assert out.records_in == 15 == out.table.num_rows + out.drops.num_rows
    reasons = {r["url"]: r["reason"] for r in out.drops.to_pylist()}
    assert reasons["https://example.org/missing"] == "http_status"
    assert reasons["https://example.org/logo.png"] == "unsupported_content_type"
    assert reasons["https://example.org/paper.pdf"] == "pdf_queued"
    assert reasons["https://example.org/robots.txt"] == "robots_txt"
    assert reasons["https://example.org/empty"] == "no_text"
    counts = {}
    for r in out.drops.column("reason").to_pylist():
        counts[r] = counts.get(r, 0) + 1
    for code in ("record_warcinfo", "record_request", "record_revisit", "record_metadata"):
        assert counts.get(code) == 1, code
    assert set(out.drops.column("stage").to_pylist()) == {"ingest@1"}


def test_documents_keep_their_origin(ingested, warc):
    _, out = ingested
    docs = by_url(out.table)
    assert set(docs) == {"https://example.org/licensed", "https://example.org/cc0", "https://other.example.net/pdm",
                         "https://example.org/private/page", "https://example.org/notes.txt", "https://example.ru/"}
    d = docs["https://example.org/licensed"]
    assert d["domain"] == "example.org" and d["origin_file"] == warc and d["origin_offset"] > 0
    assert d["http_status"] == 200 and d["content_type"] == "text/html"
    assert d["warc_record_id"].startswith("<urn:uuid:")
    assert d["fetched_at"].isoformat().startswith("2024-05-18T01:58:10")
    assert "bronze age" in d["text"] and "<p>" not in d["text"]
    assert d["language"] == "en" and d["language_score"] > 0.5
    assert docs["https://example.org/notes.txt"]["text"] == "Plain text notes, in UTF-8: café."
    assert "Москва" in docs["https://example.ru/"]["text"] and docs["https://example.ru/"]["language"] == "ru"


def test_license_and_opt_out_signals(ingested):
    _, out = ingested
    docs = by_url(out.table)
    d = docs["https://example.org/licensed"]
    assert d["license"] == "CC-BY-SA-4.0" and 'rel="license"' in d["license_evidence"]
    assert d["opt_out"] == ["noai", "noimageai", "robots:GPTBot", "tdm-reservation"]
    assert docs["https://example.org/cc0"]["license"] == "CC0-1.0"
    assert docs["https://other.example.net/pdm"]["license"] == "CC-PDM-1.0"
    assert docs["https://example.org/private/page"]["opt_out"] == ["robots:*"]
    assert docs["https://other.example.net/pdm"]["opt_out"] == []


def test_pdf_queue_format(ingested, tmp_path):
    pdfs, _ = ingested
    assert pdfs.schema == PDF_SCHEMA and pdfs.num_rows == 1
    row = pdfs.to_pylist()[0]
    assert row["pdf_bytes"].startswith(b"%PDF-") and row["content_length"] == len(row["pdf_bytes"])
    assert row["url"] == "https://example.org/paper.pdf" and row["warc_truncated"] is None


def test_deterministic(warc):
    a = Ingest(engine="resiliparse").process_file(warc)
    b = Ingest(engine="resiliparse").process_file(warc)
    assert a.table.equals(b.table) and a.drops.equals(b.drops)


def test_document_text_is_nfc_whatever_form_the_page_uses(tmp_path):
    import unicodedata

    from warcio.warcwriter import WARCWriter

    decomposed = unicodedata.normalize("NFD", "Die Gurtlänge über der Schulter prüfen, bevor das Kind fährt. ")
    assert decomposed != unicodedata.normalize("NFC", decomposed)
    path = str(tmp_path / "nfd.warc.gz")
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=True)
        response(w, "https://site.example/a", html_page(body=f"<p>{decomposed * 8}</p>"))
        response(w, "https://site.example/b.txt", (decomposed * 8).encode("utf-8"), content_type="text/plain")
    for engine in ("blocks", "resiliparse"):
        texts = Ingest(engine=engine).process_file(path).table.column("text").to_pylist()
        assert len(texts) == 2 and all("Gurtlänge über" in t for t in texts)
        assert all(unicodedata.is_normalized("NFC", t) for t in texts)


def test_robots_txt_from_a_separate_warc(tmp_path):
    from warcio.warcwriter import WARCWriter

    robots, pages = str(tmp_path / "robots.warc.gz"), str(tmp_path / "pages.warc.gz")
    with open(robots, "wb") as f:
        response(WARCWriter(f, gzip=True), "https://site.example/robots.txt",
                 b"User-agent: CCBot\nUser-agent: ClaudeBot\nDisallow: /\n", content_type="text/plain")
    with open(pages, "wb") as f:
        response(WARCWriter(f, gzip=True), "https://site.example/a", html_page())
    out = Ingest(engine="resiliparse", robots=[robots]).process_file(pages)
    assert out.table.column("opt_out").to_pylist() == [["robots:CCBot", "robots:ClaudeBot"]]


def test_robots_parser_rules():
    r = RobotsRules()
    r.add("https://x.org/robots.txt", "User-agent: Google-Extended\nDisallow: /*.html$\n\nUser-agent: *\nAllow: /\n")
    assert r.signals("https://x.org/a/b.html") == ["robots:Google-Extended"]
    assert r.signals("https://x.org/a/b.htm") == []
    r.add("https://y.org/robots.txt", "", status=404)
    assert r.signals("https://y.org/anything") == []


def test_license_ids():
    assert licenses.spdx_from_url("https://creativecommons.org/licenses/by-nc-nd/3.0/de/") == "CC-BY-NC-ND-3.0"
    assert licenses.spdx_from_url("//creativecommons.org/licenses/by/4.0") == "CC-BY-4.0"
    assert licenses.detect_license("<p>no license here</p>") == (None, None)
    lic, ev = licenses.detect_license('<link rel="license" href="https://creativecommons.org/licenses/by-nc/2.0/">')
    assert lic == "CC-BY-NC-2.0" and "rel" in ev
    # a credit for an embedded photo licenses the photo, not the page
    credit = ('<figure><img src="a.jpg"><figcaption>"Lake" by Ann is licensed under '
              '<a href="https://creativecommons.org/licenses/by/2.0/">CC BY 2.0</a></figcaption></figure>')
    assert licenses.detect_license("<p>Our story</p>" + credit) == (None, None)
    footer = '<p>Content on this site is licensed under <a href="/licenses/by/4.0/">CC BY 4.0</a></p>'
    assert licenses.detect_license(credit + footer, "https://creativecommons.org/about")[0] == "CC-BY-4.0"
    assert licenses.detect_license(credit + footer, "https://example.com/about") == (None, None)


def test_opt_out_parsing():
    assert optout.header_signals({"x-robots-tag": "GPTBot: noai, noindex"}) == {"noai"}
    assert optout.header_signals({"tdm-reservation": "0"}) == set()
    assert optout.meta_signals('<meta content="noimageai" name="robots">') == {"noimageai"}
    assert optout.meta_signals('<meta name="description" content="noai is a word">') == set()


def test_charset_decoding():
    assert charset.decode("中文网页".encode("gbk"), "gb2312")[0] == "中文网页"
    assert charset.decode("Größe".encode("latin-1"), "iso-8859-1")[0] == "Größe"
    assert charset.decode('<meta charset="euc-jp">日本語'.encode("euc_jp"))[0].endswith("日本語")
    text, codec = charset.decode(("Привет, как дела? " * 20).encode("cp1251"))
    assert text.startswith("Привет") and codec == "cp1251"


def test_payload_decoding():
    import gzip as gz

    assert decode_payload(b"5\r\nhello\r\n0\r\n\r\n", "chunked", None) == (b"hello", None)
    assert decode_payload(gz.compress(b"<html>"), None, "gzip") == (b"<html>", None)
    raw, problem = decode_payload(b"\x1f\x8bnot gzip", None, "gzip")
    assert raw == b"\x1f\x8bnot gzip" and problem


def test_language_id_predicts_one_string():
    assert os.path.basename(model_path()) == "lid.176.ftz"
    langs, scores = LanguageIdentifier().predict(["Der schnelle braune Fuchs springt über den faulen Hund."])
    assert langs == ["de"] and 0.5 < float(scores[0]) <= 1.0


def test_not_an_archive_is_one_counted_record(tmp_path):
    p = tmp_path / "notes.warc"
    p.write_bytes(b"just some text, not a WARC\n")
    assert sniff(p.read_bytes()) == "unknown"
    out = Ingest(engine="resiliparse").process_file(str(p))
    assert out.records_in == 1 and out.drops.column("reason").to_pylist() == ["not_an_archive"]
    assert list(iter_records(str(p)))[0].error == "not_an_archive"


def test_cli_writes_documents_pdfs_and_stats(warc, tmp_path):
    import json

    from gristmill.pipeline.cli import main

    out = tmp_path / "out"
    assert main(["ingest", warc, "--out", str(out), "--workers", "1", "--quiet", "--engine", "resiliparse"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["docs_in"] == 15 and stats["docs_out"] == 6 and stats["docs_dropped"] == 9
    assert stats["dropped_by_reason"]["pdf_queued"] == 1
    pdfs = pq.read_table(out / "pdfs" / "part-00000.parquet")
    assert pdfs.schema.equals(PDF_SCHEMA) and pdfs.num_rows == 1


def test_read_any_dispatches_by_file_type(warc, tmp_path):
    import gzip
    import json

    jsonl = tmp_path / "docs.jsonl.gz"
    with gzip.open(jsonl, "wt") as f:
        f.write(json.dumps({"id": "a", "text": "hello world"}) + "\n")
    stage = registry.resolve("read_any@1")(ingest={"engine": "resiliparse"})
    web = stage.process_file(warc)
    assert web.records_in == 15 and set(web.table.column("source").to_pylist()) == {"web"}
    docs = stage.process_file(str(jsonl))
    assert docs.records_in == 1 and docs.table.column("id").to_pylist() == ["a"]
