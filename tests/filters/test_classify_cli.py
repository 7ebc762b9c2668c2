"""End to end through the command line and the Dask runner (one worker)."""

import json
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest


from tests.support.classify_data import TINY, sample_docs, table
from gristmill.pipeline.cli import main
from gristmill.pipeline.shards import list_parts
from gristmill.pipeline.workflow import WorkflowError, build


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    docs = sample_docs(per_source=25)
    pos = {s: docs[s] for s in ("encyclopedic", "literary")}
    neg = {s: docs[s] for s in ("math", "code", "dialogue")}
    for name, d in (("pos", pos), ("neg", neg)):
        os.makedirs(root / name)
        t = table(d).select(["id", "text", "source"])
        pq.write_table(t.slice(0, t.num_rows // 2), root / name / "a.parquet")
        pq.write_table(t.slice(t.num_rows // 2), root / name / "b.parquet")
    return root


@pytest.fixture(scope="module")
def scheduler():
    """One small in-process cluster shared by the commands (each would otherwise start its own)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def read(folder):
    return pa.concat_tables([pq.read_table(p) for p in list_parts(folder)], promote_options="permissive")


def stats(folder):
    with open(os.path.join(folder, "stats.json")) as f:
        s = json.load(f)
    assert s["docs_in"] == s["docs_out"] + s["docs_dropped"]
    return s


def test_train_score_select_topics(corpus, scheduler):
    model = str(corpus / "model")
    args = ["classify", "train", "--positive", str(corpus / "pos"), "--negative", str(corpus / "neg"),
            "--out", model, "--heldout", "0.2", "--epoch", str(TINY["epoch"]), "--dim", str(TINY["dim"]),
            "--bucket", str(TINY["bucket"])]
    assert main(args) == 0
    meta = json.load(open(os.path.join(model, "metadata.json")))
    assert meta["heldout"]["auc"] > 0.9 and meta["params"]["epoch"] == TINY["epoch"]
    assert meta["data"]["positive"] == [str(corpus / "pos")]

    scored = str(corpus / "scored")
    assert main(["classify", "score", str(corpus / "pos"), str(corpus / "neg"), "--model", model,
                 "--out", scored, "--scheduler", scheduler, "--quiet"]) == 0
    s = stats(scored)
    assert s["docs_out"] == s["docs_in"] == 125
    t = read(scored)
    assert t.schema.field("score_quality").type == "float"
    means = {src: pc.mean(t.filter(pc.equal(t["source"], src))["score_quality"]).as_py()
             for src in ("encyclopedic", "math")}
    assert means["encyclopedic"] > means["math"]

    selected = str(corpus / "selected")
    assert main(["select", scored, "--out", selected, "--column", "score_quality", "--top-fraction", "0.5",
                 "--scheduler", scheduler, "--quiet"]) == 0
    s = stats(selected)
    assert s["dropped_by_reason"] == {"below_top_fraction": s["docs_dropped"]}
    assert 60 <= s["docs_out"] <= 70  # ceil(half) of each of the five sources, plus ties

    topics = str(corpus / "topics")
    assert main(["topics", "fit", scored, "--k", "3", "--out", topics, "--scheduler", scheduler, "--quiet"]) == 0
    s = stats(topics)
    t = read(topics)
    assert s["docs_out"] == 125 and t["topic"].null_count == 0 and len(set(t["topic"].to_pylist())) == 3
    assert os.path.exists(os.path.join(topics, "_state", "topic_model.pkl"))


def test_workflow_rejects_select_on_a_missing_score_column():
    spec = {"inputs": [], "steps": [{"stage": "read_documents"},
                                    {"stage": "select", "params": {"column": "score_x", "threshold": 0.5}}]}
    with pytest.raises(WorkflowError, match="score_x"):
        build(spec)


def test_quality_classifier_step_needs_sources_or_a_model():
    with pytest.raises(WorkflowError, match="positive_sources"):
        build({"inputs": [], "steps": [{"stage": "read_documents"}, {"stage": "quality_classifier"}]})


def test_too_little_data_to_fit_is_one_error_line_not_a_traceback(tmp_path, scheduler, capsys):
    """Fewer documents than topics (an upstream filter dropped them all) and one-sided training
    text are the user's data, not a crash: exit 2 and a line saying what is missing."""
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["one page", "another page"]}), tmp_path / "two.parquet")
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}),
                   tmp_path / "none.parquet")
    assert main(["topics", "fit", str(tmp_path / "two.parquet"), "--k", "3", "--out", str(tmp_path / "t"),
                 "--scheduler", scheduler, "--quiet"]) == 2
    assert "2 non-empty documents" in capsys.readouterr().err
    assert main(["classify", "train", "--positive", str(tmp_path / "two.parquet"), "--negative",
                 str(tmp_path / "none.parquet"), "--out", str(tmp_path / "m")]) == 2
    assert "0 negative" in capsys.readouterr().err
