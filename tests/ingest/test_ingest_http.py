"""Ingest over HTTP: a real server on loopback serves a Common Crawl layout built from
../shared/data/warc/cc_whirlwind (its paths list and WARC/WET files)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gristmill.pipeline.ingest.crawl import expand_crawl, read_paths

WHIRLWIND = os.path.join("..", "shared", "data", "warc", "cc_whirlwind")
CRAWL = "CC-MAIN-2024-22"
SEGMENT = "1715971057216.39"

pytestmark = pytest.mark.skipif(not os.path.isdir(WHIRLWIND), reason="../shared/data/warc/cc_whirlwind is absent")


REQUESTED: list[str] = []  # paths the server was asked for, in order


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with single byte-range support (what fsspec's HTTP reader uses)."""

    def log_message(self, *args):
        pass

    def log_request(self, *args):
        REQUESTED.append(self.path)

    def send_head(self):
        rng = self.headers.get("Range")
        path = self.translate_path(self.path)
        if not rng or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        start_s, _, end_s = rng.replace("bytes=", "").partition("-")
        start = int(start_s) if start_s else max(0, size - int(end_s))
        end = min(int(end_s), size - 1) if end_s and start_s else size - 1
        f = open(path, "rb")
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._remaining = end - start + 1
        return _Limited(f, self._remaining)


class _Limited:
    def __init__(self, f, n):
        self.f, self.n = f, n

    def read(self, size=-1):
        if self.n <= 0:
            return b""
        size = self.n if size < 0 else min(size, self.n)
        data = self.f.read(size)
        self.n -= len(data)
        return data

    def close(self):
        self.f.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("cc")
    crawl_dir = root / "crawl-data" / CRAWL
    seg = crawl_dir / "segments" / SEGMENT
    (seg / "warc").mkdir(parents=True)
    (seg / "wet").mkdir(parents=True)
    shutil.copy(os.path.join(WHIRLWIND, "whirlwind.warc.gz"), seg / "warc" / "whirlwind.warc.gz")
    shutil.copy(os.path.join(WHIRLWIND, "whirlwind.warc.wet.gz"), seg / "wet" / "whirlwind.warc.wet.gz")
    rel = f"crawl-data/{CRAWL}/segments/{SEGMENT}"
    with gzip.open(crawl_dir / "warc.paths.gz", "wt") as f:
        f.write(f"{rel}/warc/whirlwind.warc.gz\ncrawl-data/{CRAWL}/segments/0000.00/warc/other.warc.gz\n")
    with gzip.open(crawl_dir / "wet.paths.gz", "wt") as f:
        f.write(f"{rel}/wet/whirlwind.warc.wet.gz\n")
    shutil.copy(os.path.join(WHIRLWIND, f"{CRAWL}.warc.paths.gz"), root / "real.paths.gz")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_paths_lists_expand_against_the_base_url(server):
    assert len(read_paths(f"{server}/real.paths.gz")) == 300  # the real (truncated) listing
    urls = expand_crawl(CRAWL, server, segments=[SEGMENT])
    assert urls == [f"{server}/crawl-data/{CRAWL}/segments/{SEGMENT}/warc/whirlwind.warc.gz"]
    assert len(expand_crawl(CRAWL, server)) == 2


def test_ingest_a_crawl_over_http(server, tmp_path):
    from gristmill.pipeline.cli import main

    out = tmp_path / "out"
    rc = main(["ingest", "--crawl", CRAWL, "--segments", SEGMENT, "--base-url", server, "--out", str(out),
               "--workers", "1", "--quiet", "--engine", "resiliparse"])
    assert rc == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["docs_in"] == 4 and stats["docs_out"] == 1 and stats["balanced"]
    import pyarrow.parquet as pq

    doc = pq.read_table(out / "part-00000.parquet").to_pylist()[0]
    assert doc["url"] == "https://an.wikipedia.org/wiki/Escopete" and doc["origin_file"].startswith(server)
    assert doc["license"] == "CC-BY-SA-4.0" and "Escopete" in doc["text"]


def test_wet_files_of_a_crawl(server):
    from gristmill.pipeline.ingest.stage import Ingest

    (url,) = expand_crawl(CRAWL, server, kind="wet")
    out = Ingest(engine="resiliparse").process_file(url)
    assert out.records_in == 2 and out.table.num_rows == 1
    assert out.table.column("language").to_pylist()[0] in ("an", "es")


def test_workflow_input_names_a_crawl(server):
    from gristmill.pipeline.workflow import build

    wf = build({"inputs": [{"crawl": CRAWL, "segments": [SEGMENT], "base_url": server}],
                "steps": [{"stage": "ingest@1"}]})
    assert wf.inputs == [f"{server}/crawl-data/{CRAWL}/segments/{SEGMENT}/warc/whirlwind.warc.gz"]


def test_a_missing_file_of_a_crawl_is_counted_and_the_run_goes_on(server, tmp_path):
    """The crawl's listing names a file the server does not have (404). Planning takes the
    listed URLs as given (no request per file), and the file becomes one counted
    `unreadable_file` row while the other file is ingested."""
    from gristmill.pipeline.cli import main
    from gristmill.pipeline.shards import expand_inputs

    urls = expand_crawl(CRAWL, server)
    before = len(REQUESTED)
    assert expand_inputs(urls) == urls and len(REQUESTED) == before
    out = tmp_path / "out"
    rc = main(["ingest", "--crawl", CRAWL, "--base-url", server, "--out", str(out), "--workers", "1", "--quiet",
               "--engine", "resiliparse"])
    assert rc == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["docs_out"] == 1 and stats["dropped_by_reason"]["unreadable_file"] == 1 and stats["balanced"]
    import pyarrow.parquet as pq

    drops = pq.read_table(out / "dropped").to_pylist()
    (bad,) = [d for d in drops if d["reason"] == "unreadable_file"]
    assert bad["origin_file"].endswith("/other.warc.gz") and "FileNotFoundError" in bad["detail"]


def test_workflow_input_is_a_paths_list(server, tmp_path):
    """A recipe's input may be a warc.paths.gz itself (local here), or a mapping with a base
    URL and a limit; either way the stage reads the files it lists, not the list as a WARC."""
    from gristmill.pipeline.workflow import build

    listing = tmp_path / "warc.paths.gz"
    rel = f"crawl-data/{CRAWL}/segments/{SEGMENT}/warc/whirlwind.warc.gz"
    with gzip.open(listing, "wt") as f:
        f.write(f"{rel}\n{server}/elsewhere/x.warc.gz\n\n")
    steps = [{"stage": "ingest@1"}]
    wf = build({"inputs": [str(listing)], "steps": steps})
    assert wf.inputs == [f"https://data.commoncrawl.org/{rel}", f"{server}/elsewhere/x.warc.gz"]
    wf = build({"inputs": [{"paths": str(listing), "base_url": server, "limit": 1}], "steps": steps})
    assert wf.inputs == [f"{server}/{rel}"]
    wf = build({"inputs": [{"paths": f"{server}/real.paths.gz", "limit": 2}], "steps": [{"stage": "read_any@1"}]})
    assert len(wf.inputs) == 2 and all(u.startswith("https://data.commoncrawl.org/") for u in wf.inputs)
    with pytest.raises(Exception, match="paths"):
        build({"inputs": [{"path": str(listing)}], "steps": steps})
