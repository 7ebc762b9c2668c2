"""Transient read errors over HTTP: a real server on loopback serves a real Common Crawl WARC
(../shared/data/warc/cc_whirlwind) and injects faults on the requests it is told to (a test
double for a flaky network: HTTP 503, a response cut short mid-body). A file that met them is
read again; if they outlast the tries, the next run of the same command reads it again and
ends byte-identical to a run that never met a fault. A missing file (404) is read once."""

from __future__ import annotations

import errno
import gzip
import filecmp
import json
import os
import shutil
import threading
from collections import Counter
from functools import partial
from http.server import ThreadingHTTPServer

import pytest

from gristmill.pipeline import transient
from gristmill.pipeline.transient import is_transient
from tests.ingest.test_ingest_http import RangeHandler, _Limited

WARC = os.path.join("..", "shared", "data", "warc", "cc_whirlwind", "whirlwind.warc.gz")
PDF = os.path.join("..", "shared", "data", "pdf", "olmocr_gnarly", "ambiguous.pdf")

FAULTS: dict[str, list[str]] = {}  # path -> faults for its next requests ("503", "cut"); "always:503"
SEEN: Counter = Counter()          # requests per path


class FaultyHandler(RangeHandler):
    def send_head(self):
        SEEN[self.path] += 1
        plan = FAULTS.get(self.path) or []
        fault = plan[0].removeprefix("always:") if plan else None
        if fault == "cut" and not self.headers.get("Range"):
            fault = None  # a cut is for the range reads that carry the bytes, not a HEAD
        if fault and not plan[0].startswith("always:"):
            plan.pop(0)
        if fault == "503":
            self.send_error(503, "Slow Down")
            return None
        body = super().send_head()
        if fault == "cut" and isinstance(body, _Limited):  # headers promise more than is sent
            body.n //= 3
        return body


