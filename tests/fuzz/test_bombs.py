"""Bombs stay within the configured memory and time per document, and are dropped with a reason.

The bombs are generated at run time (tests/fuzz/bombs.py) and run in subprocesses, each with
its own peak-RSS accounting (VmHWM, reset per file): a gzip-bomb WARC member, gzip and brotli
Content-Encoding bombs (1 GiB decoded each), a 100 MB HTML page, a 10 GB Content-Length with
a short body, and two PDF bombs through the isolated OCR worker (the JBIG2 bomb of
pdfjs_selection and a generated FlateDecode image of 40 000 x 40 000 pixels).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.fuzz.bombs import flate_bomb_pdf
from tests.support.paths import REPO

MIB_LIMIT = 64                  # ingest@1's default max_record_mb / max_decoded_mb
PEAK_FACTOR = 3                 # a record may hold its bytes about twice (read buffer, body) plus slack
SECONDS_PER_DOC = 15            # per bomb file on a busy 2-core machine (measured 0.02-1.5 s)
AS_LIMIT_MB = 6144              # RLIMIT_AS of the WARC probe: a bomb that got through would fail it
PDF = {"mem": 1024, "page": 8.0, "doc": 25.0}


def _probe(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": REPO}
    return subprocess.Popen([sys.executable, "-m", "tests.fuzz.bombs", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def test_bombs_stay_within_limits(tmp_path, shared_data):
    jbig2 = os.path.join(shared_data, "pdf", "pdfjs_selection", "pdfs", "bomb_giant.pdf")
    flate = str(tmp_path / "flate_bomb.pdf")
    flate_bomb_pdf(flate)
    # the two probes run side by side: each measures only itself
    warc = _probe(["--out", str(tmp_path / "warc"), "--as-limit-mb", str(AS_LIMIT_MB)])
    pdf = _probe(["--out", str(tmp_path / "pdf"), "--skip-warc", "--pdf", jbig2, "--pdf", flate,
                  "--pdf-mem-limit-mb", str(PDF["mem"]), "--pdf-page-timeout-s", str(PDF["page"]),
                  "--pdf-doc-timeout-s", str(PDF["doc"])])
    warc_out, _ = warc.communicate(timeout=300)
    pdf_out, _ = pdf.communicate(timeout=300)
    assert warc.returncode == 0 and pdf.returncode == 0
    report = {**json.loads(warc_out), **json.loads(pdf_out)}

    for name, r in report["warc"].items():
        limit = r["params"].get("max_record_mb", MIB_LIMIT)
        assert r["records_in"] == len(r["docs"]) + len(r["reasons"]), name  # nothing lost
        if r["expect"].startswith("document:"):
            assert r["truncated"] == [r["expect"].split(":")[1]], name  # kept, flagged
        else:
            assert r["reasons"] == [r["expect"]], (name, r["reasons"], r["details"])
            assert r["docs"] == ["http://example.org/after"], name  # the file goes on after the bomb
        assert r["peak_above_base_mb"] <= PEAK_FACTOR * limit, (name, r["peak_above_base_mb"])
        assert r["seconds"] <= SECONDS_PER_DOC, (name, r["seconds"])

    for name, r in report["readers"].items():  # read_documents@1's max_record_mb (64)
        assert r["reasons"] == [r["expect"]] and r["docs"] == r["expect_docs"], (name, r)
        assert r["records_in"] == len(r["docs"]) + len(r["reasons"]), name
        assert r["peak_above_base_mb"] <= PEAK_FACTOR * MIB_LIMIT, (name, r["peak_above_base_mb"])
        assert r["seconds"] <= SECONDS_PER_DOC, (name, r["seconds"])

    for name, r in report["pdf"].items():
        assert r["records_in"] == r["docs"] + len(r["reasons"]) == 1, name  # a document or a reason
        assert r["worker_peak_rss_mb"] is None or r["worker_peak_rss_mb"] <= PDF["mem"], (name, r)
        assert r["seconds"] <= PDF["doc"] + 5, (name, r["seconds"])
    # the page's render either fails inside the worker's limits (a failed page) or, where it
    # fits, gives a blank image with nothing to read: dropped either way, never a document
    assert report["pdf"]["flate_bomb.pdf"]["reasons"] in (["too_many_failed_pages"], ["no_text"])


def test_bombs_through_the_command_line_are_counted_drops(tmp_path):
    """`gristmill ingest` with the limits as options, on the runner: the bombs are counted drop
    reasons in stats.json, the pages after them documents, in = out + dropped."""
    from gristmill.pipeline.cli import main
    from tests.fuzz.bombs import PAGE, _deflate_zeros, brotli_zeros, http_message, warc_record

    decoded = 1 << 28  # 256 MiB each, against limits of 8 MB
    data = b"".join([
        warc_record("http://example.org/gz", http_message(_deflate_zeros(decoded, 31), "Content-Encoding: gzip")),
        warc_record("http://example.org/br", http_message(brotli_zeros(decoded), "Content-Encoding: br"), 2),
        warc_record("http://example.org/big", http_message(b"<p>x</p>" * (3 << 20)), 3),  # 24 MB page
        warc_record("http://example.org/ok", http_message(PAGE), 4),
    ])
    warc = tmp_path / "bombs.warc"
    warc.write_bytes(data)
    out = tmp_path / "out"
    assert main(["ingest", str(warc), "--out", str(out), "--workers", "1", "--quiet", "--engine", "resiliparse",
                 "--max-decoded-mb", "8", "--max-record-mb", "32", "--max-html-mb", "8"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["docs_in"] == 4 and stats["docs_out"] == 1 and stats["docs_dropped"] == 3
    assert stats["dropped_by_reason"] == {"decoded_too_large": 2, "page_too_large": 1}

