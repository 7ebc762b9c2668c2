"""`read_any@1`: one source step for mixed inputs, by file type.

Crawl archives (.warc, .arc, .wet, compressed or not) go through `ingest@1`, PDF files
through the OCR router `ocr@1`, anything else (JSONL, Parquet, text) through
`read_documents@1`. A workflow may have only one source step, so this is how one run starts
from WARCs, PDFs and document files together (the quickstart).
"""

from __future__ import annotations

import re

from gristmill.ocr.stage import OcrStage
from gristmill.pipeline.ingest.stage import Ingest
from gristmill.pipeline.readers import ReadDocuments
from gristmill.pipeline.stage import Stage, StageOutput

ARCHIVE = re.compile(r"\.(warc|arc|wet|warc\.wet)(\.gz|\.lz4|\.zst)?$", re.I)


class ReadAny(Stage):
    """Params: ingest (params for ingest@1), ocr (for ocr@1), read (for read_documents@1)."""

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
        self.ensure_setup()
        if ARCHIVE.search(path):
            return self.ingest.process_file(path, job)
        if path.lower().endswith(".pdf"):
            self.ocr.ensure_setup()
            return self.ocr.process_file(path)
        return self.read.process_file(path)
