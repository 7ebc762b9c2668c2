"""`ingest@1`: one WARC / ARC / WET file to documents (a source stage).

Every record read counts in `docs_in`. Successful HTML and plain-text responses (and WET
conversion records) become documents; every other record leaves a drop-log row with a
reason: `record_<type>` for warcinfo/request/metadata/revisit/dns/... records (and
resource records whose URL is not http(s), e.g. wget's `metadata://` log files),
`http_status`, `unsupported_content_type`, `robots_txt` (kept as opt-out evidence),
`pdf_queued` (bytes sent to the PDF queue for OCR), `no_text`, the read errors
`read_error`, `bad_payload`, `bad_content_encoding`, `not_an_archive`, and the per-document
limits `record_too_large` (`max_record_mb`), `decoded_too_large` (`max_decoded_mb`: gzip /
deflate / brotli bombs) and `page_too_large` (`max_html_mb`: what the extractor is given).
Document text is in Unicode NFC.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

import pyarrow as pa

from gristmill.pipeline.context import ShardContext, StepContext
from gristmill.pipeline.ingest import charset, crawl, licenses, optout
from gristmill.pipeline.ingest.extract import DEFAULT_ENGINE, ENGINES, get_engine
from gristmill.pipeline.ingest.pdf_queue import is_pdf, pdf_table, write_pdf_shard
from gristmill.pipeline.ingest.records import ReadLimits, Record, iter_records
from gristmill.pipeline.ingest.robots import RobotsRules, is_robots_url
from gristmill.pipeline.params import param
from gristmill.pipeline.schema import TIMESTAMP, conform, drop_log, empty_drops, stable_id
from gristmill.pipeline.stage import Stage, StageOutput
from gristmill.pipeline.timing import Phases
from gristmill.pipeline.transient import TRANSIENT_COUNTER

HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml+xhtml", "text/xhtml")
TEXT_TYPES = ("text/plain",)
SKIPPED_TYPES = ("warcinfo", "request", "metadata", "revisit", "dns", "continuation", "unknown")


def _domain(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def _is_web_url(url: str | None) -> bool:
    return bool(url) and url.lower().startswith(("http://", "https://"))


def _timestamps(values: list[str | None]) -> pa.Array:
    """ISO 8601 WARC-Dates to timestamp[us, UTC]; an unparseable date becomes null."""
    arr = pa.array(values, pa.string())
    try:
        return arr.cast(TIMESTAMP)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = []
        for v in values:
            try:
                out.append(pa.array([v], pa.string()).cast(TIMESTAMP)[0].as_py())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                out.append(None)
        return pa.array(out, TIMESTAMP)


def nfc(text: str) -> str:
    """Text in Unicode NFC: pages written in decomposed form ("u" + combining diaeresis for "ü",
    33 of the 2,261 gold pages) would otherwise reach the tokenizer, dedupe and the filters as
    other bytes than the same words elsewhere. The quick check passes almost every text as is."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def record_id(path: str, rec: Record) -> str:
    """The id of a record's document or drop row: file and offset; a record that shares its
    offset with earlier ones gets their count too. That happens in a single-stream gzip WARC
    (FastWARC gives the compressed position, the same for many records) and for the read error
    that ends a file (it has the last record's offset); both were duplicate ids, found by fuzzing."""
    return stable_id(path, rec.offset) if rec.seq == 0 else stable_id(path, rec.offset, rec.seq)


def _kind(rec: Record) -> str:
    """'html', 'text' or 'other' from the declared type, sniffing the body when undeclared."""
    ct = (rec.content_type or "").split(";")[0].strip().lower()
    if ct in HTML_TYPES:
        return "html"
    if ct in TEXT_TYPES:
        return "text"
    if ct in ("", "application/octet-stream", "unk", "no-type") and rec.body:
        start = rec.body[:512].lstrip().lower()
        if start.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
            return "html"
    return "other"


