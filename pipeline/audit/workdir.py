"""A finished run, read back from its folders: steps in order, their totals, documents, drop
logs, the token folder and the trainer's log.

Step order comes from `run_summary.json` when the run wrote one; a sink running inside the
workflow (audit@1, report@1) runs before that file exists, so the order is rebuilt from the
shard markers instead: every marker names the part its shard read, which is a part of the
step before. Totals are summed from the markers for the same reason (stats.json is written
when the whole run ends).
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gristmill.pipeline.layout import (DROPPED_DIR, FIT_MARKER, MARKER_DIR, RUN_SUMMARY, STATE_DIR, StepLayout,
                                       list_parts, read_json)

MANIFEST = "manifest.json"   # the token folder's (gristmill.tokenize.shard_format.MANIFEST)
TRAIN_LOG = os.path.join("run", "train_log.jsonl")
TRAIN_CONFIG = os.path.join("run", "config.json")


@dataclass
class StepInfo:
    name: str
    folder: str
    kind: str                      # "documents" (map/source/corpus) or "sink"
    stage: str = ""
    params: dict = field(default_factory=dict)
    docs_in: int = 0
    docs_out: int = 0
    docs_dropped: int = 0
    generated: int = 0             # rows the step added (rephrase@1's synthetic rows, accepted or not)
    dropped_by_reason: dict = field(default_factory=dict)
    fit: dict | None = None        # a corpus step's fit / a sink's product
    upstream: str | None = None    # folder the step read


@dataclass
class Run:
    root: str                      # the workdir (or the token folder's parent)
    steps: list[StepInfo]
    token_dir: str | None
    documents_dir: str | None      # the last step that wrote documents
    train_dir: str | None

    def step(self, name: str) -> StepInfo | None:
        return next((s for s in self.steps if s.name == name), None)

    @property
    def document_steps(self) -> list[StepInfo]:
        return [s for s in self.steps if s.kind == "documents"]


def _markers(folder: str) -> list[dict]:
    out = []
    for path in sorted(glob.glob(os.path.join(folder, MARKER_DIR, "*.json"))):
        m = read_json(path)
        if m is not None:
            out.append(m)
    return out


def _input_folder(path: str, root: str) -> str:
    """The folder a marker's input lies in. Markers keep the path as the run was given it
    (maybe relative to where it ran), so a folder of this workdir with the same name wins."""
    folder = os.path.dirname(path)
    here = os.path.join(root, os.path.basename(folder))
    if os.path.isdir(os.path.join(here, MARKER_DIR)):
        return os.path.realpath(here)
    return os.path.realpath(folder)


def _document_step(folder: str, markers: list[dict], root: str) -> StepInfo:
    name = os.path.basename(folder.rstrip("/"))
    info = StepInfo(name=name, folder=folder, kind="documents")
    stats = read_json(StepLayout(folder, name).stats_path) or {}
    info.stage, info.params = stats.get("stage", ""), stats.get("params", {})
    for m in markers:
        info.docs_in += int(m.get("docs_in", 0))
        info.docs_out += int(m.get("docs_out", 0))
        info.docs_dropped += int(m.get("docs_dropped", 0))
        info.generated += int(m.get("generated", 0))
        for k, v in (m.get("dropped_by_reason") or {}).items():
            info.dropped_by_reason[k] = info.dropped_by_reason.get(k, 0) + int(v)
        info.stage = info.stage or m.get("stage", "")
    info.dropped_by_reason = dict(sorted(info.dropped_by_reason.items()))
    info.fit = StepLayout(folder, name).read_fit()
    inputs = {_input_folder(m["input"], root) for m in markers if m.get("input")}
    info.upstream = inputs.pop() if len(inputs) == 1 else None
    return info


def _sink_step(folder: str) -> StepInfo:
    name = os.path.basename(folder.rstrip("/"))
    stats = read_json(StepLayout(folder, name).stats_path) or {}
    return StepInfo(name=name, folder=folder, kind="sink", stage=stats.get("stage", ""),
                    params=stats.get("params", {}), fit=StepLayout(folder, name).read_fit())


def _chain(doc_steps: list[StepInfo]) -> list[StepInfo]:
    """Order document steps by following each one's input folder back to the step before."""
    by_folder = {os.path.realpath(s.folder): s for s in doc_steps}
    read_by = {s.upstream: s for s in doc_steps if s.upstream in by_folder}
    firsts = [s for s in doc_steps if s.upstream not in by_folder]
    ordered: list[StepInfo] = []
    for first in sorted(firsts, key=lambda s: s.name):
        cur = first
        while cur is not None and cur not in ordered:
            ordered.append(cur)
            cur = read_by.get(os.path.realpath(cur.folder))
    return ordered + [s for s in doc_steps if s not in ordered]


