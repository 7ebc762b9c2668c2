"""The fuzz targets: each entry point that parses untrusted bytes, called as the pipeline
calls it, with the invariants every input must keep.

A *finding* is an input for which the entry point raises, crashes its process, runs past
the per-input time limit, or breaks an invariant: every record read is either a document or
a drop-log row with a reason (in = out + dropped), ids are unique, a kept document has text.
A target returns a short *behaviour* key (drop reasons, record kinds) that the engine uses to
keep inputs that reached something new.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fuzz import seeds as seed_files

_TMP = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


class Violation(AssertionError):
    """An invariant broken by an input (the message's first word is its kind)."""


def _tmp_path(suffix: str) -> str:
    return os.path.join(_TMP, f"gristmill-fuzz-{os.getpid()}{suffix}")


def check_output(out, expect_records: int | None = None, unique_ids: bool = True) -> str:
    """The invariants of a source stage's output; returns the behaviour key. Ids must be
    unique where gristmill derives them (file + offset); a user's JSONL may repeat its own."""
    docs, drops = out.table, out.drops
    if out.records_in is None:
        raise Violation("records_in_missing")
    if out.records_in != docs.num_rows + drops.num_rows:
        raise Violation(f"in_ne_out_plus_dropped: {out.records_in} != {docs.num_rows} + {drops.num_rows}")
    if expect_records is not None and out.records_in != expect_records:
        raise Violation(f"record_count: {out.records_in} records, expected {expect_records}")
    reasons = drops.column("reason").to_pylist() if drops.num_rows else []
    if any(not r for r in reasons):
        raise Violation("drop_without_reason")
    ids = (docs.column("id").to_pylist() if docs.num_rows else []) + \
        (drops.column("id").to_pylist() if drops.num_rows else [])
    if None in ids:
        raise Violation("null_id")
    if unique_ids and len(set(ids)) != len(ids):
        raise Violation("duplicate_id")
    if docs.num_rows and any(not (t or "").strip() for t in docs.column("text").to_pylist()):
        raise Violation("empty_text_kept")
    return ",".join(sorted(set(reasons))) + f"|docs={min(docs.num_rows, 3)}"


@dataclass
class Target:
    name: str
    help: str
    seeds: Callable[[], list[bytes]]
    run: Callable[[bytes], str]      # raises on a finding; returns the behaviour key
    setup: Callable[[], None] = lambda: None
    fork: bool = True                # run each input in a forked child (crash and hang safe)
    max_size: int = 1 << 20
    state: dict = field(default_factory=dict)


# -- ingest (WARC / ARC / WET, HTTP headers and payload encodings) ----------------------
_INGEST = {}


def _ingest_setup() -> None:
    from gristmill.pipeline.ingest.stage import Ingest

    stage = Ingest()
    stage.ensure_setup()  # language-ID model and extractor load once, before any fork
    _INGEST["stage"] = stage


def _ingest_bytes(data: bytes, suffix: str = ".warc", expect: int | None = None) -> str:
    path = _tmp_path(suffix)
    with open(path, "wb") as f:
        f.write(data)
    try:
        out, _ = _INGEST["stage"].read_file(path)
    finally:
        os.unlink(path)
    return check_output(out, expect)


def run_warc(data: bytes) -> str:
    return _ingest_bytes(data)


def wrap_http(message: bytes, url: bytes = b"http://example.org/page") -> bytes:
    """One WARC response record around an HTTP message, its Content-Length right."""
    head = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
            b"WARC-Date: 2024-05-18T01:58:10Z\r\nWARC-Target-URI: " + url + b"\r\n"
            b"Content-Type: application/http; msgtype=response\r\nContent-Length: %d\r\n\r\n" % len(message))
    return head + message + b"\r\n\r\n"


def run_http(data: bytes) -> str:
    """An HTTP response (status line, headers, body) in a well-formed WARC record: one record in."""
    return _ingest_bytes(wrap_http(data), expect=1)