class Ingest(Stage):
    """WARC / ARC / WET files to documents (PDF responses to the PDF queue)."""

    name = "ingest"
    kind = "source"
    uses_pandas = False  # Python lists and Arrow only (a --workers 1 run never imports pandas)
    reads = ()
    adds = ("id", "text", "source", "url", "domain", "origin_file", "origin_offset", "fetched_at",
            "license", "license_evidence", "opt_out", "language", "language_score",
            "warc_record_id", "content_type", "http_status", "warc_truncated")

    @dataclass(frozen=True)
    class Params:
        engine: str = param(DEFAULT_ENGINE, "main-text extractor (see the README's ingest section)",
                            choices=tuple(sorted(ENGINES)))
        source: str = param("web", "`source` (mixing domain) of the documents")
        robots: list[str] = param([], "robots.txt WARCs to take opt-out rules from, besides the robots.txt "
                                      "captures in each input file")
        http_ok: list[int] = param([], "HTTP statuses of responses that become documents (empty: any 2xx)")
        pdf_dir: str | None = param(None, "PDF queue folder (default: the step's queue, OUT/pdfs)")
        # Per-document limits: what one record may cost in memory and time (README, "Fuzzing").
        max_record_mb: int = param(64, "records with a longer body (as stored, after WARC gzip) are dropped as "
                                       "record_too_large; no more than this is ever read", gt=0)
        max_decoded_mb: int = param(64, "payloads whose Content-Encoding (gzip, deflate, br) inflates past this "
                                        "are dropped as decoded_too_large", gt=0)
        max_html_mb: int = param(8, "HTML / text pages longer than this are dropped as page_too_large before "
                                    "decoding and extraction (extraction takes ~0.15 s and ~30 MB per MB)", gt=0)

    @classmethod
    def expand_input(cls, spec: dict) -> list[str]:
        """A workflow input given as a mapping: a Common Crawl crawl by name (see crawl.expand_input)."""
        return crawl.expand_input(spec)

    @property
    def limits(self) -> ReadLimits:
        return ReadLimits(self.cfg.max_record_mb << 20, self.cfg.max_decoded_mb << 20)

    def setup(self, ctx: StepContext | None = None) -> None:
        from gristmill.pipeline.ingest.langid import LanguageIdentifier

        self.extract = get_engine(self.cfg.engine)
        self.extract("<html><body><p>warm-up: imports happen here, not on the first page</p></body></html>")
        self.lid = LanguageIdentifier()
        self.global_robots = RobotsRules()
        for path in self.cfg.robots:
            for rec in iter_records(path, self.limits):
                if rec.body is not None and is_robots_url(rec.url) and rec.error is None:
                    self.global_robots.add(rec.url, rec.body, rec.http_status)

    def process_file(self, path: str, ctx: ShardContext | None = None) -> StageOutput:
        """Documents and drops of one archive; its PDFs go to the PDF queue, shard `ctx.index`
        of the step's queue folder (`ctx.step.pdf_queue_dir`, or `pdf_dir`)."""
        out, pdfs = self.read_file(path)
        self._write_pdfs(pdfs, ctx)
        return out

    def read_file(self, path: str) -> tuple[StageOutput, pa.Table]:
        """(documents and drops, the PDF records as PDF-queue rows); writes nothing."""
        self.ensure_setup()
        counters: Counter = Counter()
        docs = {k: [] for k in ("id", "offset", "url", "date", "record_id", "truncated", "status", "ctype",
                                "text", "license", "evidence", "opt_out", "charset")}
        drops = {k: [] for k in ("id", "offset", "url", "reason", "detail")}
        pdfs = {k: [] for k in ("id", "url", "domain", "origin_file", "origin_offset", "fetched_at",
                                "content_type", "http_status", "warc_truncated", "content_length", "pdf_bytes")}
        local_robots = RobotsRules()
        phases = Phases()  # the rest of the time is reading (decompressing, parsing records)
        n = 0

        def drop(rec: Record, reason: str, detail: str | None = None):
            drops["id"].append(record_id(path, rec))
            drops["offset"].append(rec.offset)
            drops["url"].append(rec.url)
            drops["reason"].append(reason)
            drops["detail"].append(detail)

        at_offset: Counter = Counter()
        for rec in iter_records(path, self.limits):
            n += 1
            rec.seq = at_offset[rec.offset]
            at_offset[rec.offset] += 1
            counters[f"records_{rec.type}"] += 1
            if rec.error is not None and (rec.body is None or rec.error == "bad_content_encoding"):
                drop(rec, rec.error, rec.detail)
                if rec.transient:  # the shard task reads the file again (pipeline/transient.py)
                    counters[TRANSIENT_COUNTER] += 1
                continue
            if rec.type in SKIPPED_TYPES or (rec.type == "resource" and not _is_web_url(rec.url)):
                # resource records of crawler files (wget logs, manifests: metadata://...) are not pages
                drop(rec, f"record_{rec.type}")
                continue
            if rec.type == "response" and rec.http_status is not None and not self._status_ok(rec.http_status):
                drop(rec, "http_status", str(rec.http_status))
                continue
            body = rec.body or b""
            if rec.type in ("response", "resource") and is_robots_url(rec.url):
                local_robots.add(rec.url, body, rec.http_status)
                drop(rec, "robots_txt")
                continue
            if is_pdf(rec.content_type, body, rec.url):
                self._queue_pdf(pdfs, path, rec, body)
                drop(rec, "pdf_queued", rec.truncated and f"WARC-Truncated: {rec.truncated}")
                continue
            kind = "text" if rec.type == "conversion" else _kind(rec)
            if kind == "other":
                drop(rec, "unsupported_content_type", rec.content_type)
                continue
            if len(body) > self.cfg.max_html_mb << 20:
                drop(rec, "page_too_large", f"{kind} page of {len(body)} bytes, over max_html_mb={self.cfg.max_html_mb}")
                continue
            try:
                text, codec, lic, evidence, signals = self._text_of(rec, body, kind, phases)
                text = nfc(text)  # every kind of document, once
            except Exception as e:  # noqa: BLE001 - one bad page never stops the file
                drop(rec, "extract_error", f"{type(e).__name__}: {e}"[:300])
                continue
            if not text.strip():
                drop(rec, "no_text", kind)
                continue
            counters[f"docs_{kind}"] += 1
            if rec.truncated:
                counters["docs_truncated"] += 1
            for k, v in (("id", record_id(path, rec)), ("offset", rec.offset), ("url", rec.url), ("date", rec.date),
                         ("record_id", rec.record_id), ("truncated", rec.truncated), ("status", rec.http_status),
                         ("ctype", rec.content_type), ("text", text), ("license", lic), ("evidence", evidence),
                         ("opt_out", signals), ("charset", codec)):
                docs[k].append(v)
        counters["robots_txt_sites"] = len(local_robots)
        table = self._documents(path, docs, local_robots, phases)
        drop_table = self._drops(path, drops)
        pdf_rows = pdf_table(pdfs)
        counters["pdfs_queued"] = pdf_rows.num_rows
        assert n == table.num_rows + drop_table.num_rows
        return StageOutput(table, drop_table, dict(counters), records_in=n, phases=phases.rounded()), pdf_rows

    def _status_ok(self, status: int) -> bool:
        allowed = self.cfg.http_ok
        return status in allowed if allowed else 200 <= status < 300

    def _text_of(self, rec: Record, body: bytes, kind: str, phases: Phases):
        with phases.timed("decode"):
            text, codec = charset.decode(body, rec.charset, html=kind == "html")
        if kind == "text":
            return text, codec, None, None, sorted(optout.header_signals(rec.headers))
        with phases.timed("signals"):
            lic, evidence = licenses.detect_license(text, rec.url, body if codec == "utf-8" else None)
            signals = optout.header_signals(rec.headers) | optout.meta_signals(text)
        with phases.timed("extract"):
            extracted = self.extract(text)
        return extracted, codec, lic, evidence, sorted(signals)

    def _queue_pdf(self, pdfs: dict, path: str, rec: Record, body: bytes) -> None:
        for k, v in (("id", record_id(path, rec)), ("url", rec.url), ("domain", _domain(rec.url)),
                     ("origin_file", path), ("origin_offset", rec.offset), ("fetched_at", rec.date),
                     ("content_type", rec.content_type), ("http_status", rec.http_status),
                     ("warc_truncated", rec.truncated), ("content_length", len(body)), ("pdf_bytes", body)):
            pdfs[k].append(v)

    def _write_pdfs(self, pdfs: pa.Table, ctx: ShardContext | None) -> None:
        """By hand (no ctx) the queue is written only if `pdf_dir` names it, as shard 0."""
        if not pdfs.num_rows:
            return
        pdf_dir = self.cfg.pdf_dir
        if ctx is not None:
            write_pdf_shard(pdfs, pdf_dir or ctx.step.pdf_queue_dir, ctx.index)
        elif pdf_dir:
            write_pdf_shard(pdfs, pdf_dir, 0)

    def _documents(self, path: str, docs: dict, local_robots: RobotsRules, phases: Phases) -> pa.Table:
        n = len(docs["text"])
        with phases.timed("language_id"):
            langs, scores = self.lid.predict(docs["text"]) if n else ([], [])
        opt_out = []
        for url, signals in zip(docs["url"], docs["opt_out"]):
            robots = local_robots.signals(url) or self.global_robots.signals(url)
            opt_out.append(sorted(set(signals) | set(robots)))
        table = pa.table({
            "id": pa.array(docs["id"], pa.string()),
            "text": pa.array(docs["text"], pa.large_string()),
            "source": pa.array([self.cfg.source] * n, pa.string()),
            "url": pa.array(docs["url"], pa.string()),
            "domain": pa.array([_domain(u) for u in docs["url"]], pa.string()),
            "origin_file": pa.array([path] * n, pa.string()),
            "origin_offset": pa.array(docs["offset"], pa.int64()),
            "fetched_at": _timestamps(docs["date"]),
            "license": pa.array(docs["license"], pa.string()),
            "license_evidence": pa.array(docs["evidence"], pa.string()),
            "opt_out": pa.array(opt_out, pa.list_(pa.string())),
            "language": pa.array(langs, pa.string()),
            # as a list: an ndarray makes pyarrow import numpy.ma to look for a mask (float32
            # values round-trip exactly through Python floats)
            "language_score": pa.array(scores.tolist() if n else [], pa.float32()),
            "meta": pa.array([[("charset", c)] for c in docs["charset"]], pa.map_(pa.string(), pa.string())),
            "warc_record_id": pa.array(docs["record_id"], pa.string()),
            "content_type": pa.array(docs["ctype"], pa.string()),
            "http_status": pa.array(docs["status"], pa.int32()),
            "warc_truncated": pa.array(docs["truncated"], pa.string()),
        })
        return conform(table)

    def _drops(self, path: str, drops: dict) -> pa.Table:
        if not drops["offset"]:
            return empty_drops()
        t = pa.table({
            "id": pa.array(drops["id"], pa.string()),
            "url": pa.array(drops["url"], pa.string()),
            "origin_file": pa.array([path] * len(drops["offset"]), pa.string()),
            "origin_offset": pa.array(drops["offset"], pa.int64()),
        })
        return drop_log(t, self.versioned_name, drops["reason"], drops["detail"])
