"""Undo HTTP transfer and content encodings of a stored payload, leniently and per record.

Done here rather than by the WARC reader because a reader that fails to decode one payload
stops the whole file; here a bad payload keeps its raw bytes and the record says why.
Common Crawl stores payloads already decoded (it renames the headers `X-Crawler-*`), so
this matters for other crawlers' WARCs (wget, Heritrix, webrecorder).
"""

from __future__ import annotations

import zlib


def dechunk(data: bytes) -> bytes | None:
    """Body of an HTTP chunked transfer, or None if `data` is not validly chunked."""
    out, pos, n = [], 0, len(data)
    while pos < n:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_field = data[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            return None
        if size == 0:
            return b"".join(out)
        start = eol + 2
        out.append(data[start:start + size])
        pos = start + size + 2
    return b"".join(out)  # stream ended without the last chunk: keep what came


def decompress(data: bytes, encoding: str) -> bytes:
    enc = encoding.strip().lower()
    if enc in ("gzip", "x-gzip", "deflate"):
        try:
            return zlib.decompressobj(47).decompress(data)  # 47: gzip or zlib header, auto
        except zlib.error:
            return zlib.decompressobj(-15).decompress(data)  # raw deflate
    if enc == "br":
        import brotli

        return brotli.decompress(data)
    if enc in ("identity", "none", ""):
        return data
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


def decode_payload(data: bytes, transfer_encoding: str | None, content_encoding: str | None
                   ) -> tuple[bytes, str | None]:
    """(decoded bytes, problem or None). On failure the raw bytes come back with the problem."""
    problem = None
    if transfer_encoding and "chunked" in transfer_encoding.lower():
        body = dechunk(data)
        if body is None:  # many crawlers store the body already de-chunked
            problem = None
        else:
            data = body
    if content_encoding:
        looks_compressed = data[:2] == b"\x1f\x8b" or content_encoding.strip().lower() in ("br", "deflate")
        if looks_compressed or content_encoding.strip().lower() not in ("gzip", "x-gzip"):
            try:
                data = decompress(data, content_encoding)
            except Exception as e:  # noqa: BLE001 - kept raw, reason recorded
                problem = f"{type(e).__name__}: {e}"[:200]
    return data, problem