# -- HTML extraction ------------------------------------------------------------------------
def run_html(data: bytes) -> str:
    from gristmill.pipeline.ingest import charset, licenses, optout

    html, codec = charset.decode(data, None, html=True)
    if not isinstance(html, str):
        raise Violation("decode_not_str")
    lic, _ = licenses.detect_license(html, "http://example.org/page")
    signals = optout.meta_signals(html)
    text = _INGEST["stage"].extract(html)
    if not isinstance(text, str):
        raise Violation("extract_not_str")
    return f"{codec}|{lic}|{sorted(signals)}|{bool(text.strip())}"


# -- robots.txt -------------------------------------------------------------------------------
_ROBOT_URLS = ("https://example.org/", "https://example.org/private/x", "https://example.org/search?q=1",
               "https://example.org/a.php", "http://example.org/%E2%82%AC/")


def _robots_setup() -> None:
    import protego  # noqa: F401 - imported before the forks


def run_robots(data: bytes) -> str:
    from gristmill.pipeline.ingest.robots import RobotsRules

    rules = RobotsRules()
    rules.add("https://example.org/robots.txt", data, 200)
    out = set()
    for url in _ROBOT_URLS:
        sig = rules.signals(url)
        if not all(isinstance(s, str) and s.startswith("robots:") for s in sig):
            raise Violation("bad_signal")
        out.update(sig)
    return ",".join(sorted(out))


# -- PDFs through the isolated worker ------------------------------------------------------
_OCR = {}


def _ocr_setup() -> None:
    from gristmill.ocr.stage import OcrStage

    # text layers only (OCR of a fuzzed scan costs seconds and tests the OCR model, not the parser)
    stage = OcrStage(ocr="none", page_timeout_s=5.0, doc_timeout_s=20.0, mem_limit_mb=1024)
    stage.ensure_setup()
    _OCR["stage"] = stage


def run_pdf(data: bytes) -> str:
    path = _tmp_path(".pdf")
    with open(path, "wb") as f:
        f.write(data)
    try:
        out = _OCR["stage"].process_file(path)
    finally:
        os.unlink(path)
    return check_output(out, expect_records=1)


# -- JSONL / Parquet input ---------------------------------------------------------------------
def _read_documents(data: bytes, suffix: str) -> str:
    from gristmill.pipeline.ingest.readers import ReadDocuments

    path = _tmp_path(suffix)
    with open(path, "wb") as f:
        f.write(data)
    try:
        out = ReadDocuments().process_file(path)
    finally:
        os.unlink(path)
    return check_output(out, unique_ids=False)


def run_jsonl(data: bytes) -> str:
    return _read_documents(data, ".jsonl.gz" if data[:2] == b"\x1f\x8b" else ".jsonl")


def run_parquet(data: bytes) -> str:
    return _read_documents(data, ".parquet")


def _warm_readers() -> None:
    import pyarrow.parquet  # noqa: F401 - imported before the forks
    from gristmill.pipeline.ingest import readers  # noqa: F401


TARGETS = {t.name: t for t in (
    Target("warc", "WARC/ARC/WET files through ingest@1 (records, HTTP, payloads, extraction)",
           seed_files.warc_seeds, run_warc, _ingest_setup),
    Target("http", "HTTP status line, headers, chunked/gzip/deflate/br bodies, in one WARC record",
           seed_files.http_seeds, run_http, _ingest_setup),
    Target("html", "HTML bytes: charset detection, licence and opt-out tags, main-text extraction",
           seed_files.html_seeds, run_html, _ingest_setup),
    Target("robots", "robots.txt bodies: Protego rules for the AI agents",
           seed_files.robots_seeds, run_robots, _robots_setup),
    Target("pdf", "PDF files through ocr@1's isolated worker (text layers)",
           seed_files.pdf_seeds, run_pdf, _ocr_setup, fork=False),
    Target("jsonl", "JSONL (plain and gzip) through read_documents@1",
           seed_files.jsonl_seeds, run_jsonl, _warm_readers),
    Target("parquet", "Parquet files through read_documents@1",
           seed_files.parquet_seeds, run_parquet, _warm_readers),
)}
