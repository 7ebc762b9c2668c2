"""Seed inputs for the fuzz targets, cut from the real files in ../shared/data.

Seeds are small (a few records, the start of a PDF's page list, a few JSONL lines) so a
mutation is cheap to run; every one is a real crawler's, parser's or user's bytes.
"""

from __future__ import annotations

import glob
import gzip
import io
import os
import zlib

from tests.support.paths import SHARED_DATA

MAX_SEED = 64 * 1024
WARC_DIR = os.path.join(SHARED_DATA, "warc")
PDF_DIR = os.path.join(SHARED_DATA, "pdf", "pdfjs_selection", "pdfs")


def _archives() -> list[str]:
    out = []
    for p in sorted(glob.glob(os.path.join(WARC_DIR, "**", "*"), recursive=True)):
        name = os.path.basename(p).lower()
        if os.path.isfile(p) and any(s in name for s in (".warc", ".arc", ".wet")) and "paths" not in name \
                and "wat" not in name:
            out.append(p)
    return out


def _record_offsets(data: bytes) -> list[int]:
    from fastwarc.warc import ArchiveIterator

    offsets = []
    try:
        for r in ArchiveIterator(io.BytesIO(data), parse_http=False, quirks_mode=True):
            offsets.append(r.stream_pos)
            if len(offsets) > 12:
                break
    except BaseException:  # noqa: BLE001 - a broken seed file still gives its first bytes
        pass
    return offsets


def warc_seeds() -> list[bytes]:
    """Whole small archives, and runs of 1-3 records (per-record gzip kept) of larger ones."""
    seeds = []
    for p in _archives():
        with open(p, "rb") as f:
            data = f.read()
        if len(data) <= MAX_SEED:
            seeds.append(data)
            continue
        offs = _record_offsets(data) + [len(data)]
        for a, b in zip(offs, offs[3:]):
            if b - a <= MAX_SEED and (data[:2] != b"\x1f\x8b" or data[a:a + 2] == b"\x1f\x8b"):
                seeds.append(data[a:b])
                break
        seeds.append(data[:MAX_SEED])  # the start of the file, as a truncated archive
    return seeds


def _responses(limit: int = 40) -> list[bytes]:
    """Raw HTTP messages (status line, headers, start of the body) of real response records."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    out = []
    for p in _archives():
        try:
            with open(p, "rb") as f:
                for r in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=False):
                    msg = r.reader.read(8192)
                    if msg.startswith(b"HTTP/"):
                        out.append(msg)
                    if len(out) % 4 == 0:
                        break
        except BaseException:  # noqa: BLE001
            continue
        if len(out) >= limit:
            break
    return out


def http_seeds() -> list[bytes]:
    """Real HTTP responses, plus one real page served chunked, gzip, deflate and br."""
    import brotli

    seeds = _responses()
    page = next((m for m in seeds if b"text/html" in m.split(b"\r\n\r\n", 1)[0]), seeds[0])
    head, _, body = page.partition(b"\r\n\r\n")
    head = b"\r\n".join(line for line in head.split(b"\r\n")
                        if not line.lower().startswith((b"content-length", b"content-encoding", b"transfer-encoding")))
    for name, enc in ((b"gzip", gzip.compress(body)), (b"deflate", zlib.compress(body)), (b"br", brotli.compress(body))):
        seeds.append(head + b"\r\nContent-Encoding: " + name + b"\r\n\r\n" + enc)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 500]), body[i:i + 500]) for i in range(0, len(body), 500))
    seeds.append(head + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n")
    return seeds


def html_seeds(limit: int = 60) -> list[bytes]:
    files = sorted(glob.glob(os.path.join(SHARED_DATA, "html", "trafilatura_eval", "html", "*.html.gz")))
    seeds = []
    for p in files:
        with gzip.open(p, "rb") as f:
            data = f.read()
        if len(data) <= MAX_SEED:
            seeds.append(data)
        if len(seeds) >= limit:
            break
    return seeds


ROBOTS = (
    b"User-agent: GPTBot\nDisallow: /\n\nUser-agent: CCBot\nDisallow: /private/\nAllow: /private/ok\n\n"
    b"User-agent: *\nDisallow: /search\nCrawl-delay: 10\nSitemap: https://example.org/sitemap.xml\n",
    b"# robots.txt\r\nUser-agent: *\r\nDisallow: /*.php$\r\nDisallow: /cgi-bin/\r\nAllow: /$\r\n",
    b"\xef\xbb\xbfUser-Agent: Google-Extended\nUser-Agent: anthropic-ai\nDisallow: /\n",
    b"User-agent: *\nDisallow:\n",
)


def robots_seeds() -> list[bytes]:
    """Hand-written files in the shapes real sites use, and the robots.txt captures in the WARCs."""
    from fastwarc.warc import ArchiveIterator

    seeds = list(ROBOTS)
    for p in _archives():
        try:
            with open(p, "rb") as f:
                for r in ArchiveIterator(f, parse_http=True):
                    if (r.headers.get("WARC-Target-URI") or "").endswith("/robots.txt"):
                        seeds.append(r.reader.read(MAX_SEED))
        except BaseException:  # noqa: BLE001
            continue
    return seeds


def pdf_seeds(max_size: int = 48 * 1024) -> list[bytes]:
    seeds = []
    for p in sorted(glob.glob(os.path.join(PDF_DIR, "*.pdf"))):
        if os.path.getsize(p) <= max_size:
            with open(p, "rb") as f:
                seeds.append(f.read())
    return seeds


def jsonl_seeds() -> list[bytes]:
    seeds = []
    for p in sorted(glob.glob(os.path.join(SHARED_DATA, "text", "*", "*.jsonl*"))):
        opener = gzip.open if p.endswith(".gz") else open
        with opener(p, "rb") as f:
            lines = [f.readline()[:4096] for _ in range(6)]
        data = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines if line)
        seeds.append(gzip.compress(data) if p.endswith(".gz") else data)
    return seeds


def parquet_seeds() -> list[bytes]:
    """The JSONL seeds' documents written as Parquet the ways users write it."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for data in jsonl_seeds():
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        for line in data.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            text = rec.get("text") or rec.get("question") or rec.get("prompt")
            if isinstance(text, str):
                rows.append({"id": str(rec.get("id", len(rows))), "text": text[:2000], "url": rec.get("url")})
    table = pa.Table.from_pylist(rows)
    seeds = []
    for compression, kw in (("zstd", {}), ("snappy", {"row_group_size": 4}), ("none", {"use_dictionary": False})):
        buf = io.BytesIO()
        pq.write_table(table, buf, compression=compression, **kw)
        seeds.append(buf.getvalue())
    buf = io.BytesIO()
    pq.write_table(table.drop(["text"]), buf)  # no text column: a counted drop
    seeds.append(buf.getvalue())
    return seeds
