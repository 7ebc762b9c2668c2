import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import adjusted_rand_score


from tests.support.classify_data import sample_docs, table
from gristmill.filters.topics import TopicModel, assign, fit_topic_model
from gristmill.pipeline.context import FitContext


@pytest.fixture(scope="module")
def docs():
    d = sample_docs(max_chars=2000, per_source=30)
    return {s: d[s] for s in ("code", "math", "dialogue")}


def test_topics_recover_known_domains_and_are_deterministic(docs):
    texts = [t for s in docs for t in docs[s]]
    truth = [s for s in docs for _ in docs[s]]
    fits = [fit_topic_model(texts, 3, seed=0) for _ in range(2)]
    assert fits[0]["labels"] == fits[1]["labels"]
    pred = assign(fits[0], texts)
    assert adjusted_rand_score(truth, pred) > 0.8
    assert all(lab.startswith(f"t{i:02d}_") for i, lab in enumerate(fits[0]["labels"]))
    km = fit_topic_model(texts, 3, method="kmeans", seed=0)
    assert adjusted_rand_score(truth, assign(km, texts)) > 0.5


def test_topic_stage_fits_on_sample_and_labels_every_document(tmp_path, docs):
    t = table(docs)
    half = t.num_rows // 2
    paths = []
    for k, part in enumerate((t.slice(0, half), t.slice(half))):
        paths.append(str(tmp_path / f"part-{k}.parquet"))
        pq.write_table(part, paths[-1])
    stage = TopicModel(k=3, sample_size=40, seed=0)
    ctx = FitContext.local(paths, str(tmp_path / "out"))
    info = stage.fit(ctx)
    assert 30 <= info["sample_docs"] <= 42 and len(info["labels"]) == 3
    stage.ensure_setup(ctx.step.with_fit(info))
    extra = pa.table({"id": ["e1", "e2"], "text": pa.array(["", None], pa.string()), "source": ["x", "x"]})
    out = stage.process(pa.concat_tables([t, extra]))
    topic = out.table.column("topic")
    assert out.table.num_rows == t.num_rows + 2 and topic.type == pa.string()
    assert topic.to_pylist()[-2:] == [None, None] and topic.null_count == 2
    assert set(topic.to_pylist()[:-2]) <= set(info["labels"])
    assert sum(v for k, v in out.counters.items() if k.startswith("topic:")) == t.num_rows


def test_bad_topic_params():
    with pytest.raises(ValueError):
        TopicModel(k=1)
    with pytest.raises(ValueError):
        TopicModel(method="lda")
    with pytest.raises(ValueError):
        fit_topic_model(["only one doc"], 3)