@pytest.fixture()
def server(tmp_path):
    if not os.path.isfile(WARC):
        pytest.skip("../shared/data/warc/cc_whirlwind is absent")
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(WARC, root / "a.warc.gz")
    if os.path.isfile(PDF):
        shutil.copy(PDF, root / "a.pdf")
    with gzip.open(root / "list.paths.gz", "wt") as f:
        f.write("a.warc.gz\n")
    FAULTS.clear()
    SEEN.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(FaultyHandler, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(transient, "RETRY_PAUSE_S", 0.0)
    monkeypatch.setattr(transient, "READ_TRIES", 3)


def _run(url: str, workdir, capsys=None):
    from gristmill.pipeline import runner
    from gristmill.pipeline.workflow import build

    wf = build({"inputs": [url], "steps": [{"name": "ingest", "stage": "ingest@1", "params": {"engine": "resiliparse"}},
                                           {"name": "length", "stage": "length_filter", "params": {"min_words": 5}}]})
    return runner.run(wf, workdir=str(workdir), in_process=True, quiet=capsys is None)


def _data_files(workdir) -> dict:
    return {os.path.relpath(os.path.join(d, f), workdir): os.path.join(d, f)
            for d, _, fs in os.walk(workdir) for f in fs
            if f.endswith(".parquet") and "_done" not in d}


def test_which_errors_are_transient():
    class ResponseError(Exception):  # what aiohttp.ClientResponseError carries
        def __init__(self, status):
            self.status = status

    assert is_transient(ConnectionResetError(errno.ECONNRESET, "reset"))
    assert is_transient(TimeoutError()) and is_transient(OSError(errno.ETIMEDOUT, "timed out"))
    assert is_transient(ResponseError(503)) and is_transient(ResponseError(429))
    assert not is_transient(ResponseError(404)) and not is_transient(ValueError("bad gzip"))
    assert not is_transient(FileNotFoundError("gone")) and not is_transient(OSError(errno.EIO, "io"))
    for cause, expected in ((ResponseError(503), True), (ResponseError(404), False)):
        try:  # fsspec's HTTP raises FileNotFoundError from the response's error
            try:
                raise cause
            except ResponseError as e:
                raise FileNotFoundError("http://x/a.warc.gz") from e
        except FileNotFoundError as wrapped:
            assert is_transient(wrapped) is expected
    try:  # a 404 met while handling a reset is still a 404
        try:
            raise ConnectionResetError()
        except ConnectionResetError:
            raise FileNotFoundError("gone")  # noqa: B904 - the implicit context is the point
    except FileNotFoundError as e:
        assert not is_transient(e)


def test_503_then_success_is_read_again_within_the_run(server, tmp_path):
    clean = _run(f"{server}/a.warc.gz", tmp_path / "clean")
    FAULTS["/a.warc.gz"] = ["503", "503", "503"]  # the first try (HEAD, GET) and the second's HEAD
    results = _run(f"{server}/a.warc.gz", tmp_path / "flaky")
    s = results[0].stats
    assert s["counters"]["read_retries"] == 1 and "shards_to_retry" not in s
    assert s["docs_out"] == clean[0].stats["docs_out"] > 0 and s["balanced"]
    assert "unreadable_file" not in s["dropped_by_reason"]
    for name, path in _data_files(tmp_path / "clean").items():
        assert filecmp.cmp(path, tmp_path / "flaky" / name, shallow=False), name


def test_faults_that_outlast_the_tries_are_read_again_by_the_next_run(server, tmp_path, capsys):
    """Every request fails with 503: three tries, then one counted `unreadable_file` row that
    says it was transient, a marker that asks for a retry and a summary line. The network
    heals; the same command reads the file again, redoes the filter step after it, and
    both end byte-identical to a run that never met a fault."""
    url = f"{server}/a.warc.gz"
    _run(url, tmp_path / "clean")
    FAULTS["/a.warc.gz"] = ["always:503"]
    first = _run(url, tmp_path / "work", capsys)
    s = first[0].stats
    assert s["dropped_by_reason"] == {"unreadable_file": 1} and s["docs_out"] == 0 and s["balanced"]
    assert s["counters"]["read_retries"] == 2 and s["counters"][transient.TRANSIENT_COUNTER] == 1
    assert s["shards_to_retry"] == 1
    assert "re-run the same command to read them again" in capsys.readouterr().out
    import pyarrow.parquet as pq

    (row,) = pq.read_table(tmp_path / "work" / "ingest" / "dropped").to_pylist()
    assert row["detail"].startswith("transient, 3 tries") and row["origin_file"] == url
    assert json.load(open(tmp_path / "work" / "ingest" / "_done" / "part-00000.json"))["retry"] is True

    FAULTS.clear()  # the network heals
    again = _run(url, tmp_path / "work")
    assert again[0].stats["redone_by_reason"] == {"transient_read_error": 1}
    assert again[1].stats["redone_by_reason"] == {"upstream_redone": 1}  # its input changed
    assert "shards_to_retry" not in again[0].stats and again[0].stats["docs_out"] > 0
    for name, path in _data_files(tmp_path / "clean").items():
        assert filecmp.cmp(path, tmp_path / "work" / name, shallow=False), name
    assert "redone_by_reason" not in _run(url, tmp_path / "work")[0].stats  # now finished: skipped


def test_a_response_cut_short_mid_file_is_read_again(server, tmp_path):
    """The server sends a third of the bytes it promised (the connection drops mid-body):
    the reader's error row is transient, so the file is read again and no record is lost."""
    clean = _run(f"{server}/a.warc.gz", tmp_path / "clean")
    FAULTS["/a.warc.gz"] = ["cut", "cut"]
    results = _run(f"{server}/a.warc.gz", tmp_path / "flaky")
    s = results[0].stats
    assert s["counters"].get("read_retries", 0) >= 1, s
    assert s["docs_in"] == clean[0].stats["docs_in"] and s["docs_out"] == clean[0].stats["docs_out"]
    assert "read_error" not in s["dropped_by_reason"] and "shards_to_retry" not in s


def test_a_missing_file_is_read_once_and_not_retried(server, tmp_path):
    results = _run(f"{server}/missing.warc.gz", tmp_path / "work")
    s = results[0].stats
    assert s["dropped_by_reason"] == {"unreadable_file": 1}
    assert "read_retries" not in s["counters"] and "shards_to_retry" not in s
    assert SEEN["/missing.warc.gz"] <= 2  # fsspec's HEAD, then its GET: one try
    assert "redone_by_reason" not in _run(f"{server}/missing.warc.gz", tmp_path / "work")[0].stats


def test_a_pdf_behind_a_503_is_read_again(server, tmp_path):
    """OCR's source step catches a failed read itself (an `unreadable_file` row); a transient
    one is flagged, so the shard task reads the PDF again instead of keeping that row."""
    if not os.path.isfile(PDF):
        pytest.skip("../shared/data/pdf/olmocr_gnarly is absent")
    from gristmill.pipeline import runner
    from gristmill.pipeline.workflow import build

    FAULTS["/a.pdf"] = ["503", "503"]
    wf = build({"inputs": [f"{server}/a.pdf"], "steps": [{"name": "ocr", "stage": "ocr@1", "params": {"ocr": "none"}}]})
    (r,) = runner.run(wf, workdir=str(tmp_path / "w"), in_process=True, quiet=True)
    assert r.stats["docs_out"] == 1 and r.stats["counters"]["read_retries"] == 1, r.stats
    assert "unreadable_file" not in r.stats["dropped_by_reason"]


def test_listing_a_folder_of_inputs_is_tried_again_and_a_dead_store_is_one_error_line(server, tmp_path, capsys):
    """Planning lists a folder URL (no shard task exists yet to retry it): one 503 is read
    through; a store that keeps failing is one `gristmill: error:` line, exit 2, no traceback."""
    from gristmill.pipeline.cli import main
    from gristmill.pipeline.shards import expand_inputs

    FAULTS["/"] = ["503"]
    found = expand_inputs([f"{server}/"])
    assert f"{server}/a.warc.gz" in found and SEEN["/"] >= 2
    FAULTS["/"] = ["always:503"]
    rc = main(["ingest", f"{server}/", "--out", str(tmp_path / "o"), "--workers", "1", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("gristmill: error: could not list input") and "Traceback" not in err


def test_a_paths_list_behind_503s_is_read_again_and_a_dead_one_is_one_error_line(server, tmp_path, capsys):
    """data.commoncrawl.org throttles with 503: the paths list, read while the run is planned,
    is tried again; if the 503s last, one error line and exit 2."""
    from gristmill.pipeline.cli import main
    from gristmill.pipeline.ingest.crawl import expand_paths_list

    FAULTS["/list.paths.gz"] = ["503", "503"]
    assert expand_paths_list(f"{server}/list.paths.gz", base=server) == [f"{server}/a.warc.gz"]
    FAULTS["/list.paths.gz"] = ["always:503"]
    rc = main(["ingest", f"{server}/list.paths.gz", "--base-url", server, "--out", str(tmp_path / "o"),
               "--workers", "1", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("gristmill: error: could not read the paths list") and "Traceback" not in err
