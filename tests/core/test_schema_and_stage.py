import pyarrow as pa
import pytest

from gristmill.filters.length import LengthFilter
from gristmill.pipeline.schema import DOC_SCHEMA, DROP_SCHEMA, conform, drop_log, stable_id
from gristmill.pipeline.stage import split_by_reason


def test_conform_fills_core_columns_casts_and_keeps_user_columns():
    t = pa.table({"text": ["a b"], "id": [1], "my_col": ["x"], "score_q": pa.array([0.5], pa.float64())})
    out = conform(t)
    assert out.schema.names[: len(DOC_SCHEMA)] == DOC_SCHEMA.names
    assert out.column("id").to_pylist() == ["1"]
    assert out.column("url").null_count == 1
    assert out.column("my_col").to_pylist() == ["x"]
    assert out.schema.field("score_q").type == pa.float32()  # score_* columns are float32


def test_conform_rejects_tables_without_id_or_text():
    with pytest.raises(ValueError, match="text"):
        conform(pa.table({"id": ["a"]}))


def test_stable_id_is_deterministic_and_origin_sensitive():
    assert stable_id("f.warc.gz", 10) == stable_id("f.warc.gz", 10)
    assert stable_id("f.warc.gz", 10) != stable_id("f.warc.gz", 11)
    assert len(stable_id("x")) == 16


def test_drop_log_rows_carry_origin_reason_and_preview():
    t = conform(pa.table({"id": ["a", "b"], "text": ["x" * 1000, "y"], "url": ["http://u", None]}))
    d = drop_log(t, "s@1", ["r1", "r2"], "why")
    assert d.schema == DROP_SCHEMA
    assert d.column("reason").to_pylist() == ["r1", "r2"]
    assert d.column("stage").to_pylist() == ["s@1", "s@1"]
    assert len(d.column("text_preview")[0].as_py()) == 300


def _docs(texts):
    return conform(pa.table({"id": [str(i) for i in range(len(texts))], "text": texts}))


def test_length_filter_hits_every_reason_and_keeps_the_rest():
    texts = ["", "   \n ", "one two three", "w " * 60, "w " * 200, None]
    out = LengthFilter(min_words=50, max_words=100).process(_docs(texts))
    reasons = dict(zip(out.drops.column("id").to_pylist(), out.drops.column("reason").to_pylist()))
    assert reasons == {"0": "empty", "1": "empty", "2": "too_few_words", "4": "too_many_words", "5": "empty"}
    assert out.table.column("id").to_pylist() == ["3"]
    assert out.table.num_rows + out.drops.num_rows == len(texts)
    assert out.drops.column("detail").to_pylist()[2] == "words=3"


def test_length_filter_is_deterministic():
    docs = _docs(["a " * k for k in range(0, 120, 7)])
    a, b = LengthFilter().process(docs), LengthFilter().process(docs)
    assert a.table.equals(b.table) and a.drops.equals(b.drops)


def test_split_by_reason_keeps_nulls():
    t = _docs(["a", "b", "c"])
    out = split_by_reason(t, pa.array([None, "bad", None]), "x@1")
    assert out.table.column("id").to_pylist() == ["0", "2"]
    assert out.drops.column("reason").to_pylist() == ["bad"]
