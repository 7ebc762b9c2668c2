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
from gristmill.pipeline.params import param
from gristmill.pipeline.schema import conform, drop_log, stable_id
from gristmill.pipeline.stage import Stage, StageOutput

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
        text_key: str = param("text", "JSONL field holding the document text")
        id_key: str = param("id", "JSONL field holding the document id (missing: derived from file and line)")
        source: str | None = param(None, "`source` for records that have none")
        default_license: str | None = param(None, "`license` for records that have none (when the user knows it)")

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
            for lineno, line in enumerate(f):
                if not line.strip():
                    continue
                n += 1
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
        return StageOutput(conform(table), drops, {"lines": n}, records_in=n)

    def _plain(self, path: str) -> StageOutput:
        source, default_license = self._defaults()
        with fsspec.open(path, "rt", compression="infer", encoding="utf-8", errors="replace") as f:
            text = f.read()
        table = pa.table({
            "id": [stable_id(path)], "text": [text], "source": [source],
            "origin_file": [path], "license": [default_license],
        })
        return StageOutput(conform(table), records_in=1)

    def _parquet(self, path: str) -> StageOutput:
        with fsspec.open(path, "rb") as f:
            table = pq.read_table(f)
        n = table.num_rows
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
        return StageOutput(table.filter(pc.invert(no_text)), drops, records_in=n)