def open_run(path: str) -> Run:
    """The run in a workdir, or the run around a token folder (its parent, when that is a
    workdir; else the token folder alone, with the documents tokenized into it)."""
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such folder")
    root = path
    if os.path.exists(os.path.join(path, MANIFEST)) and not _is_workdir(path):
        parent = os.path.dirname(path)
        root = parent if _is_workdir(parent) else path
    folders = [os.path.join(root, d) for d in sorted(os.listdir(root))
               if os.path.isdir(os.path.join(root, d)) and not d.startswith((".", "_"))]
    if root == path and not _is_workdir(root) and os.path.exists(os.path.join(path, MANIFEST)):
        folders = [path]
    doc_steps, sinks = [], []
    for folder in folders:
        markers = _markers(folder)
        if markers:
            doc_steps.append(_document_step(folder, markers, root))
        if os.path.exists(os.path.join(folder, STATE_DIR, FIT_MARKER)) and not markers:
            sinks.append(_sink_step(folder))
    steps = _chain(doc_steps)
    summary = read_json(os.path.join(root, RUN_SUMMARY))
    order = (summary or {}).get("order")
    if order:
        rank = {n: i for i, n in enumerate(order)}
        steps.sort(key=lambda s: rank.get(s.name, len(rank)))
        sinks.sort(key=lambda s: rank.get(s.name, len(rank)))
    else:
        sinks.sort(key=lambda s: os.path.getmtime(os.path.join(s.folder, STATE_DIR, FIT_MARKER)))
    all_steps = steps + sinks
    token_dir = next((s.folder for s in all_steps if os.path.exists(os.path.join(s.folder, MANIFEST))), None)
    if token_dir is None and os.path.exists(os.path.join(path, MANIFEST)):
        token_dir = path
    train_dir = next((s.folder for s in all_steps if os.path.exists(os.path.join(s.folder, TRAIN_LOG))), None)
    documents_dir = steps[-1].folder if steps else (token_dir if token_dir and list_parts(token_dir) else None)
    return Run(root=root, steps=all_steps, token_dir=token_dir, documents_dir=documents_dir, train_dir=train_dir)


def _is_workdir(folder: str) -> bool:
    if os.path.exists(os.path.join(folder, RUN_SUMMARY)):
        return True
    return any(os.path.isdir(os.path.join(folder, d, MARKER_DIR)) for d in os.listdir(folder)
               if os.path.isdir(os.path.join(folder, d)))


def read_documents(folder: str, columns: list[str]) -> pa.Table:
    """The kept documents of a step folder, only `columns` (those a shard lacks come back null)."""
    tables = []
    for part in list_parts(folder):
        names = pq.read_schema(part).names
        t = pq.read_table(part, columns=[c for c in columns if c in names])
        for c in columns:
            if c not in t.column_names:
                t = t.append_column(c, pa.nulls(t.num_rows, _null_type(c)))
        tables.append(t.select(columns))
    if not tables:
        return pa.table({c: pa.nulls(0, _null_type(c)) for c in columns})
    return pa.concat_tables(tables, promote_options="permissive")


def read_drops(folder: str) -> pa.Table:
    from gristmill.pipeline.schema import DROP_SCHEMA

    parts = sorted(glob.glob(os.path.join(folder, DROPPED_DIR, "*.parquet")))
    tables = [pq.read_table(p).select(DROP_SCHEMA.names).cast(DROP_SCHEMA) for p in parts]
    return pa.concat_tables(tables) if tables else DROP_SCHEMA.empty_table()


def text_bytes(table: pa.Table) -> pa.Array:
    """UTF-8 bytes of each document's text (0 for a null text)."""
    return pc.fill_null(pc.binary_length(table.column("text")), 0).cast(pa.int64())


def _null_type(column: str) -> pa.DataType:
    from gristmill.pipeline.schema import column_type

    return column_type(column) or pa.string()


def read_train_log(train_dir: str | None) -> list[dict]:
    if not train_dir or not os.path.exists(os.path.join(train_dir, TRAIN_LOG)):
        return []
    with open(os.path.join(train_dir, TRAIN_LOG)) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_train_config(train_dir: str | None) -> dict | None:
    return read_json(os.path.join(train_dir, TRAIN_CONFIG)) if train_dir else None


def read_manifest(token_dir: str | None) -> dict | None:
    return read_json(os.path.join(token_dir, MANIFEST)) if token_dir else None
