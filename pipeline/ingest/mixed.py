"""`read_any@1`: one source step for mixed inputs, by file type.

Crawl archives (.warc, .arc, .wet, compressed or not) go through `ingest@1`, PDF files
through the OCR router `ocr@1`, anything else (JSONL, Parquet, text) through
`read_documents@1`. A workflow may have only one source step, so this is how one run starts
from WARCs, PDFs and document files together (the quickstart).

PDF responses inside a WARC (`warc_pdfs: ocr`, the default) are OCRed in the same shard:
ingest's PDF-queue rows go through the OCR stage's queue path (its isolated worker, time
and memory limits), each becoming one `source: pdf` document with the WARC as its origin,
or a drop with the OCR's reason (`truncated_pdf`, `encrypted`, ...) in place of
`pdf_queued`. `warc_pdfs: queue` keeps `gristmill ingest`'s behaviour: the PDFs go to the
queue (OUT/pdfs/) for a later `gristmill ocr`.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from gristmill.ocr.stage import OcrStage
from gristmill.pipeline.ingest.stage import Ingest
from gristmill.pipeline.readers import ReadDocuments
from gristmill.pipeline.schema import conform
from gristmill.pipeline.stage import Stage, StageOutput

ARCHIVE = re.compile(r"\.(warc|arc|wet|warc\.wet)(\.gz|\.lz4|\.zst)?$", re.I)


class ReadAny(Stage):
    """Params: ingest (params for ingest@1), ocr (for ocr@1), read (for read_documents@1),
    warc_pdfs ("ocr": OCR the PDF records of each WARC inline | "queue": write the PDF queue)."""

    name = "read_any"
    kind = "source"
    reads = ()
    adds = tuple(dict.fromkeys(Ingest.adds + ReadDocuments.adds + OcrStage.adds))

    def setup(self) -> None:
        self.ingest = Ingest(**(self.params.get("ingest") or {}))
        self.read = ReadDocuments(**(self.params.get("read") or {}))
        self.read.ensure_setup()
        self.ocr = OcrStage(**(self.params.get("ocr") or {}))  # its PDF worker starts on first use

    def process_source(self, path: str, job) -> StageOutput:
        return self.process_file(path, job)

    def process_file(self, path: str, job=None) -> StageOutput:
        out = self._read(path, job)
        # every shard gets the same gristmill columns in the same order, nulls where a file type
        # has none (a PDF has no `http_status`, a JSONL file no `page_engines`), so the step's
        # shards read as one table (`polars.read_parquet("DIR/part-*.parquet")` needs that)
        return StageOutput(conform(out.table, self.adds), out.drops, out.counters, records_in=out.records_in)

    def _read(self, path: str, job) -> StageOutput:
        self.ensure_setup()
        if ARCHIVE.search(path):
            mode = self.params.get("warc_pdfs", "ocr")
            if mode not in ("ocr", "queue"):
                raise ValueError(f"warc_pdfs must be 'ocr' or 'queue', not {mode!r}")
            if mode == "queue":
                return self.ingest.process_file(path, job)
            return self._ingest_and_ocr(path, job)
        if path.lower().endswith(".pdf"):
            self.ocr.ensure_setup()
            return self.ocr.process_file(path)
        return self.read.process_file(path)

    def _ingest_and_ocr(self, path: str, job) -> StageOutput:
        web, pdfs = self.ingest.read_file(path)
        if not pdfs.num_rows:
            return web
        self.ocr.ensure_setup()
        ocr = self.ocr.process_queue_rows(pdfs)
        # The PDFs' `pdf_queued` rows give way to the OCR's documents and drops.
        queued = pc.equal(web.drops.column("reason"), "pdf_queued")
        drops = pa.concat_tables([web.drops.filter(pc.invert(queued)), ocr.drops.cast(web.drops.schema)])
        docs = pa.concat_tables([web.table, ocr.table], promote_options="permissive")
        counters = dict(web.counters)
        for k, v in ocr.counters.items():
            counters[k] = counters.get(k, 0) + v
        counters["pdfs_queued"] = 0
        counters["warc_pdfs_ocr"] = pdfs.num_rows
        assert web.records_in == docs.num_rows + drops.num_rows, "in = out + dropped"
        return StageOutput(docs, drops, counters, records_in=web.records_in)
