"""Undo HTTP transfer and content encodings of a stored payload, leniently and per record.

Done here rather than by the WARC reader because a reader that fails to decode one payload
stops the whole file; here a bad payload keeps its raw bytes and the record says why.
Common Crawl stores payloads already decoded (it renames the headers `X-Crawler-*`), so
this matters for other crawlers' WARCs (wget, Heritrix, webrecorder).
"""

from __future__ import annotations

import zlib

# What a payload may decode to by default; the ingest stage passes its `max_decoded_mb`.
DEFAULT_MAX_DECODED = 64 << 20


class DecodedTooLarge(ValueError):
    """A Content-Encoding that inflates past the limit (a decompression bomb, or just huge)."""


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


def _inflate(data: bytes, wbits: int, max_bytes: int) -> bytes:
    out = zlib.decompressobj(wbits).decompress(data, max_bytes + 1)  # never more than the limit + 1
    if len(out) > max_bytes:
        raise DecodedTooLarge(f"decodes to over {max_bytes} bytes")
    return out


def _unbrotli(data: bytes, max_bytes: int) -> bytes:
    import brotli

    d = brotli.Decompressor()
    # The output buffer stops growing at the limit; the input is then read on in steps.
    out = [d.process(data, output_buffer_limit=max_bytes + 1)]
    size = len(out[0])
    while size <= max_bytes and not d.is_finished() and not d.can_accept_more_data():
        chunk = d.process(b"", output_buffer_limit=max_bytes + 1 - size)
        if not chunk:
            break
        out.append(chunk)
        size += len(chunk)
    if size > max_bytes:
        raise DecodedTooLarge(f"decodes to over {max_bytes} bytes")
    return b"".join(out)


def decompress(data: bytes, encoding: str, max_bytes: int = DEFAULT_MAX_DECODED) -> bytes:
    """`data` decoded per `encoding`; DecodedTooLarge past `max_bytes` of output (memory
    stays near `max_bytes` whatever the ratio), ValueError/zlib.error/brotli.error if broken."""
    enc = encoding.strip().lower()
    if enc in ("gzip", "x-gzip", "deflate"):
        try:
            return _inflate(data, 47, max_bytes)  # 47: gzip or zlib header, auto
        except zlib.error:
            return _inflate(data, -15, max_bytes)  # raw deflate
    if enc == "br":
        return _unbrotli(data, max_bytes)
    if enc in ("identity", "none", ""):
        return data
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


def decode_payload(data: bytes, transfer_encoding: str | None, content_encoding: str | None,
                   max_bytes: int = DEFAULT_MAX_DECODED) -> tuple[bytes, str | None]:
    """(decoded bytes, problem or None). On failure the raw bytes come back with the problem;
    a payload that inflates past `max_bytes` raises DecodedTooLarge (it is not kept raw)."""
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
                data = decompress(data, content_encoding, max_bytes)
            except DecodedTooLarge:
                raise
            except Exception as e:  # noqa: BLE001 - kept raw, reason recorded
                problem = f"{type(e).__name__}: {e}"[:200]
    return data, problem
