"""The one document schema every stage reads and writes, and the drop-log schema.

Core columns are always present in a shard (null where unknown); stages add the
columns listed in ADDED_COLUMNS (or `score_<name>` float32 columns). Columns a user's
Parquet brings beyond these are carried through untouched.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.compute as pc

TIMESTAMP = pa.timestamp("us", tz="UTC")

# name -> (type, meaning). Order here is the column order in every shard.
CORE_COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    "id": (pa.string(), "stable id derived from the origin (file + offset/page, or the user's id)"),
    "text": (pa.large_string(), "document text (UTF-8)"),
    "source": (pa.string(), "mixing domain, e.g. `web`, `encyclopedic`, `code`"),
    "url": (pa.string(), "URL the document was fetched from, if any"),
    "domain": (pa.string(), "host of `url`"),
    "origin_file": (pa.string(), "path or URL of the file that was read (WARC, PDF, JSONL, ...)"),
    "origin_offset": (pa.int64(), "byte offset of the WARC record, or line number in a text file"),
    "origin_page": (pa.int32(), "first PDF page (1-based) this document comes from"),
    "fetched_at": (TIMESTAMP, "crawl time of the record"),
    "license": (pa.string(), "SPDX-style license id (`CC-BY-SA-4.0`, `CC0-1.0`, ...), null if unknown"),
    "license_evidence": (pa.string(), "the snippet the license was read from"),
    "opt_out": (pa.list_(pa.string()), "opt-out signals found (`robots:GPTBot`, `noai`, `tdm-reservation`, ...)"),
    "language": (pa.string(), "ISO 639 code from language ID"),
    "language_score": (pa.float32(), "language ID confidence"),
    "meta": (pa.map_(pa.string(), pa.string()), "free-form string map for anything no column names"),
}

# Columns that stages add. `score_<name>` float32 columns are allowed for any name.
ADDED_COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    "dup_cluster": (pa.string(), "id of the duplicate cluster (null if the document has no duplicate)"),
    "duplicate_of": (pa.string(), "id of the kept document of its cluster (drop log only)"),
    "parent_id": (pa.string(), "for synthetic rows: id of the document they were generated from"),
    "generator": (pa.string(), "for synthetic rows: model and prompt version that wrote them"),
    "topic": (pa.string(), "topic label assigned by a topic model"),
    "n_tokens": (pa.int64(), "tokens in `text` under the run's tokenizer"),
    "tokens": (pa.large_list(pa.uint32()), "token ids of `text` (EOS not included), added by `tokenize`"),
    "pii_counts": (pa.map_(pa.string(), pa.int32()), "masked PII spans per type"),
    "warc_record_id": (pa.string(), "WARC-Record-ID of the record a crawled document came from"),
    "content_type": (pa.string(), "HTTP Content-Type (media type only) of the crawled response"),
    "http_status": (pa.int32(), "HTTP status of the crawled response"),
    "warc_truncated": (pa.string(), "WARC-Truncated value (`length`, `time`, ...; `file_truncated` if the file was cut), null if whole"),
    "pdf_pages": (pa.int32(), "OCR: pages in the PDF"),
    "pages_ocr": (pa.int32(), "OCR: pages read by an OCR engine (the rest: text layer or blank)"),
    "page_engines": (pa.list_(pa.string()), "OCR: engine per page (`pymupdf`, `pymupdf4llm`, `rapidocr-cpu`, `vlm:<model>`, `none`)"),
    "page_routes": (pa.list_(pa.string()), "OCR: router decision per page as `route:reason` (e.g. `ocr:no_text_layer`)"),
    "page_offsets": (pa.list_(pa.int64()), "OCR: character offset in `text` where each page starts"),
}

SCORE_PREFIX = "score_"
SCORE_TYPE = pa.float32()

DOC_SCHEMA = pa.schema([pa.field(n, t) for n, (t, _) in CORE_COLUMNS.items()])

DROP_COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    "id": (pa.string(), "id of the dropped document (or record)"),
    "url": (pa.string(), "its URL"),
    "source": (pa.string(), "its mixing domain"),
    "origin_file": (pa.string(), "file it was read from"),
    "origin_offset": (pa.int64(), "record offset in that file"),
    "stage": (pa.string(), "versioned stage name that dropped it"),
    "reason": (pa.string(), "short reason code, e.g. `too_few_words`"),
    "detail": (pa.string(), "what triggered the reason (a value, a rule, an error message)"),
    "duplicate_of": (pa.string(), "for duplicates: id of the kept copy"),
    "dup_cluster": (pa.string(), "for duplicates: id of the duplicate cluster"),
    "text_preview": (pa.string(), "first 300 characters, for auditing"),
}
DROP_SCHEMA = pa.schema([pa.field(n, t) for n, (t, _) in DROP_COLUMNS.items()])
PREVIEW_CHARS = 300


def column_type(name: str) -> pa.DataType | None:
    """Declared type of a gristmill column, or None for a user column."""
    if name in CORE_COLUMNS:
        return CORE_COLUMNS[name][0]
    if name in ADDED_COLUMNS:
        return ADDED_COLUMNS[name][0]
    if name.startswith(SCORE_PREFIX):
        return SCORE_TYPE
    return None


def conform(table: pa.Table, declared: tuple[str, ...] = ()) -> pa.Table:
    """Return `table` with every core column present, in order, with its declared type.

    Missing core columns become nulls; known columns are cast to their type; any other
    column is kept after the core ones. `declared` (a stage's `adds`): those gristmill
    columns follow the core ones in that order, as nulls where missing, so that every shard
    of a stage that reads several file types has the same schema. Raises ValueError if `id`
    or `text` is missing.
    """
    missing_required = [c for c in ("id", "text") if c not in table.column_names]
    if missing_required:
        raise ValueError(f"documents need columns {missing_required}; got {table.column_names} (other layouts: "
                         "`gristmill read FILE --out DIR --text-key COLUMN` names the text, and derives ids)")
    n = table.num_rows
    columns, fields = [], []
    for name, (typ, _) in CORE_COLUMNS.items():
        if name in table.column_names:
            col = table.column(name)
            if col.type != typ:
                col = col.cast(typ)
        else:
            col = pa.nulls(n, typ)
        columns.append(col)
        fields.append(pa.field(name, typ))
    padded = [c for c in dict.fromkeys(declared) if c not in CORE_COLUMNS and column_type(c) is not None]
    for name in padded + [c for c in table.column_names if c not in padded]:
        if name in CORE_COLUMNS:
            continue
        if name not in table.column_names:
            columns.append(pa.nulls(n, column_type(name)))
            fields.append(pa.field(name, column_type(name)))
            continue
        col = table.column(name)
        typ = column_type(name)
        if typ is not None and col.type != typ:
            col = col.cast(typ)
        columns.append(col)
        fields.append(pa.field(name, col.type))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def empty_documents() -> pa.Table:
    return DOC_SCHEMA.empty_table()


def stable_id(*parts: object) -> str:
    """A stable document id from its origin (file, offset, page...): 16 hex chars of SHA-1."""
    h = hashlib.sha1("\x1f".join("" if p is None else str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:16]


def drop_log(table: pa.Table, stage: str, reasons, details=None, duplicate_of=None,
             dup_cluster=None) -> pa.Table:
    """Drop-log rows for every row of `table` (documents being dropped).

    `reasons`/`details`/`duplicate_of`/`dup_cluster` are a scalar string or an array
    aligned with `table`.
    """
    n = table.num_rows

    def col(name, typ=pa.string()):
        if name in table.column_names:
            c = table.column(name)
            return c if c.type == typ else c.cast(typ)
        return pa.nulls(n, typ)

    def broadcast(value):
        if value is None or isinstance(value, str):
            return pa.array([value] * n, pa.string())
        arr = value if isinstance(value, (pa.Array, pa.ChunkedArray)) else pa.array(value, pa.string())
        return arr.cast(pa.string())

    if "text" in table.column_names and n:
        preview = pc.utf8_slice_codeunits(table.column("text").cast(pa.large_string()), 0, PREVIEW_CHARS)
        preview = preview.cast(pa.string())
    else:
        preview = pa.nulls(n, pa.string())
    arrays = [
        col("id"), col("url"), col("source"), col("origin_file"), col("origin_offset", pa.int64()),
        pa.array([stage] * n, pa.string()), broadcast(reasons), broadcast(details),
        broadcast(duplicate_of), broadcast(dup_cluster), preview,
    ]
    return pa.Table.from_arrays(arrays, schema=DROP_SCHEMA)


def empty_drops() -> pa.Table:
    return DROP_SCHEMA.empty_table()
