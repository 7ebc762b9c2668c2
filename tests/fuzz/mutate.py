"""Structure-aware mutations of real input files, seeded (the same seed gives the same inputs).

Random bytes rarely get past a WARC reader's first check; mutating real records does: each
operator below breaks one thing a crawler, a disk or an attacker breaks (a flipped bit, a cut
file, a corrupted or duplicated header, a lying length field, a damaged gzip member), and a
gzip input is also mutated *inside* its members and recompressed, so the reader sees valid
gzip around broken records.
"""

from __future__ import annotations

import random
import re
import zlib

INTERESTING_BYTES = b"\x00\xff\x7f\x80\r\n: \t;=<>\"'\\%"
INTERESTING_NUMBERS = (b"0", b"-1", b"1", b"7", b"4294967296", b"10737418240", b"9223372036854775807",
                       b"99999999999999999999999", b"0x10", b"1e3", b" ", b"", b"12 34", b"\xff")
_LENGTH = re.compile(rb"(?im)^(content-length|length|size)\s*:\s*([^\r\n]*)")
_HEADER_LINE = re.compile(rb"(?m)^([!-9;-~]{1,64}):[ \t]*([^\r\n]*)\r?$")
_CHUNK_SIZE = re.compile(rb"(?m)^([0-9a-fA-F]{1,8})\r$")
_ARC_LINE = re.compile(rb"(?m)^(\S+://\S*) (\S+) (\d{14}) (\S+) (\d+)$")
_GZIP_MAGIC = b"\x1f\x8b\x08"
_HEADER_VALUES = (b"", b"gzip", b"br", b"deflate", b"chunked", b"text/html; charset=utf-16", b"\x00" * 8,
                  b"a" * 5000, b"application/pdf", b"text/plain; charset=bogus", b"urn:uuid:", b"dns:x",
                  b"http://[::1", b"HTTP/1.1 999", b"2024-13-45T99:99:99Z", b"<html>")


def _flip_bits(rng: random.Random, data: bytearray) -> bytearray:
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    return data


def _set_bytes(rng: random.Random, data: bytearray) -> bytearray:
    for _ in range(rng.randint(1, 4)):
        data[rng.randrange(len(data))] = rng.choice(INTERESTING_BYTES)
    return data


def _truncate(rng: random.Random, data: bytearray) -> bytearray:
    return data[:rng.randrange(len(data))]


def _delete(rng: random.Random, data: bytearray) -> bytearray:
    i = rng.randrange(len(data))
    del data[i:i + rng.randint(1, 256)]
    return data


def _duplicate(rng: random.Random, data: bytearray) -> bytearray:
    i = rng.randrange(len(data))
    piece = data[i:i + rng.randint(1, 2048)]
    j = rng.randrange(len(data) + 1)
    data[j:j] = piece * rng.randint(1, 4)
    return data


def _insert(rng: random.Random, data: bytearray) -> bytearray:
    j = rng.randrange(len(data) + 1)
    data[j:j] = bytes(rng.choice(INTERESTING_BYTES) for _ in range(rng.randint(1, 16)))
    return data


def _length_field(rng: random.Random, data: bytearray) -> bytearray:
    """A Content-Length (or an ARC header's length) set to another number or to garbage."""
    fields = [(m.start(2), m.end(2), m.group(2)) for m in _LENGTH.finditer(data)]
    fields += [(m.start(5), m.end(5), m.group(5)) for m in _ARC_LINE.finditer(data)]
    fields += [(m.start(1), m.end(1), m.group(1)) for m in _CHUNK_SIZE.finditer(data)]
    if not fields:
        return _flip_bits(rng, data)
    start, end, old = rng.choice(fields)
    if old.strip().isdigit() and rng.random() < 0.5:
        new = str(max(0, int(old) + rng.randint(-64, 64))).encode()
    else:
        new = rng.choice(INTERESTING_NUMBERS)
    data[start:end] = new
    return data


