"""`datatrove`: run any datatrove PipelineStep (filter, formatter, extractor) as a stage.

    - name: gopher
      stage: datatrove
      params:
        step: datatrove.pipeline.filters.GopherQualityFilter
        args: {min_doc_words: 50}

Rows become datatrove Documents (text, id, metadata = the other scalar columns) and go
through the step's own `run()`. Documents a filter drops land in the drop log with the
filter's reason (`dt_gopher_short_doc`-style: `dt_` + datatrove's reason); documents any
other step removes get `dt_removed_by_<Class>`. Text rewrites replace `text`; new metadata
keys go to the `meta` map. This is datatrove's own per-document code path, one Python
object per document: gristmill's columnar stages are the fast path.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from gristmill.pipeline.params import REQUIRED, param
from gristmill.pipeline.schema import drop_log
from gristmill.pipeline.stage import Stage, StageOutput

_PASSED = ("id", "url", "source", "domain", "language", "license")


class _Collect:
    """Stands in for a datatrove exclusion writer: keeps the dropped docs and reasons."""

    def __init__(self):
        self.docs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, doc, rank=0, **kwargs):
        self.docs.append(doc)


def _import(path: str):
    module, _, attr = path.replace(":", ".").rpartition(".")
    return getattr(importlib.import_module(module), attr)


class DatatroveStage(Stage):
    """Run any datatrove PipelineStep (filter, formatter, extractor) as a stage."""

    name = "datatrove"
    reads = ("text",)

    @dataclass(frozen=True)
    class Params:
        step: str | None = param(REQUIRED, "dotted path of the datatrove class, e.g. "
                                           "datatrove.pipeline.filters.GopherQualityFilter")
        args: dict[str, Any] | None = param({}, "keyword arguments for its constructor")

    def setup(self, ctx=None) -> None:
        from datatrove.pipeline.filters.base_filter import BaseFilter

        cls = _import(self.cfg.step)
        self.step = cls(**(self.cfg.args or {}))
        self.is_filter = isinstance(self.step, BaseFilter)
        self.label = cls.__name__

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        from datatrove.data import Document

        if not hasattr(self, "step"):
            self.ensure_setup(ctx.step if ctx is not None else None)
        cols = {c: table.column(c).to_pylist() for c in _PASSED if c in table.column_names}
        texts = table.column("text").to_pylist()
        docs = []
        for i, text in enumerate(texts):
            meta = {c: cols[c][i] for c in cols if c != "id" and cols[c][i] is not None}
            docs.append(Document(text=text or "", id=cols["id"][i], metadata=meta))
        collector = _Collect()
        if self.is_filter:
            self.step.exclusion_writer = collector
        out_docs = list(self.step.run(iter(docs), rank=0, world_size=1))
        kept_ids = {d.id: d for d in out_docs}
        reasons_by_id = {d.id: d.metadata.get("filter_reason") for d in collector.docs}

        keep_idx, drop_idx, reasons = [], [], []
        for i, doc_id in enumerate(cols["id"]):
            if doc_id in kept_ids:
                keep_idx.append(i)
            else:
                drop_idx.append(i)
                r = reasons_by_id.get(doc_id)
                reasons.append(f"dt_{r}" if r else f"dt_removed_by_{self.label}")
        kept = table.take(pa.array(keep_idx, pa.int64()))
        kept_docs = [kept_ids[cols["id"][i]] for i in keep_idx]
        kept = kept.set_column(kept.schema.get_field_index("text"), "text",
                               pa.array([d.text for d in kept_docs], pa.large_string()))
        kept = self._merge_meta(kept, kept_docs)
        dropped = table.take(pa.array(drop_idx, pa.int64()))
        drops = drop_log(dropped, self.versioned_name, reasons, f"datatrove {self.label}")
        # datatrove's own stats accumulate over the life of the step object (one per
        # worker here), so they are not per-shard counters; the drop reasons carry them.
        return StageOutput(kept, drops)

    def _merge_meta(self, kept: pa.Table, docs) -> pa.Table:
        if "meta" not in kept.column_names:
            return kept
        old = kept.column("meta").to_pylist()
        new = []
        for prev, d in zip(old, docs):
            m = dict(prev or [])
            for k, v in d.metadata.items():
                if k not in _PASSED and k != "filter_reason" and v is not None and not isinstance(v, (dict, list)):
                    m[str(k)] = str(v)
            new.append(list(m.items()) or None)
        idx = kept.schema.get_field_index("meta")
        return kept.set_column(idx, "meta", pa.array(new, kept.schema.field("meta").type))
