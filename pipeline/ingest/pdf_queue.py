"""The PDF queue: PDF responses found by ingest, kept for the OCR stage.

Format agreed with OCR: Parquet shards `DIR/pdfs/part-NNNNN.parquet` (NNNNN = the ingest
shard, i.e. the input file's number) with the columns of PDF_SCHEMA. A truncated PDF is
queued too (usually unreadable, but OCR decides and counts it); `warc_truncated` says so.
"""

from __future__ import annotations

import pyarrow as pa

from gristmill.pipeline.layout import part_path
from gristmill.pipeline.schema import TIMESTAMP
from gristmill.pipeline.shards import write_parquet_atomic

PDF_SCHEMA = pa.schema([
    ("id", pa.string()), ("url", pa.string()), ("domain", pa.string()), ("origin_file", pa.string()),
    ("origin_offset", pa.int64()), ("fetched_at", TIMESTAMP), ("content_type", pa.string()),
    ("http_status", pa.int32()), ("warc_truncated", pa.string()), ("content_length", pa.int64()),
    ("pdf_bytes", pa.binary()),
])
PDF_TYPES = ("application/pdf", "application/x-pdf", "application/acrobat")


def is_pdf(content_type: str | None, body: bytes | None, url: str | None) -> bool:
    ct = (content_type or "").split(";")[0].strip().lower()
    if ct in PDF_TYPES:
        return True
    # Servers often send PDFs as application/octet-stream: trust the magic bytes.
    return bool(body) and body[:5] == b"%PDF-" and ct in ("", "application/octet-stream", "binary/octet-stream")


def pdf_table(rows: dict[str, list]) -> pa.Table:
    cols = {name: rows.get(name, []) for name in PDF_SCHEMA.names}
    arrays = []
    for field in PDF_SCHEMA:
        values = cols[field.name]
        if field.type == TIMESTAMP:
            arrays.append(pa.array(values, pa.string()).cast(TIMESTAMP) if values else pa.array([], TIMESTAMP))
        else:
            arrays.append(pa.array(values, field.type))
    return pa.Table.from_arrays(arrays, schema=PDF_SCHEMA)


def write_pdf_shard(table: pa.Table, queue_dir: str, index: int) -> str:
    """Write shard `index` of the PDF queue folder `queue_dir` (a step's `ctx.step.pdf_queue_dir`)."""
    path = part_path(queue_dir, index)
    write_parquet_atomic(table, path)
    return path