def _header(rng: random.Random, data: bytearray) -> bytearray:
    """A header line (WARC or HTTP) removed, doubled, emptied, its colon lost or its value replaced."""
    lines = list(_HEADER_LINE.finditer(data[:1 << 16]))
    if not lines:
        return _insert(rng, data)
    m = rng.choice(lines)
    op = rng.randrange(5)
    if op == 0:
        del data[m.start():m.end() + 1]
    elif op == 1:
        data[m.start():m.start()] = data[m.start():m.end() + 1]
    elif op == 2:
        data[m.end(1):m.end(1) + 1] = b""  # the colon
    elif op == 3:
        data[m.start(2):m.end(2)] = rng.choice(_HEADER_VALUES)
    else:
        data[m.start(1):m.end(1)] = rng.choice((b"Content-Encoding", b"Transfer-Encoding", b"Content-Type",
                                                b"WARC-Type", b"WARC-Target-URI", b"WARC-Truncated"))
    return data


def _gzip_members(data: bytes) -> list[int]:
    out, i = [], data.find(_GZIP_MAGIC)
    while i >= 0 and len(out) < 64:
        out.append(i)
        i = data.find(_GZIP_MAGIC, i + 3)
    return out


def _gzip_member(rng: random.Random, data: bytearray) -> bytearray:
    """Corrupt one gzip member: its deflate bytes, its CRC/ISIZE trailer, or cut it short."""
    starts = _gzip_members(bytes(data))
    if not starts:
        return _flip_bits(rng, data)
    k = rng.randrange(len(starts))
    start = starts[k]
    end = starts[k + 1] if k + 1 < len(starts) else len(data)
    op = rng.randrange(3)
    if op == 0 and end - start > 12:
        i = rng.randrange(start + 10, end)
        data[i] ^= 1 << rng.randrange(8)
    elif op == 1 and end - start > 8:
        i = rng.randrange(end - 8, end)
        data[i] = rng.randrange(256)
    else:
        del data[rng.randrange(start, end):end]
    return data


def _inside_gzip(rng: random.Random, data: bytearray) -> bytearray:
    """Decompress one member, apply a text-level mutation, recompress: valid gzip, broken record."""
    raw = bytes(data)
    starts = _gzip_members(raw)
    if not starts:
        return _header(rng, data)
    k = rng.randrange(len(starts))
    start = starts[k]
    d = zlib.decompressobj(31)
    try:
        plain = d.decompress(raw[start:], 1 << 22)
    except zlib.error:
        return _gzip_member(rng, data)
    end = len(raw) - len(d.unused_data) if d.eof else len(raw)
    if not plain:
        return _gzip_member(rng, data)
    op = rng.choice((_length_field, _header, _flip_bits, _truncate, _duplicate, _set_bytes))
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    member = c.compress(bytes(op(rng, bytearray(plain)) or b"\n")) + c.flush()
    data[start:end] = member
    return data


def _splice(rng: random.Random, data: bytearray, other: bytes) -> bytearray:
    i = rng.randrange(len(data) + 1)
    j = rng.randrange(len(other))
    return data[:i] + other[j:j + rng.randint(1, 4096)]


OPERATORS = (_flip_bits, _set_bytes, _truncate, _delete, _duplicate, _insert, _length_field, _header,
             _gzip_member, _inside_gzip)


def mutate(rng: random.Random, data: bytes, pool: list[bytes], max_size: int = 1 << 20) -> bytes:
    """One to three stacked mutations of `data` (splicing with another input of `pool`)."""
    out = bytearray(data or b"\n")
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        if not out:
            out = bytearray(b"\n")
        if pool and rng.random() < 0.05:
            out = _splice(rng, out, rng.choice(pool) or b"\n")
        else:
            out = rng.choice(OPERATORS)(rng, out)
    return bytes(out[:max_size])
