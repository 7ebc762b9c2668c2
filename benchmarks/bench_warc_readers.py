"""WARC reading speed: FastWARC vs warcio, same files, one process, one run.

Both iterate every record and read every response payload (HTTP headers parsed); the
files are read --repeat times so the run is long enough to time. Prints records/s and MB/s
(compressed input) and the ratio.

    python benchmarks/bench_warc_readers.py [WARC...] [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from bench_ingest import DEFAULT_FILES  # noqa: E402


def fastwarc_pass(path: str) -> int:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    n = 0
    with open(path, "rb") as f:
        for r in ArchiveIterator(f, parse_http=True):
            if r.record_type == WarcRecordType.response:
                r.reader.read()
            n += 1
    return n


def warcio_pass(path: str) -> int:
    from warcio.archiveiterator import ArchiveIterator

    n = 0
    with open(path, "rb") as f:
        for r in ArchiveIterator(f):
            if r.rec_type == "response":
                r.content_stream().read()
            n += 1
    return n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", default=DEFAULT_FILES)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args(argv)
    mb = sum(os.path.getsize(f) for f in args.files) * args.repeat / 1e6
    rates = {}
    for name, fn in (("warcio", warcio_pass), ("fastwarc", fastwarc_pass)):
        t0 = time.perf_counter()
        n = sum(fn(f) for _ in range(args.repeat) for f in args.files)
        s = time.perf_counter() - t0
        rates[name] = n / s
        print(f"{name:9s} {n} records in {s:6.2f}s = {n / s:8.0f} records/s, {mb / s:6.1f} MB/s")
    print(f"ratio fastwarc / warcio: {rates['fastwarc'] / rates['warcio']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
