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

    for name, r in report["pdf"].items():
        assert r["records_in"] == r["docs"] + len(r["reasons"]) == 1, name  # a document or a reason
        assert r["worker_peak_rss_mb"] is None or r["worker_peak_rss_mb"] <= PDF["mem"], (name, r)
        assert r["seconds"] <= PDF["doc"] + 5, (name, r["seconds"])
    assert report["pdf"]["flate_bomb.pdf"]["reasons"] == ["too_many_failed_pages"]
