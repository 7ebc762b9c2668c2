"""`ocr@1` (and `ocr_gpu@1`): PDFs to documents, one per PDF, each page routed to the
cheapest engine that reads it right.

A source stage. Its input is a PDF file or a PDF queue shard written by ingest
(`DIR/pdfs/part-*.parquet`, one PDF per row in `pdf_bytes`). Every PDF is parsed in an
isolated worker process (isolate.py) with per-page and per-document time limits and a
memory limit; a PDF that cannot be read is dropped with a reason, never lost.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.ocr.assemble import assemble
from gristmill.ocr.isolate import DocResult, PdfWorker
from gristmill.ocr.router import RouterConfig
from gristmill.pipeline.context import ShardContext
from gristmill.pipeline.params import param
from gristmill.pipeline.schema import conform, drop_log, stable_id
from gristmill.pipeline.stage import Stage, StageOutput
from gristmill.pipeline.transient import TRANSIENT_COUNTER, is_transient

QUEUE_COLUMNS = ("id", "url", "domain", "origin_file", "origin_offset", "fetched_at", "warc_truncated", "pdf_bytes")
META_KEYS = ("title", "author", "producer", "creator", "creationDate", "format")
# What a PDF cut short by the crawler (WARC-Truncated) fails with: dropped as `truncated_pdf`.
TRUNCATION_REASONS = ("unreadable_pdf", "no_pages", "parse_timeout", "parser_crash")
OUT_COLUMNS = {
    "pdf_pages": pa.int32(), "pages_ocr": pa.int32(), "page_engines": pa.list_(pa.string()),
    "page_routes": pa.list_(pa.string()), "page_offsets": pa.list_(pa.int64()),
}


class OcrStage(Stage):
    """PDFs to documents, one per PDF, each page routed to the cheapest engine that reads it right."""

    name = "ocr"
    kind = "source"
    reads = ()
    adds = ("id", "text", "source", "url", "domain", "origin_file", "origin_offset", "origin_page",
            "fetched_at", "license", "license_evidence", "opt_out", "meta", *OUT_COLUMNS)
    device = "cpu"

    @dataclass(frozen=True)
    class Params:
        source: str = param("pdf", "`source` (mixing domain) of the documents")
        text_mode: str = param("plain", "text-layer pages: pymupdf lines (fast), pymupdf4llm Markdown (tables; "
                                        "~300x slower), or auto: Markdown only on pages with ruled lines (tables)",
                               choices=("plain", "markdown", "auto"))
        ocr: str = param("cpu", "OCR for pages that need it: the bundled engine, or none (text layers only)",
                         choices=("cpu", "none"))
        dpi: int = param(150, "resolution pages are rendered at for OCR", gt=0)
        threads: int = param(1, "onnxruntime threads per PDF worker", ge=1)
        router: dict[str, Any] = param({}, "page router settings (fields of ocr.router.RouterConfig)")
        render_px: int = param(1288, "long side in pixels of pages rendered for a VLM", gt=0)
        page_timeout_s: float = param(120.0, "CPU seconds per page before it is failed (5x that in wall time)",
                                      gt=0, cli="--page-timeout")
        doc_timeout_s: float = param(1800.0, "seconds per PDF before it is dropped", gt=0, cli="--doc-timeout")
        mem_limit_mb: int = param(3072, "address-space limit of the PDF worker", gt=0)
        max_failed_pages: float = param(0.1, "share of a PDF's pages that may fail before it is dropped",
                                        ge=0, le=1)
        remove_running_lines: bool = param(True, "remove running headers, footers and page numbers")
        batch_pdfs: int = param(16, "PDFs of a queue shard parsed before their pages are finished together", ge=1)
        origin_names: dict[str, str] = param({}, "input path -> the `origin_file` to record for it "
                                                 "(the command line keeps paths as the user gave them)")

    def __init__(self, **params):
        super().__init__(**params)
        known = {f.name for f in dataclasses.fields(RouterConfig)}
        unknown = sorted(set(self.cfg.router) - known)
        if unknown:
            raise ValueError(f"router: unknown setting {unknown[0]!r}; settings: {', '.join(sorted(known))}")
        self._worker: PdfWorker | None = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_worker"] = None
        return state

    # -- options ------------------------------------------------------------------------
    def worker_opts(self) -> dict:
        c = self.cfg
        return {"text_mode": c.text_mode, "ocr": self._ocr_mode(), "dpi": c.dpi, "threads": c.threads,
                "router": dict(c.router), "render_px": c.render_px}

    def _ocr_mode(self) -> str:
        mode = self.cfg.ocr
        return "cuda" if mode == "cpu" and self.device == "cuda" else mode

    def worker(self) -> PdfWorker:
        if self._worker is None:
            self._worker = PdfWorker.shared(self.cfg.mem_limit_mb)
        return self._worker

    # -- input --------------------------------------------------------------------------
    def process_file(self, path: str, ctx: ShardContext | None = None) -> StageOutput:
        path = self.cfg.origin_names.get(path, path)
        if path.lower().endswith(".parquet"):
            return self._queue(path)
        head = b""
        try:
            with fsspec.open(path, "rb") as f:
                head = f.read(1024)
        except OSError as e:
            out = self._drop_one({"id": stable_id(path), "origin_file": path}, "unreadable_file", str(e))
            if is_transient(e):  # a 503, a reset: the shard task reads the file again
                out.counters[TRANSIENT_COUNTER] = 1
            return out
        if b"%PDF" not in head:
            return self._drop_one({"id": stable_id(path), "origin_file": path}, "not_pdf",
                                  f"no %PDF header in the first 1024 bytes: {head[:16]!r}")
        src = path if "://" not in path else fsspec.open(path, "rb").open().read()
        row = {"id": stable_id(path), "origin_file": path}
        return self._collect([self._one(src, row, truncated=False)])

    def _queue(self, path: str) -> StageOutput:
        with fsspec.open(path, "rb") as f:
            pf = pq.ParquetFile(f)
            names = set(pf.schema_arrow.names)
            if "pdf_bytes" not in names:
                raise ValueError(f"{path} is not a PDF queue shard (no pdf_bytes column)")
            cols = [c for c in QUEUE_COLUMNS if c in names]
            results = self._queue_batches(pf.iter_batches(batch_size=self._batch_pdfs(), columns=cols))
        return self._collect(results)

    def process_queue_rows(self, table: pa.Table) -> StageOutput:
        """PDF queue rows already in memory (ingest's PDFs of one WARC, read inline by
        `read_any@1`): one document or one drop per row, as for a queue shard."""
        cols = [c for c in QUEUE_COLUMNS if c in table.column_names]
        return self._collect(self._queue_batches(table.select(cols).to_batches(max_chunksize=self._batch_pdfs())))

    def _batch_pdfs(self) -> int:
        return self.cfg.batch_pdfs

    def _queue_batches(self, batches) -> list[dict]:
        results = []
        # A batch of PDFs is parsed first, then its pages are finished together, so an
        # engine that works in the parent (the VLM client) has a whole batch in flight.
        for batch in batches:
            parsed = []
            for row in batch.to_pylist():
                data = row.pop("pdf_bytes")
                if not row.get("id"):
                    row["id"] = stable_id(row.get("origin_file"), row.get("origin_offset"))
                truncated = bool(row.pop("warc_truncated", None))
                if not data:
                    results.append(self._dropped_row(row, "empty_pdf", "no bytes in the queue row"))
                else:
                    parsed.append((self.run_worker(bytes(data)), row, truncated))
            results.extend(self._finish_batch(parsed))
        return results

    # -- one document -------------------------------------------------------------------
    def run_worker(self, src) -> DocResult:
        return self.worker().run(src, self.worker_opts(), page_timeout_s=self.cfg.page_timeout_s,
                                 doc_timeout_s=self.cfg.doc_timeout_s)

    def finish_pages(self, docs: list[tuple[DocResult, dict]]) -> None:
        """Hook for engines that complete pages in this process (the VLM client), given
        every readable document of a batch with its counters."""

    def _finish_batch(self, parsed: list[tuple[DocResult, dict, bool]]) -> list[dict]:
        counters = [{"pdfs": 1, "worker_restarts": res.restarts, "pdf_ms": int(res.seconds * 1000)}
                    for res, _, _ in parsed]  # timings go to counters: documents stay byte-identical
        self.finish_pages([(res, c) for (res, _, _), c in zip(parsed, counters) if res.error is None])
        return [self._document(res, row, truncated, c) for (res, row, truncated), c in zip(parsed, counters)]

    def _one(self, src, row: dict, truncated: bool) -> dict:
        return self._finish_batch([(self.run_worker(src), row, truncated)])[0]

    def _document(self, res: DocResult, row: dict, truncated: bool, counters: dict) -> dict:
        if res.error is not None:
            reason, detail = res.error
            if truncated and reason in TRUNCATION_REASONS:
                reason, detail = "truncated_pdf", f"{reason}: {detail}"
            return self._dropped_row(row, reason, detail, counters)
        n = int(res.info["pages"])
        doc = assemble(n, res.pages, remove_running=self.cfg.remove_running_lines)
        counters.update({"pages": n, "pages_ocr": doc.pages_ocr, "pages_failed": doc.pages_failed,
                         "running_lines_removed": doc.running_lines_removed, **doc.counters})
        counters["gpu_fallback_pages"] = sum(1 for pg in res.pages.values() if pg.get("gpu_fallback"))
        meta = {k: str(v) for k, v in (res.info.get("meta") or {}).items() if k in META_KEYS}
        if res.info.get("repaired"):
            meta["pdf_repaired"] = "true"
        if truncated:
            meta["warc_truncated"] = "true"
        rights = res.info.get("rights") or {}
        out = {**row, "text": doc.text, "origin_page": 1, "pdf_pages": n, "pages_ocr": doc.pages_ocr,
               "page_engines": doc.engines, "page_routes": doc.routes, "page_offsets": doc.page_offsets,
               "license": rights.get("license"), "license_evidence": rights.get("license_evidence"),
               "opt_out": rights.get("opt_out") or [], "meta": meta}
        max_failed = self.cfg.max_failed_pages
        if doc.pages_failed and doc.pages_failed > max_failed * n:
            failed = [r for r in doc.routes if r.startswith("failed")]
            return self._dropped_row(out, "truncated_pdf" if truncated else "too_many_failed_pages",
                                     f"{doc.pages_failed}/{n} pages failed: {sorted(set(failed))}", counters)
        if not doc.text.strip():
            # A cut-off PDF often still opens (MuPDF repairs it) but its page contents are gone.
            return self._dropped_row(out, "truncated_pdf" if truncated else "no_text",
                                     json.dumps(sorted(set(doc.routes)))[:300], counters)
        return {"kept": out, "counters": counters}

    def _dropped_row(self, row: dict, reason: str, detail: str, counters: dict | None = None) -> dict:
        return {"dropped": (row, reason, detail), "counters": counters or {"pdfs": 1}}

    def _drop_one(self, row: dict, reason: str, detail: str) -> StageOutput:
        return self._collect([self._dropped_row(row, reason, detail)])

    # -- output -------------------------------------------------------------------------
    def _collect(self, results: list[dict]) -> StageOutput:
        source = self.cfg.source
        kept = [r["kept"] for r in results if "kept" in r]
        dropped = [r["dropped"] for r in results if "dropped" in r]
        counters: dict[str, int] = {}
        for r in results:
            for k, v in r["counters"].items():
                counters[k] = counters.get(k, 0) + int(v)
        table = _documents(kept, source)
        if dropped:
            rows = [dict(row, source=source) for row, _, _ in dropped]
            t = pa.Table.from_pylist([{k: r.get(k) for k in ("id", "url", "source", "origin_file", "origin_offset",
                                                              "text")} for r in rows],
                                     schema=pa.schema([("id", pa.string()), ("url", pa.string()),
                                                       ("source", pa.string()), ("origin_file", pa.string()),
                                                       ("origin_offset", pa.int64()), ("text", pa.large_string())]))
            drops = drop_log(t, self.versioned_name, [d[1] for d in dropped], [str(d[2])[:500] for d in dropped])
        else:
            drops = drop_log(pa.table({"id": pa.array([], pa.string())}), self.versioned_name, [], [])
        return StageOutput(table, drops, counters, records_in=len(results))


def _documents(kept: list[dict], source: str) -> pa.Table:
    base = {
        "id": pa.string(), "text": pa.large_string(), "url": pa.string(), "domain": pa.string(),
        "origin_file": pa.string(), "origin_offset": pa.int64(), "origin_page": pa.int32(),
        "fetched_at": pa.timestamp("us", tz="UTC"), "license": pa.string(), "license_evidence": pa.string(),
        "opt_out": pa.list_(pa.string()), "meta": pa.map_(pa.string(), pa.string()), **OUT_COLUMNS,
    }
    cols = {}
    for name, typ in base.items():
        values = [r.get(name) for r in kept]
        if name == "meta":
            values = [sorted((v or {}).items()) for v in values]
        cols[name] = pa.array(values, typ)
    cols["source"] = pa.array([source] * len(kept), pa.string())
    return conform(pa.table(cols))


class OcrGpuStage(OcrStage):
    """The router of ocr@1 with the bundled OCR engine on CUDA (CPU fallback).

    Asks Dask for a GPU worker; without one (or without onnxruntime's CUDA provider) it
    runs on CPU and counts the pages in `gpu_fallback_pages`."""

    name = "ocr_gpu"
    resources = {"GPU": 1}
    device = "cuda"
