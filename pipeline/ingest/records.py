"""Read WARC, WET and ARC files (local, https://, s3:// through fsspec) as flat records.

FastWARC reads WARC/WET: several times faster than warcio (see README, ingest section), it
handles per-record gzip, single-stream gzip, lz4 and uncompressed files, and its quirks mode
gets through most malformed records. It does not read ARC, so ARC files (sniffed by their
`filedesc://` header, compressed or not) go through warcio's ARC-to-WARC reader on a
decompressed stream, which also copes with single-stream gzip ARCs.

A reader never raises for bad data: an exception in the middle of a file becomes one
`Record` with `error` set (counted and logged by the stage), and reading stops there.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass
from typing import Iterator

import fsspec

from gristmill.pipeline.ingest.payload import DEFAULT_MAX_DECODED, DecodedTooLarge, decode_payload
from gristmill.pipeline.transient import is_transient

# FastWARC is Rust (pyo3): a panic surfaces as a BaseException subclass; those are data
# errors too, while these must pass through.
_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)

# Only these HTTP headers are kept: opt-out signals are read from them.
KEPT_HTTP_HEADERS = ("x-robots-tag", "tdm-reservation", "tdm-policy", "link")
BODY_TYPES = {"response", "resource", "conversion"}
# A record body longer than this is not read into memory (`record_too_large`); the ingest
# stage passes its `max_record_mb`. Reading stops at the limit whatever the declared
# Content-Length says, so a 10 GB length or a gzip-bomb member costs at most this much.
DEFAULT_MAX_RECORD = 64 << 20


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Per-record byte limits of a reader (the ingest stage's `max_record_mb`, `max_decoded_mb`)."""
    max_record_bytes: int = DEFAULT_MAX_RECORD
    max_decoded_bytes: int = DEFAULT_MAX_DECODED


@dataclass(slots=True)
class Record:
    offset: int
    type: str                       # warcinfo, request, response, metadata, revisit, resource, conversion, dns
    url: str | None = None
    date: str | None = None         # WARC-Date (ISO 8601)
    record_id: str | None = None
    truncated: str | None = None    # WARC-Truncated value; "file_truncated" if the file itself is cut
    http_status: int | None = None
    content_type: str | None = None  # HTTP Content-Type for responses, WARC Content-Type otherwise
    charset: str | None = None      # charset declared in the HTTP Content-Type
    headers: dict | None = None     # KEPT_HTTP_HEADERS, lower-cased names
    body: bytes | None = None       # decoded payload (chunked / gzip / br undone)
    seq: int = 0                    # records before this one at the same offset (set by the stage)
    error: str | None = None        # reason code when the record could not be read
                                    # (read_error, bad_payload, bad_content_encoding,
                                    # record_too_large, decoded_too_large, not_an_archive)
    detail: str | None = None
    transient: bool = False         # the error was the network's (pipeline/transient.py): read again


def open_binary(path: str):
    """A seekable binary file object for a local path or any fsspec URL (no decompression;
    FastWARC seeks, so remote files are read with range requests)."""
    return fsspec.open(path, "rb").open()


def _peek(f, n: int = 65536) -> tuple[bytes, object]:
    head = f.read(n)
    f.seek(0)
    return head, f


def sniff(head: bytes) -> str:
    """'arc', 'warc' or 'unknown' from the first bytes of a file (compressed or not)."""
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 4096)
        except zlib.error:
            return "unknown"
    elif head[:4] == b"\x04\x22\x4d\x18":  # lz4 frame: FastWARC decides
        return "warc"
    head = head.lstrip(b"\r\n")
    if head.startswith(b"filedesc://"):
        return "arc"
    if head.startswith((b"WARC/", b"WARC-")):
        return "warc"
    return "unknown"


