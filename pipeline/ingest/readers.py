"""`read_documents`: JSONL / Parquet / plain-text files to documents (a source stage).

Reads local paths and anything fsspec opens (`s3://`, `https://`), compressed or not.
A line that is not JSON, or has no string text, is dropped with a reason, never skipped
silently; every line read counts in `docs_in`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gristmill.pipeline.context import ShardContext
from gristmill.pipeline.ingest import charset
from gristmill.pipeline.params import param
from gristmill.pipeline.schema import conform, drop_log, stable_id
from gristmill.pipeline.stage import Stage, StageOutput
from gristmill.pipeline.transient import TRANSIENT_COUNTER, is_transient

try:  # orjson is ~3x faster and ships with datatrove's extras; json is the fallback
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

STRING_FIELDS = ("url", "domain", "license", "license_evidence", "language")


class ReadDocuments(Stage):
    """JSONL / Parquet / plain-text files to documents."""

    name = "read_documents"
    kind = "source"
    reads = ()
    adds = ("id", "text", "source", "url", "origin_file", "origin_offset", "license")
    # From a folder only JSONL and Parquet are taken: folders of data usually also hold
    # README/LICENSE .txt files. Name .txt/.md files (or a glob) to read them as documents.
    input_suffixes = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".ndjson", ".parquet")

    @dataclass(frozen=True)
    class Params:
        text_key: str = param("text", "JSONL field (or Parquet column) holding the document text")
        id_key: str = param("id", "JSONL field (or Parquet column) holding the document id "
                                  "(missing: derived from file and line)")
        source: str | None = param(None, "`source` for records that have none")
        default_license: str | None = param(None, "`license` for records that have none (when the user knows it)")
        max_record_mb: int = param(64, "JSONL lines and text files longer than this are dropped as record_too_large "
                                       "(read no further: a gzip bomb costs no memory)", gt=0)

    def process_file(self, path: str, ctx: ShardContext | None = None) -> StageOutput:
        p = path.lower()
        if p.endswith(".parquet"):
            return self._parquet(path)
        if p.endswith((".txt", ".txt.gz", ".md")):
            return self._plain(path)
        return self._jsonl(path)

    def _defaults(self):
        return self.cfg.source, self.cfg.default_license

    def _jsonl(self, path: str) -> StageOutput:
        text_key, id_key = self.cfg.text_key, self.cfg.id_key
        source, default_license = self._defaults()
        rows = {k: [] for k in ("id", "text", "source", "origin_offset", *STRING_FIELDS)}
        bad = {"id": [], "origin_offset": [], "reason": [], "detail": []}
        n = 0
        with fsspec.open(path, "rb", compression="infer") as f:
            for lineno, line in _lines(f, bad, path, self.cfg.max_record_mb << 20):
                n += 1
                if line is None:  # already a drop-log row (too long; a broken stream: the rest unread)
                    continue
                if not line.strip():
                    n -= 1
                    continue
                try:
                    rec = _loads(line)
                    if not isinstance(rec, dict):
                        raise ValueError("line is not a JSON object")
                except ValueError as e:
                    bad["id"].append(stable_id(path, lineno))
                    bad["origin_offset"].append(lineno)
                    bad["reason"].append("invalid_json")
                    bad["detail"].append(str(e)[:200])
                    continue
                text = rec.get(text_key)
                doc_id = rec.get(id_key)
                doc_id = str(doc_id) if doc_id is not None else stable_id(path, lineno)
                if not isinstance(text, str):
                    bad["id"].append(doc_id)
                    bad["origin_offset"].append(lineno)
                    bad["reason"].append("missing_text")
                    bad["detail"].append(f"{text_key!r} is {type(text).__name__}")
                    continue
                rows["id"].append(doc_id)
                rows["text"].append(text)
                rows["source"].append(rec.get("source") or source)
                rows["origin_offset"].append(lineno)
                for k in STRING_FIELDS:
                    v = rec.get(k)
                    rows[k].append(None if v is None else str(v))
                if rows["license"][-1] is None:
                    rows["license"][-1] = default_license
        table = pa.table(rows)
        table = table.append_column("origin_file", pa.array([path] * table.num_rows, pa.string()))
        bad_table = pa.table({"id": bad["id"], "origin_offset": pa.array(bad["origin_offset"], pa.int64())})
        bad_table = bad_table.append_column("origin_file", pa.array([path] * len(bad["id"]), pa.string()))
        drops = drop_log(bad_table, self.versioned_name, bad["reason"], bad["detail"])
        counters = {"lines": n, **({TRANSIENT_COUNTER: bad["transient"]} if "transient" in bad else {})}
        return StageOutput(conform(table), drops, counters, records_in=n)

    def _plain(self, path: str) -> StageOutput:
        source, default_license = self._defaults()
        limit = self.cfg.max_record_mb << 20
        with fsspec.open(path, "rb", compression="infer") as f:
            raw = f.read(limit + 1)
        # a text file declares no charset: BOM, strict UTF-8, else uchardet's guess (as ingest
        # does for text/plain), so a Latin-1 file is not read as U+FFFD where its accents were
        text, codec = charset.decode(raw, html=False)
        text = text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as text mode read it
        if len(raw) > limit:
            t = pa.table({"id": [stable_id(path)], "origin_file": [path]})
            drops = drop_log(t, self.versioned_name, "record_too_large", f"over max_record_mb={self.cfg.max_record_mb}")
            return StageOutput(conform(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())})),
                               drops, records_in=1)
        table = pa.table({
            "id": [stable_id(path)], "text": [text], "source": [source],
            "origin_file": [path], "license": [default_license],
            "meta": pa.array([[("charset", codec)]], pa.map_(pa.string(), pa.string())),
        })
        return StageOutput(conform(table), records_in=1)

    def _parquet(self, path: str) -> StageOutput:
        with fsspec.open(path, "rb") as f:
            try:
                pf = pq.ParquetFile(f)
            except Exception as e:  # noqa: BLE001 - no readable footer: nothing in it can be read
                return _unreadable(path, self.versioned_name, "unreadable_file", e)
            table, broken, repaired = _row_groups(pf, path)
        out = self._parquet_table(path, table)
        if repaired:
            out.counters["invalid_utf8_repaired"] = repaired
        if broken:  # row groups that fail to decode are one drop row each; the others are read
            rows = [_unreadable(path, self.versioned_name, "unreadable_row_group", e, i).drops for i, e in broken]
            out.drops = pa.concat_tables([out.drops, *rows])
            out.counters["unreadable_row_groups"] = len(broken)
            if any(is_transient(e) for _, e in broken):
                out.counters[TRANSIENT_COUNTER] = 1
            out.records_in += len(broken)
        return out

    def _parquet_table(self, path: str, table: pa.Table) -> StageOutput:
        n = table.num_rows
        for key, name in ((self.cfg.text_key, "text"), (self.cfg.id_key, "id")):
            if key != name and key in table.column_names:  # the user's field names, as for JSONL
                if name in table.column_names:
                    table = table.drop_columns([name])
                table = table.rename_columns([name if c == key else c for c in table.column_names])
        if "id" not in table.column_names and "text" in table.column_names:
            table = table.append_column("id", pa.array([None] * n, pa.string()))
        if "id" in table.column_names and table.column("id").null_count:
            # a null (or no) id would break every join on it downstream: derive it from file and row
            ids = table.column("id").cast(pa.string()).to_pylist()
            fixed = [stable_id(path, i) if v is None else v for i, v in enumerate(ids)]
            table = table.set_column(table.column_names.index("id"), "id", pa.array(fixed, pa.string()))
        if "text" not in table.column_names or "id" not in table.column_names:
            missing = [c for c in ("id", "text") if c not in table.column_names]
            ids = table.column("id").cast(pa.string()) if "id" in table.column_names else \
                pa.array([stable_id(path, i) for i in range(n)])
            t = pa.table({"id": ids, "origin_file": pa.array([path] * n, pa.string())})
            drops = drop_log(t, self.versioned_name, "missing_text", f"parquet lacks columns {missing}")
            return StageOutput(conform(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())})),
                               drops, records_in=n)
        if "origin_file" not in table.column_names:
            table = table.append_column("origin_file", pa.array([path] * n, pa.string()))
        table = conform(table)
        no_text = pc.is_null(table.column("text"))
        drops = drop_log(table.filter(no_text), self.versioned_name, "missing_text", "text is null")
        return StageOutput(table.filter(pc.invert(no_text)), drops, {}, records_in=n)


def _lines(f, bad: dict, path: str, limit: int, chunk_size: int = 1 << 20):
    """(line number, line) of a binary stream, read a MiB at a time, or (line number, None) for a
    line already in the drop log: one longer than `limit` (`record_too_large`, skipped without
    holding it: a gzip bomb costs neither memory nor a readline per 8 KiB), or the point where
    the stream broke off (`read_error`: a corrupt gzip or zstd member, found by fuzzing;
    `unreadable_file` when not one byte could be read), after which it ends."""
    lineno = -1
    pending: list[bytes] = []  # pieces of the line read so far
    size, skipping = 0, False
    got_bytes = False  # a stream that fails before its first byte is an unreadable file

    def bad_row(reason: str, detail: str, *salt) -> None:
        bad["id"].append(stable_id(path, lineno, *salt))
        bad["origin_offset"].append(lineno)
        bad["reason"].append(reason)
        bad["detail"].append(detail[:200])

    while True:
        try:
            chunk = f.read(chunk_size)
        except Exception as e:  # noqa: BLE001 - zlib.error, EOFError, zstd errors ...
            lineno += 1
            reason = "read_error" if got_bytes else "unreadable_file"
            bad_row(reason, f"{type(e).__name__}: {e}", reason)
            if is_transient(e):  # the shard task reads the file again
                bad["transient"] = bad.get("transient", 0) + 1
            yield lineno, None
            return
        got_bytes = got_bytes or bool(chunk)
        if not chunk:
            if skipping or size:
                lineno += 1
                if skipping:
                    bad_row("record_too_large", f"line over {limit} bytes")
                yield lineno, None if skipping else b"".join(pending)
            return
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            piece = chunk[start:end + 1]
            lineno += 1
            if skipping or size + len(piece) > limit + 1:
                bad_row("record_too_large", f"line over {limit} bytes")
                yield lineno, None
            else:
                pending.append(piece)
                yield lineno, b"".join(pending)
            pending, size, skipping = [], 0, False
            start = end + 1
        if start < len(chunk) and not skipping:
            pending.append(chunk[start:])
            size += len(chunk) - start
            if size > limit:
                pending, size, skipping = [], 0, True


def _unreadable(path: str, stage: str, reason: str, e: Exception, part: int | None = None) -> StageOutput:
    """One drop-log row for a file (or a Parquet row group) that cannot be read."""
    t = pa.table({"id": [stable_id(path) if part is None else stable_id(path, "row_group", part)],
                  "origin_file": [path]})
    detail = f"{'' if part is None else f'row group {part}: '}{type(e).__name__}: {e}"[:300]
    empty = conform(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}))
    counters = {TRANSIENT_COUNTER: 1} if is_transient(e) else {}
    return StageOutput(empty, drop_log(t, stage, reason, detail), counters, records_in=1)


def _row_groups(pf: pq.ParquetFile, path: str) -> tuple[pa.Table, list[tuple[int, Exception]], int]:
    """(the row groups that decode, concatenated; (index, error) of those that do not; rows
    whose invalid UTF-8 was replaced). Parquet readers do not check UTF-8, and one bad byte in
    a string column would fail every later stage that reads it."""
    tables, broken, repaired = [], [], 0
    for i in range(pf.num_row_groups):
        try:
            t = pf.read_row_group(i)
            t, fixed = _valid_utf8(t)
            repaired += fixed
        except Exception as e:  # noqa: BLE001 - a damaged page or column chunk
            broken.append((i, e))
            continue
        tables.append(t)
    if not tables:
        return pf.schema_arrow.empty_table(), broken, repaired
    return (pa.concat_tables(tables) if len(tables) > 1 else tables[0]), broken, repaired


def _valid_utf8(table: pa.Table) -> tuple[pa.Table, int]:
    """`table` with invalid UTF-8 in its string columns replaced (U+FFFD), and the rows fixed."""
    try:
        table.validate(full=True)
        return table, 0
    except pa.ArrowInvalid:
        pass
    fixed = 0
    for idx, fld in enumerate(table.schema):
        if not (pa.types.is_string(fld.type) or pa.types.is_large_string(fld.type)):
            continue
        col = table.column(idx)
        try:
            col.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        raw = col.cast(pa.large_binary() if pa.types.is_large_string(fld.type) else pa.binary()).to_pylist()
        values = []
        for v in raw:
            if v is None:
                values.append(None)
                continue
            try:
                values.append(v.decode("utf-8"))
            except UnicodeDecodeError:
                values.append(v.decode("utf-8", "replace"))
                fixed += 1
        table = table.set_column(idx, fld, pa.array(values, fld.type))
    table.validate(full=True)  # nested strings (lists, maps) still bad: the row group is unreadable
    return table, fixed
