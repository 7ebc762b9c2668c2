"""The cheaper paths of issue 15 item 4 give the answers of the paths they replace: record
bodies read no bigger than their declared length, the license-link scan, and a
`gristmill ingest --workers 1` that never imports pandas."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from gristmill.pipeline.ingest import licenses
from gristmill.pipeline.ingest.records import ReadLimits, Record, _fill_body
from tests.support.paths import REPO, SHARED_DATA

WARC = os.path.join(SHARED_DATA, "warc", "resiliparse", "tests", "data", "warcfile.warc.gz")


class _Reader:
    """A record's payload reader that notes what it was asked for."""

    def __init__(self, data: bytes):
        self.data, self.asked = data, []

    def read(self, size: int = -1) -> bytes:
        self.asked.append(size)
        return self.data if size < 0 else self.data[:size]


class _NonHttpRecord:
    """What records._fill_body reads of a FastWARC record (a resource record: no HTTP)."""

    is_http = False

    def __init__(self, data: bytes, declared: int):
        self.reader, self.content_length = _Reader(data), declared
        self.headers = {"Content-Type": "text/html"}


def test_a_body_is_read_no_bigger_than_its_declared_length():
    """FastWARC's read(n) allocates n bytes first: asking for max_record_mb on every record
    mapped 64 MiB per page (the reading regression); the declared length bounds it instead."""
    limits = ReadLimits(max_record_bytes=1 << 20)
    page = b"<html><body><p>a page</p></body></html>"
    r, rec = _NonHttpRecord(page, len(page)), Record(0, "resource")
    _fill_body(r, rec, limits)
    assert r.reader.asked == [len(page) + 1] and rec.body == page and rec.error is None
    # a declared length past the limit: still no more than the limit + 1 is asked for
    big = b"x" * ((1 << 20) + 10)
    r, rec = _NonHttpRecord(big, 10 * 10**9), Record(0, "resource")
    _fill_body(r, rec, limits)
    assert r.reader.asked == [(1 << 20) + 1] and rec.body is None and rec.error == "record_too_large"
    # a body shorter than declared (the file ends) is kept and flagged, as before
    r, rec = _NonHttpRecord(page, 10 * 10**9), Record(0, "resource")
    _fill_body(r, rec, limits)
    assert rec.body == page and rec.truncated == "file_truncated"


_OLD_LINK = re.compile(r"""\bhref\s*=\s*["']?([^"'\s>]*(?:licenses|publicdomain)/[^"'\s>]*)""", re.I)


def _detect_license_before(html: str, url: str | None = None):
    """licenses.detect_license as it was (`\\bhref`, the page lowered whole): the reference."""
    from urllib.parse import urljoin

    if "creativecommons.org" not in html.lower() and not (url and "creativecommons.org" in url):
        return None, None
    low = html.lower()
    for pattern in (licenses._REL_LICENSE, licenses._META_RIGHTS):
        for m in pattern.finditer(html):
            for href in licenses._HREF.findall(m.group(0)):
                lic = licenses.spdx_from_url(urljoin(url or "", href))
                if lic:
                    return lic, m.group(0)[:300]
    fallback = None
    for m in _OLD_LINK.finditer(html):
        lic = licenses.spdx_from_url(urljoin(url or "", m.group(1)))
        if not lic:
            continue
        before = low[max(0, m.start() - 300):m.start()]
        snippet = html[max(0, m.start() - 150):m.end() + 60][:300]
        if licenses._PAGE_STATEMENT.search(before):
            return lic, snippet
        if not licenses._is_credit(before):
            fallback = (lic, snippet)
    return fallback or (None, None)


def test_license_scan_finds_what_it_found_before():
    import random

    link = "<a href='https://creativecommons.org/licenses/by-sa/4.0/'>"
    pieces = [link, "HREF=//CreativeCommons.ORG/Licenses/BY/3.0", "xhref=", "_href=", "a.href = ",
              "href=\"/publicdomain/zero/1.0/\"", "İ", "Σ ", "ΣA", "ſ", "\u212a", "é", " ", "<p>", ">", "'",
              "<figcaption>", "</figcaption>", "<span class=attribution>", "</span>", "<figure>", "</figure>",
              "content on this site is licensed under ", "Otherwise noted, ", "word " * 40,
              "<link rel=license href=//creativecommons.org/licenses/by-nc/2.0>"]
    rnd = random.Random(15)
    pages = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 40))) for _ in range(3000)]
    found = 0
    for page in pages:
        for url in (None, "https://creativecommons.org/about", "http://example.org/a/"):
            got = licenses.detect_license(page, url)
            assert got == _detect_license_before(page, url), (page, url)
            found += got[0] is not None
        assert [(m.span(), m.group(1)) for m in licenses._LICENSE_LINK.finditer(page)] == \
            [(m.span(), m.group(1)) for m in _OLD_LINK.finditer(page)], page
    assert found > 1000  # the pages do hold licenses, in every position the rules look at


@pytest.mark.skipif(not os.path.exists(WARC), reason="../shared/data/warc is absent")
def test_ingest_in_process_never_imports_pandas(tmp_path):
    """pyarrow imports pandas on its first array from a Python list, to look for pandas
    objects (0.2-0.4 s); an ingest-only run in process skips that, and pyarrow's pandas
    handling is as before afterwards (NaN in a pandas Series becomes null)."""
    code = ("import sys; from gristmill.pipeline.cli import main; "
            f"assert main(['ingest', {WARC!r}, '--out', {str(tmp_path / 'out')!r}, '--workers', '1', '--quiet']) == 0; "
            "seen = 'pandas' in sys.modules; "
            "import pandas as pd, pyarrow as pa; "
            "print(seen, pa.array(pd.Series([1.0, float('nan')])).null_count)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["False", "1"]
    assert os.path.exists(tmp_path / "out" / "part-00000.parquet")


def test_runs_with_pandas_stages_probe_as_before():
    """Without the stage's say-so (`uses_pandas`, True by default) the probe runs as pyarrow
    does it: pandas is imported on the first array."""
    code = ("import sys, pyarrow as pa; from gristmill.pipeline.inline import without_pandas_probe; "
            "exec('with without_pandas_probe(False):\\n    pa.array([1])'); print('pandas' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.stdout.split() == ["True"], r.stderr[-2000:]