def iter_records(path: str, limits: ReadLimits = ReadLimits()) -> Iterator[Record]:
    f = open_binary(path)
    try:
        head, stream = _peek(f)
        kind = sniff(head)
        if kind == "arc":
            yield from _iter_arc(stream, head, reopen=lambda: _peek(open_binary(path))[1], limits=limits)
        elif kind == "warc":
            yield from _iter_warc(stream, limits)
        else:
            yield Record(0, "unknown", error="not_an_archive",
                         detail="neither WARC nor ARC (first bytes are not a WARC/ARC header)")
    finally:
        f.close()


def _header_value(value) -> str | None:
    return None if value is None else str(value)


def _iter_warc(f, limits: ReadLimits = ReadLimits()) -> Iterator[Record]:
    from fastwarc.warc import ArchiveIterator

    offset = previous = -1
    try:
        for r in ArchiveIterator(f, parse_http=True, quirks_mode=True, auto_decode="none"):
            offset = r.stream_pos  # in a single-stream gzip file: the compressed position, shared by records
            if offset < previous:  # never seen; a reader going back could loop
                yield Record(offset, "unknown", error="read_error",
                             detail=f"reader went back to offset {offset} after {previous}")
                return
            previous = offset
            h = r.headers
            rtype = str(r.record_type).rpartition(".")[2]  # "WarcRecordType.response" -> "response"
            url = _header_value(h.get("WARC-Target-URI"))
            if url:
                url = url.strip().strip("<>")
            rec = Record(offset, rtype, url=url, date=_header_value(h.get("WARC-Date")),
                         record_id=_header_value(h.get("WARC-Record-ID")),
                         truncated=_header_value(h.get("WARC-Truncated")))
            if rtype == "response" and url and url.startswith("dns:"):
                rec.type = "dns"
            if rec.type in BODY_TYPES:
                _fill_body(r, rec, limits)
            yield rec
    except BaseException as e:  # noqa: BLE001 - a broken stream ends the file, counted once
        if isinstance(e, _PASS_THROUGH):
            raise
        yield Record(offset, "unknown", error="read_error", detail=f"{type(e).__name__}: {e}"[:300],
                     transient=is_transient(e))


def _too_large(rec: Record, limit: int) -> None:
    rec.error, rec.detail = "record_too_large", f"body over {limit} bytes"


def _fill_body(r, rec: Record, limits: ReadLimits) -> None:
    limit = limits.max_record_bytes
    try:
        # FastWARC's read(n) allocates n bytes before it reads: asking for the limit on every
        # record mapped and faulted in a fresh 64 MiB buffer per page (reading took twice as
        # long). The reader stops at the record's declared length, so that length (+1, to tell
        # an over-limit body) bounds the read as well as the limit does, and costs no more than
        # the body. The iterator skips the rest of the record itself.
        body = r.reader.read(min(r.content_length, limit) + 1)
    except Exception as e:  # noqa: BLE001 - e.g. a broken gzip Content-Encoding
        rec.error, rec.detail = "bad_payload", f"{type(e).__name__}: {e}"[:300]
        rec.transient = is_transient(e)  # or the connection dropped while the body was read
        return
    if len(body) > limit:
        _too_large(rec, limit)
        return
    if r.is_http:
        hh = r.http_headers
        rec.http_status = hh.status_code
        rec.content_type = r.http_content_type
        rec.charset = r.http_charset
        kept = {}
        for name, value in hh.items():
            low = name.lower()
            if low in KEPT_HTTP_HEADERS:
                kept[low] = f"{kept[low]}, {value}" if low in kept else value
        rec.headers = kept
        te = hh.get("Transfer-Encoding")
        ce = hh.get("Content-Encoding")
        encoded = bool(te or ce)
        if encoded:
            try:
                body, problem = decode_payload(body, te, ce, limits.max_decoded_bytes)
            except DecodedTooLarge as e:
                rec.error, rec.detail = "decoded_too_large", f"Content-Encoding {ce}: {e}"[:300]
                return
            if problem:
                rec.error, rec.detail = "bad_content_encoding", problem
    else:
        ct = r.headers.get("Content-Type")
        rec.content_type = ct.split(";")[0].strip().lower() if ct else None
        encoded = False
    # A body shorter than its declared length means the file itself was cut off.
    if not encoded and len(body) < r.content_length and rec.truncated is None:
        rec.truncated = "file_truncated"
    rec.body = body


