"""Decompression bombs and oversized inputs, generated at run time (nothing big is committed),
and a probe that runs each through its entry point and measures peak memory and time.

    python -m tests.fuzz.bombs --out DIR [--as-limit-mb N]   # build every bomb, print a JSON report

Each WARC bomb file holds the bomb record and then an ordinary page, so a test also sees that
the file goes on after the bomb and that nothing is lost (in = out + dropped). Peak memory is
the process's VmHWM above its level before the file (reset per file through
/proc/self/clear_refs); PDFs are parsed in the isolated worker, whose peak is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import zlib

GIB = 1 << 30
PAGE = (b"<!DOCTYPE html><html><head><title>After the bomb</title></head><body><article><p>"
        + b"The river valley was settled early in the bronze age, and farmers cleared the forests. " * 8
        + b"</p></article></body></html>")


def _deflate_zeros(n: int, wbits: int) -> bytes:
    """Deflate (zlib/gzip/raw per `wbits`) of n zero bytes in O(1 MB) time: after a full flush the
    compressor's output for the same 16 MiB block repeats, so one block is made and repeated."""
    block = 1 << 24
    assert n % block == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(b"\0" * block) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(b"\0" * block) + c.flush(zlib.Z_FULL_FLUSH)
    body = first + again * (n // block - 1) + c.flush()
    if wbits == -15:
        return body
    crc = 0
    for _ in range(n // block):
        crc = zlib.crc32(b"\0" * block, crc)
    assert wbits == 31
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body + crc.to_bytes(4, "little") + (n % (1 << 32)).to_bytes(4, "little")


def _gzip_member_prefixed(prefix: bytes, zeros: int) -> bytes:
    """One gzip member: `prefix`, then `zeros` zero bytes, then CRLF CRLF."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = 1 << 24
    parts = [c.compress(prefix), c.flush(zlib.Z_FULL_FLUSH)]
    first = c.compress(b"\0" * block) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(b"\0" * block) + c.flush(zlib.Z_FULL_FLUSH)
    parts += [first, again * (zeros // block - 1), c.compress(b"\r\n\r\n"), c.flush()]
    crc = zlib.crc32(prefix)
    for _ in range(zeros // block):
        crc = zlib.crc32(b"\0" * block, crc)
    crc = zlib.crc32(b"\r\n\r\n", crc)
    size = len(prefix) + zeros + 4
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + b"".join(parts) + crc.to_bytes(4, "little")
            + (size % (1 << 32)).to_bytes(4, "little"))


def warc_head(url: str, length: int, rid: int = 1) -> bytes:
    return (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{rid:012d}>\r\n"
            f"WARC-Date: 2024-05-18T01:58:10Z\r\nWARC-Target-URI: {url}\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {length}\r\n\r\n").encode()


def http_message(body: bytes, *headers: str, ctype: str = "text/html; charset=utf-8") -> bytes:
    head = "".join(f"{h}\r\n" for h in (f"Content-Type: {ctype}", *headers))
    return f"HTTP/1.1 200 OK\r\n{head}\r\n".encode() + body


def warc_record(url: str, message: bytes, rid: int = 1) -> bytes:
    return warc_head(url, len(message), rid) + message + b"\r\n\r\n"


def _after() -> bytes:
    return warc_record("http://example.org/after", http_message(PAGE), rid=2)


def build(out_dir: str, decoded: int = GIB) -> dict[str, dict]:
    """Write every WARC bomb to `out_dir`; returns name -> {path, params, expect}."""
    os.makedirs(out_dir, exist_ok=True)
    bombs = {}

    def put(name: str, data: bytes, expect: str, **params) -> None:
        path = os.path.join(out_dir, name + (".warc.gz" if data[:2] == b"\x1f\x8b" else ".warc"))
        with open(path, "wb") as f:
            f.write(data)
        bombs[name] = {"path": path, "params": params, "expect": expect, "file_bytes": len(data)}

    # 1. a WARC gzip member that inflates to 1 GiB: the record's body is 1 GiB of zeros
    hdr = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
    member = _gzip_member_prefixed(warc_head("http://example.org/bomb", len(hdr) + decoded) + hdr, decoded)
    put("warc_gzip_member", member + zlib_gzip(_after()), "record_too_large")
    # 2. gzip Content-Encoding: 1 MB on disk, 1 GiB decoded
    gz = _deflate_zeros(decoded, 31)
    put("gzip_content_encoding", warc_record("http://example.org/gz", http_message(gz, "Content-Encoding: gzip"))
        + _after(), "decoded_too_large")
    # 3. brotli Content-Encoding
    put("brotli_content_encoding", warc_record("http://example.org/br", http_message(brotli_zeros(decoded),
                                                                                  "Content-Encoding: br"))
        + _after(), "decoded_too_large")
    # 4. a 100 MB HTML page: over max_record_mb (64) as stored; with the record limit raised, over max_html_mb
    html = b"<html><body>" + b"<div><p>Some words in a paragraph here, and more.</p></div>\n" * (100_000_000 // 60) \
        + b"</body></html>"
    rec = warc_record("http://example.org/huge", http_message(html)) + _after()
    put("html_100mb", rec, "record_too_large")
    bombs["html_100mb_past_record_limit"] = {**bombs["html_100mb"], "params": {"max_record_mb": 128},
                                             "expect": "page_too_large"}
    # 5. Content-Length: 10 GB with a short body (the file ends): read as what is there, flagged
    msg = http_message(PAGE)
    put("content_length_10gb", warc_head("http://example.org/cl", 10 * 10**9) + msg, "document:file_truncated")
    return bombs


def build_readers(out_dir: str, decoded: int = GIB // 4) -> dict[str, dict]:
    """JSONL and text bombs for read_documents@1: a JSONL.gz whose second line inflates to
    256 MiB without a newline (a line after it, in a second gzip member), and a 256 MiB .txt.gz
    (Python's gzip skips ~100 MB/s on a busy machine: a quarter GiB keeps the test short)."""
    os.makedirs(out_dir, exist_ok=True)
    jsonl = os.path.join(out_dir, "line_bomb.jsonl.gz")
    with open(jsonl, "wb") as f:
        f.write(_gzip_member_prefixed(b'{"id": "before", "text": "a line before the bomb"}\n{"text": "', decoded))
        f.write(zlib_gzip(b'{"id": "after", "text": "a line after the bomb"}\n'))
    text = os.path.join(out_dir, "text_bomb.txt.gz")
    with open(text, "wb") as f:
        f.write(_gzip_member_prefixed(b"", decoded))
    return {"jsonl_line_bomb": {"path": jsonl, "expect": "record_too_large", "docs": ["before", "after"],
                                "file_bytes": os.path.getsize(jsonl)},
            "text_file_bomb": {"path": text, "expect": "record_too_large", "docs": [],
                               "file_bytes": os.path.getsize(text)}}


def probe_readers(bombs: dict[str, dict]) -> dict[str, dict]:
    """Each bomb through read_documents@1 (default params), measured as probe_warc does."""
    from gristmill.pipeline.ingest.readers import ReadDocuments

    stage = ReadDocuments()
    stage.ensure_setup()
    results = {}
    for name, b in bombs.items():
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        base = _status_kb("VmRSS")
        t0 = time.perf_counter()
        out = stage.process_file(b["path"])
        seconds = time.perf_counter() - t0
        peak = _status_kb("VmHWM")
        results[name] = {"reasons": out.drops.column("reason").to_pylist(), "docs": out.table.column("id").to_pylist(),
                         "records_in": out.records_in, "seconds": round(seconds, 3),
                         "base_rss_mb": round(base / 1024, 1), "peak_above_base_mb": round((peak - base) / 1024, 1),
                         "file_bytes": b["file_bytes"], "expect": b["expect"], "expect_docs": b["docs"]}
    return results


def zlib_gzip(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def brotli_zeros(n: int) -> bytes:
    import brotli

    c = brotli.Compressor(quality=1)
    block = b"\0" * (1 << 24)
    return b"".join(c.process(block) for _ in range(n // len(block))) + c.finish()


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def probe_warc(bombs: dict[str, dict]) -> dict[str, dict]:
    """Run each bomb file through ingest@1 (its own params) in this process; per file: the
    reasons, documents, seconds and peak RSS above the level before it."""
    from gristmill.pipeline.ingest.stage import Ingest

    stages: dict[str, Ingest] = {}
    results = {}
    for name, b in bombs.items():
        key = json.dumps(b["params"], sort_keys=True)
        stage = stages.get(key)
        if stage is None:
            stage = stages[key] = Ingest(**b["params"])
            stage.ensure_setup()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS
        base = _status_kb("VmRSS")
        t0 = time.perf_counter()
        out, _ = stage.read_file(b["path"])
        seconds = time.perf_counter() - t0
        peak = _status_kb("VmHWM")
        results[name] = {
            "reasons": out.drops.column("reason").to_pylist(),
            "details": out.drops.column("detail").to_pylist(),
            "docs": out.table.column("url").to_pylist(),
            "truncated": out.table.column("warc_truncated").to_pylist(),
            "records_in": out.records_in, "seconds": round(seconds, 3),
            "base_rss_mb": round(base / 1024, 1), "peak_above_base_mb": round((peak - base) / 1024, 1),
            "file_bytes": b["file_bytes"], "params": b["params"], "expect": b["expect"],
        }
        del out
    return results


def _worker_hwm_mb(worker) -> float | None:
    """The PDF worker's peak RSS since the last reset, and reset it (same user: allowed)."""
    if worker is None or worker.proc is None or worker.proc.poll() is not None:
        return None
    pid = worker.proc.pid
    with open(f"/proc/{pid}/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
    return round(kb / 1024, 1)


def probe_pdfs(paths: list[str], mem_limit_mb: int, page_timeout_s: float, doc_timeout_s: float,
               ocr: str = "cpu") -> dict[str, dict]:
    """PDFs through ocr@1's isolated worker, every page rendered for OCR (so an image stream is
    decoded, not skipped for a text layer): per PDF the reasons, seconds and the worker's peak
    RSS (a worker killed for memory or time is restarted; its limit is RLIMIT_AS)."""
    from gristmill.ocr.stage import OcrStage

    stage = OcrStage(ocr=ocr, mem_limit_mb=mem_limit_mb, page_timeout_s=page_timeout_s, doc_timeout_s=doc_timeout_s,
                     router={"force": "ocr"})
    stage.ensure_setup()
    results = {}
    for path in paths:
        _worker_hwm_mb(stage._worker)
        t0 = time.perf_counter()
        out = stage.process_file(path)
        seconds = time.perf_counter() - t0
        results[os.path.basename(path)] = {
            "reasons": out.drops.column("reason").to_pylist(), "details": out.drops.column("detail").to_pylist(),
            "docs": out.table.num_rows, "records_in": out.records_in,
            "routes": out.table.column("page_routes").to_pylist() if out.table.num_rows else [],
            "seconds": round(seconds, 2), "worker_peak_rss_mb": _worker_hwm_mb(stage._worker),
            "mem_limit_mb": mem_limit_mb, "page_timeout_s": page_timeout_s, "doc_timeout_s": doc_timeout_s}
    return results


def flate_bomb_pdf(path: str, side: int = 40_000) -> None:
    """A one-page PDF whose image XObject is a side x side 8-bit grey image (1.6 GB decoded at
    40 000 px) from ~1.5 MB of FlateDecode: the page has no text, so the router renders it."""
    n = side * side
    block = 1 << 24
    n = (n + block - 1) // block * block
    # raw deflate in a zlib wrapper with a dummy Adler-32 (MuPDF does not check it)
    stream = b"\x78\xda" + _deflate_zeros(n, -15) + b"\0\0\0\0"
    content = b"q 612 0 0 792 0 0 cm /Im0 Do Q"
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im0 5 0 R >> >> "
            b"/Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 "
            b"/Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream" % (side, side, len(stream), stream)]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    with open(path, "wb") as f:
        f.write(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for the generated bombs (deleted by the caller)")
    ap.add_argument("--as-limit-mb", type=int, default=0, help="RLIMIT_AS for this process (0: none)")
    ap.add_argument("--pdf", action="append", default=[], help="also run this PDF through ocr@1")
    ap.add_argument("--pdf-mem-limit-mb", type=int, default=1024)
    ap.add_argument("--pdf-page-timeout-s", type=float, default=20.0)
    ap.add_argument("--pdf-doc-timeout-s", type=float, default=60.0)
    ap.add_argument("--skip-warc", action="store_true")
    args = ap.parse_args(argv)
    report = {}
    if not args.skip_warc:
        bombs = build(args.out)
        if args.as_limit_mb:
            resource.setrlimit(resource.RLIMIT_AS, (args.as_limit_mb << 20, resource.RLIM_INFINITY))
        report["warc"] = probe_warc(bombs)
        readers = build_readers(args.out)
        report["readers"] = probe_readers(readers)
        for b in [*bombs.values(), *readers.values()]:
            if os.path.exists(b["path"]):
                os.unlink(b["path"])
    if args.pdf:
        report["pdf"] = probe_pdfs(args.pdf, args.pdf_mem_limit_mb, args.pdf_page_timeout_s, args.pdf_doc_timeout_s)
    json.dump(report, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
