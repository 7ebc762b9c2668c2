"""ingest@1 on every file of ../shared/data/warc: real crawls, old formats, broken files."""

from __future__ import annotations

import os

import pytest

from gristmill.pipeline.ingest.stage import Ingest

WARC_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "warc")
if not os.path.isdir(WARC_DIR):
    WARC_DIR = os.path.join("..", "shared", "data", "warc")
NOT_ARCHIVES = ("LICENSE", "ORIGIN.txt", "README.md", "MANIFEST.json")

pytestmark = pytest.mark.skipif(not os.path.isdir(WARC_DIR), reason="../shared/data/warc (real test data) is absent")


def all_files() -> list[str]:
    out = []
    for root, _, files in os.walk(WARC_DIR):
        for f in files:
            if f not in NOT_ARCHIVES and not f.endswith(".paths.gz"):
                out.append(os.path.join(root, f))
    return sorted(out)


@pytest.fixture(scope="module")
def results():
    stage = Ingest(engine="resiliparse")  # reading is under test here; resiliparse keeps it fast
    out = {}
    for path in all_files():
        out[os.path.relpath(path, WARC_DIR)] = stage.read_file(path)
    return out


def test_every_file_balances_record_by_record(results):
    assert len(results) >= 45
    total = 0
    for name, (res, _) in results.items():
        assert res.records_in >= 1, name
        assert res.records_in == res.table.num_rows + res.drops.num_rows, name
        total += res.records_in
    assert total > 2000


def test_broken_files_fail_with_counted_reasons(results):
    def reasons(name):
        return set(results[name][0].drops.column("reason").to_pylist())

    assert "read_error" in reasons("aut/src/test/resources/arc/badexample.arc.gz")
    # the physically truncated gzip record is kept (truncated HTML is still text), flagged
    clipped = results["resiliparse/tests/data/clipped.warc.gz"][0].table
    assert clipped.num_rows == 1 and clipped.column("warc_truncated").to_pylist() == ["file_truncated"]
    # warcio gives up on these; FastWARC reads them whole
    for name in ("warcio/test/data/example-bad-non-chunked.warc.gz",
                 "webarchive_commons/src/test/resources/org/archive/resource/html/link-extraction-test.warc"):
        assert results[name][0].table.num_rows >= 1, name


def test_charsets_come_out_as_unicode(results):
    docs = results["resiliparse/tests/data/warcfile.warc.gz"][0].table.to_pylist()
    by_charset = {}
    for d in docs:
        by_charset.setdefault(dict(d["meta"])["charset"], []).append(d)
    assert {"gb18030", "cp1251", "cp1252"} <= set(by_charset)
    for d in docs:
        assert "\ufffd" not in d["text"], d["url"]
    # gb2312/gbk pages are Chinese (one is an English page of a Chinese firm); 1251 ones Russian
    assert sum(d["language"] == "zh" for d in by_charset["gb18030"]) >= 5
    assert all(d["language"] == "ru" for d in by_charset["cp1251"])
    assert all(d["language"] == "de" for d in by_charset["cp1252"])
    jp = results["resiliparse/tests/data/clueweb-quirk.warc.gz"][0].table
    assert jp.num_rows >= 25 and set(jp.column("language").to_pylist()) == {"ja"}
    assert not any("\ufffd" in t for t in jp.column("text").to_pylist())


def test_lz4_and_gzip_copies_agree(results):
    gz = results["resiliparse/tests/data/warcfile.warc.gz"][0].table
    lz4 = results["resiliparse/tests/data/warcfile.warc.lz4"][0].table
    assert gz.column("text").equals(lz4.column("text"))


def test_pdfs_are_queued_not_dropped(results):
    res, pdfs = results["aut/src/test/resources/warc/example.pdf.warc.gz"]
    assert pdfs.num_rows == 2
    assert all(b.startswith(b"%PDF") for b in pdfs.column("pdf_bytes").to_pylist())
    assert res.counters["pdfs_queued"] == 2


def test_skipped_record_types_are_counted(results):
    reasons = {}
    for res, _ in results.values():
        for r in res.drops.column("reason").to_pylist():
            reasons[r] = reasons.get(r, 0) + 1
    for code in ("record_request", "record_metadata", "record_revisit", "record_dns", "record_warcinfo",
                 "robots_txt", "http_status", "unsupported_content_type"):
        assert reasons.get(code, 0) > 0, code


def test_truncated_flag_and_formats(results):
    webis = results["webis_cc2015/decompressed/CC-MAIN-20150226074105-00336-ip-10-28-5-156.ec2.internal.warc"][0]
    assert "length" in webis.table.column("warc_truncated").to_pylist()
    arc = results["aut/src/test/resources/arc/example.arc.gz"][0]
    assert arc.table.num_rows > 50 and arc.records_in == 300
    wet = results["cc_whirlwind/whirlwind.warc.wet.gz"][0].table
    assert wet.num_rows == 1 and wet.column("url").to_pylist() == ["https://an.wikipedia.org/wiki/Escopete"]
    robots = results["aut/src/test/resources/warc/example.warc.gz"][0]
    assert robots.counters["robots_txt_sites"] > 0


def test_license_of_real_pages(results):
    docs = results["dolma/tests/data/warc/sample-0001.warc.gz"][0].table.to_pylist()
    cc = [d for d in docs if d["domain"] == "creativecommons.org"]
    assert len(cc) == 4  # their footers: "content on this site is licensed under ... CC BY 4.0"
    assert all(d["license"] == "CC-BY-4.0" and "content on this site" in d["license_evidence"] for d in cc)
    wiki = results["ukwa_test_suite/wikipedia-sopa-blackout-2012/wikipedia-post-blackout/main-page.warc.gz"][0].table
    assert "CC-BY-SA-3.0" in wiki.column("license").to_pylist()