def _iter_arc(f, head: bytes, reopen, limits: ReadLimits = ReadLimits()) -> Iterator[Record]:
    """ARC records through warcio; a gzip ARC that turns out to be (partly) one stream is
    re-read decompressed from the start, skipping the records already given (offsets of
    such a file are positions in the decompressed stream)."""
    given = 0
    single = _single_stream_gzip(head)
    while True:
        stream = gzip.GzipFile(fileobj=f) if single else f
        retry = False
        for rec in _iter_arc_stream(stream, skip=given, limits=limits):
            if rec.error == "read_error" and not single and "non-chunked gzip" in (rec.detail or ""):
                f = reopen()
                single = retry = True
                break
            given += 1
            yield rec
        if not retry:
            return


def _iter_arc_stream(stream, skip: int, limits: ReadLimits) -> Iterator[Record]:
    from warcio.archiveiterator import ArchiveIterator

    offset = 0
    try:
        it = ArchiveIterator(stream, arc2warc=True)
        for i, r in enumerate(it):
            if i < skip:
                continue
            h = r.rec_headers
            url = h.get_header("WARC-Target-URI")
            rtype = r.rec_type or "unknown"
            rec = Record(0, rtype, url=url, date=h.get_header("WARC-Date"),
                         record_id=h.get_header("WARC-Record-ID"), truncated=h.get_header("WARC-Truncated"))
            if url and url.startswith("filedesc:"):
                rec.type = "warcinfo"
            elif url and url.startswith("dns:"):
                rec.type = "dns"
            if rec.type in BODY_TYPES:
                try:
                    rec.body = r.content_stream().read(limits.max_record_bytes + 1)
                except Exception as e:  # noqa: BLE001
                    rec.error, rec.detail = "bad_payload", f"{type(e).__name__}: {e}"[:300]
                if rec.body is not None and len(rec.body) > limits.max_record_bytes:
                    rec.body = None
                    _too_large(rec, limits.max_record_bytes)
                if r.http_headers is not None:
                    try:
                        rec.http_status = int(r.http_headers.get_statuscode())
                    except (TypeError, ValueError):
                        rec.http_status = None
                    ct = r.http_headers.get_header("Content-Type") or ""
                    rec.content_type = ct.split(";")[0].strip().lower() or None
                    rec.charset = _charset_of(ct)
                    rec.headers = {k.lower(): v for k, v in r.http_headers.headers
                                   if k.lower() in KEPT_HTTP_HEADERS}
                else:
                    rec.content_type = (h.get_header("Content-Type") or "").split(";")[0].strip().lower() or None
            # only now: warcio's get_record_offset() reads the record to its end
            rec.offset = offset = it.get_record_offset() or 0
            yield rec
    except Exception as e:  # noqa: BLE001
        yield Record(offset, "unknown", error="read_error", detail=f"{type(e).__name__}: {e}"[:300],
                     transient=is_transient(e))


def _single_stream_gzip(head: bytes) -> bool:
    """True for a gzip file whose first member does not end within `head`: one stream for
    the whole file, which warcio cannot walk record by record (per-record gzip it can)."""
    if head[:2] != b"\x1f\x8b":
        return False
    d = zlib.decompressobj(31)
    try:
        d.decompress(head)
    except zlib.error:
        return False
    return not d.eof


def _charset_of(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        k, _, v = part.partition("=")
        if k.strip().lower() == "charset":
            return v.strip().strip("\"'") or None
    return None


def read_all(data: bytes, limits: ReadLimits = ReadLimits()) -> list[Record]:
    """Records of an in-memory WARC (tests, robots.txt WARCs)."""
    kind = sniff(data[:65536])
    if kind == "arc":
        return list(_iter_arc(io.BytesIO(data), data[:65536], reopen=lambda: io.BytesIO(data), limits=limits))
    return list(_iter_warc(io.BytesIO(data), limits))
