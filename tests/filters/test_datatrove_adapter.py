"""datatrove's own GopherQualityFilter through the adapter, on real text."""

import os

import pyarrow as pa
import pytest

from gristmill.filters.datatrove_adapter import DatatroveStage
from gristmill.pipeline.schema import conform


def _real_docs(shared_data):
    texts = []
    with open(os.path.join(shared_data, "text/tinyshakespeare/input.txt"), encoding="utf-8") as f:
        raw = f.read()
    texts += [raw[i:i + 1500] for i in range(0, 30000, 1500)]
    for fname in sorted(os.listdir(os.path.join(shared_data, "text/nltk_inaugural/inaugural")))[:10]:
        with open(os.path.join(shared_data, "text/nltk_inaugural/inaugural", fname), "rb") as f:
            texts.append(f.read().decode("utf-8", "replace"))
    texts += ["too short", "x " * 80]
    return conform(pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts}))


def test_gopher_through_adapter_matches_datatrove_called_directly(shared_data):
    from datatrove.data import Document
    from datatrove.pipeline.filters import GopherQualityFilter

    table = _real_docs(shared_data)
    stage = DatatroveStage(step="datatrove.pipeline.filters.GopherQualityFilter", args={"min_doc_words": 50})
    stage.ensure_setup()
    out = stage.process(table)
    assert out.table.num_rows + out.drops.num_rows == table.num_rows
    assert out.table.num_rows > 0 and out.drops.num_rows > 0

    reference = GopherQualityFilter(min_doc_words=50)
    expected = {}
    for row in table.to_pylist():
        res = reference.filter(Document(text=row["text"], id=row["id"]))
        expected[row["id"]] = None if res is True else f"dt_{res[1]}"
    got = {i: None for i in out.table.column("id").to_pylist()}
    got.update(zip(out.drops.column("id").to_pylist(), out.drops.column("reason").to_pylist()))
    assert got == expected
    assert "dt_gopher_short_doc" in set(out.drops.column("reason").to_pylist())


def test_formatter_rewrites_text():
    stage = DatatroveStage(step="datatrove.pipeline.formatters.PIIFormatter", args={})
    table = conform(pa.table({"id": ["a"], "text": ["write to jane.doe@example.com today"]}))
    stage.ensure_setup()
    out = stage.process(table)
    assert out.table.num_rows == 1
    assert "jane.doe@example.com" not in out.table.column("text")[0].as_py()


def test_unknown_datatrove_step_fails_setup():
    with pytest.raises((ImportError, AttributeError)):
        DatatroveStage(step="datatrove.pipeline.filters.NoSuchFilter").ensure_setup()
