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
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from gristmill.ocr.stage import OcrStage
from gristmill.pipeline.context import ShardContext, StepContext
from gristmill.pipeline.ingest.readers import ReadDocuments
from gristmill.pipeline.ingest.stage import Ingest
from gristmill.pipeline.params import param, parse
from gristmill.pipeline.schema import conform
from gristmill.pipeline.stage import Stage, StageOutput

ARCHIVE = re.compile(r"\.(warc|arc|wet|warc\.wet)(\.gz|\.lz4|\.zst)?$", re.I)


class ReadAny(Stage):
    """One source step for mixed inputs: archives to ingest@1, PDFs to ocr@1, the rest to read_documents@1."""

    name = "read_any"
    kind = "source"
    reads = ()
    adds = tuple(dict.fromkeys(Ingest.adds + ReadDocuments.adds + OcrStage.adds))

    @dataclass(frozen=True)
    class Params:
        ingest: dict[str, Any] = param({}, "parameters of ingest@1, for crawl archives (.warc, .arc, .wet)")
        ocr: dict[str, Any] = param({}, "parameters of ocr@1, for PDF files and the PDF records of archives")
        read: dict[str, Any] = param({}, "parameters of read_documents@1, for JSONL, Parquet and text files")
        warc_pdfs: str = param("ocr", "PDF records of an archive: OCR them in the same shard, or write the PDF "
                                      "queue (OUT/pdfs) as `gristmill ingest` does", choices=("ocr", "queue"))

    def __init__(self, **params):
        super().__init__(**params)
        # the inner stages' params are checked here, so a bad key fails when the workflow loads
        for key, cls in (("ingest", Ingest), ("ocr", OcrStage), ("read", ReadDocuments)):
            parse(cls.Params, getattr(self.cfg, key), f"{self.versioned_name} {key} ({cls.versioned()})")
        self.ingest = Ingest(**self.cfg.ingest)  # each is set up on its first file
        self.ocr = OcrStage(**self.cfg.ocr)  # its PDF worker starts on first use
        self.read = ReadDocuments(**self.cfg.read)

    @classmethod
    def expand_input(cls, spec: dict) -> list[str]:
        """A workflow input given as a mapping: a Common Crawl crawl by name, as for ingest@1."""
        return Ingest.expand_input(spec)

    def setup(self, ctx: StepContext | None = None) -> None:
        self.read.ensure_setup(ctx)

    def process_file(self, path: str, ctx: ShardContext | None = None) -> StageOutput:
        out = self._read(path, ctx)
        # every shard gets the same gristmill columns in the same order, nulls where a file type
        # has none (a PDF has no `http_status`, a JSONL file no `page_engines`), so the step's
        # shards read as one table (`polars.read_parquet("DIR/part-*.parquet")` needs that)
        return StageOutput(conform(out.table, self.adds), out.drops, out.counters, records_in=out.records_in)

    def _read(self, path: str, ctx: ShardContext | None) -> StageOutput:
        step = ctx.step if ctx is not None else None
        self.ensure_setup(step)
        if ARCHIVE.search(path):
            self.ingest.ensure_setup(step)
            if self.cfg.warc_pdfs == "queue":
                return self.ingest.process_file(path, ctx)
            return self._ingest_and_ocr(path, step)
        if path.lower().endswith(".pdf"):
            self.ocr.ensure_setup(step)
            return self.ocr.process_file(path, ctx)
        return self.read.process_file(path, ctx)

    def _ingest_and_ocr(self, path: str, step: StepContext | None) -> StageOutput:
        web, pdfs = self.ingest.read_file(path)
        if not pdfs.num_rows:
            return web
        self.ocr.ensure_setup(step)
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
