import json
import os

import numpy as np
import pyarrow as pa
import pytest


from tests.support.classify_data import TINY, sample_docs, table
from gristmill.filters import fasttext_model as ftm
from gristmill.filters.quality import QualityScore, binary_metrics, train_classifier

POS, NEG = ("encyclopedic", "literary"), ("math", "code", "dialogue", "speeches")


@pytest.fixture(scope="module")
def docs():
    return sample_docs()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, docs):
    out = str(tmp_path_factory.mktemp("model"))
    pos = pa.array([t for s in POS for t in docs[s]])
    neg = pa.array([t for s in NEG for t in docs[s]])
    train_classifier(pos, neg, out, name="ref", params=TINY, heldout=0.25, seed=1)
    return out


def test_fasttext_module_predicts_one_string_under_numpy2(model_dir):
    import fasttext

    labels, probs = fasttext.load_model(os.path.join(model_dir, "model.bin")).predict("a test line", k=2)
    assert set(labels) == {"__label__hq", "__label__cc"} and isinstance(probs, np.ndarray)


def test_train_writes_model_and_heldout_metrics(model_dir, docs):
    meta = json.load(open(os.path.join(model_dir, "metadata.json")))
    assert meta["column"] == "score_ref" and meta["lr_attempts"][-1]["result"] == "ok"
    d = meta["data"]
    assert d["train_positive"] + d["heldout_positive"] == sum(len(docs[s]) for s in POS)
    assert d["heldout_negative"] == round(sum(len(docs[s]) for s in NEG) * 0.25)
    h = meta["heldout"]
    assert h["n"] == d["heldout_positive"] + d["heldout_negative"]
    assert h["auc"] > 0.9 and 0 <= h["precision"] <= 1 and 0 <= h["recall"] <= 1
    assert not os.path.exists(os.path.join(model_dir, ".train.txt"))


def test_training_is_deterministic(tmp_path, docs):
    pos, neg = pa.array(docs["encyclopedic"]), pa.array(docs["code"])
    scores = []
    for k in range(2):
        out = str(tmp_path / f"m{k}")
        train_classifier(pos, neg, out, params=TINY, seed=3)
        scores.append(ftm.Scorer(os.path.join(out, "model.bin")).score(pa.array(docs["math"])).to_numpy())
    np.testing.assert_array_equal(scores[0], scores[1])


EDGE = ["  leading and trailing  \n", "lines\nwith\n\nnewlines\r\nand tabs\t", "\u00a0nbsp at ends\u3000",
        "", "   ", "word", "__label__hq sneaky label token", "caf\u00e9 \u2028 unicode \u0085 separators\x1c"]


def test_scores_identical_to_datatrove(model_dir, docs):
    from datatrove.data import Document
    from datatrove.pipeline.filters import FastTextClassifierFilter

    texts = EDGE + [t for s in docs for t in docs[s][:10]]
    ours = ftm.Scorer(os.path.join(model_dir, "model.bin")).score(pa.array(texts)).to_numpy()
    dt = FastTextClassifierFilter(os.path.join(model_dir, "model.bin"), keep_labels=("hq", 0.0),
                                  newline_replacement=" ")
    theirs = []
    for i, t in enumerate(texts):
        d = Document(text=t, id=str(i))
        dt.filter(d)
        theirs.append(d.metadata["__label__hq"])
    np.testing.assert_array_equal(ours, np.array(theirs, dtype=np.float32))


def test_quality_score_stage_adds_float32_column_and_keeps_nulls(model_dir, docs):
    stage = QualityScore(model=model_dir)
    assert stage.provides() == ("score_ref",)
    stage.ensure_setup()
    t = table({"math": docs["math"][:5]})
    t = t.set_column(1, "text", pa.array(docs["math"][:4] + [None], pa.large_string()))
    out = stage.process(t)
    col = out.table.column("score_ref")
    assert col.type == pa.float32() and out.table.num_rows == 5 and out.drops.num_rows == 0
    assert col.null_count == 1 and col[4].as_py() is None
    assert all(0.0 <= v <= 1.0 for v in col.to_pylist()[:4])


def test_quality_score_needs_a_model_folder(tmp_path):
    with pytest.raises(ValueError):
        QualityScore()
    with pytest.raises(FileNotFoundError):
        QualityScore(model=str(tmp_path))


def test_binary_metrics():
    m = binary_metrics(np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.6, 0.1]))
    assert (m["precision"], m["recall"], m["auc"]) == (0.5, 0.5, 0.75)


def test_training_lines_drop_label_tokens_and_empty_docs(tmp_path):
    lines = ftm.training_lines(pa.array(["a\nb", "   ", "x __label__cc y", None]), "hq")
    assert lines.to_pylist() == ["__label__hq a b\n", "__label__hq x  y\n"]
    path = str(tmp_path / "t.txt")
    assert ftm.write_lines(lines.slice(1), path) == 1
    assert open(path).read() == "__label__hq x  y\n"


def test_quality_classifier_step_trains_on_sources_then_loads(tmp_path, docs):
    import pyarrow.parquet as pq

    from gristmill.filters.quality import QualityClassifier
    from gristmill.pipeline.context import FitContext

    t = table({s: docs[s][:20] for s in ("encyclopedic", "literary", "math", "code")})
    paths = [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")]
    pq.write_table(t.slice(0, 40), paths[0])
    pq.write_table(t.slice(40), paths[1])
    saved = str(tmp_path / "saved_model")
    stage = QualityClassifier(positive_sources=["encyclopedic", "literary"], model=saved, heldout=0.2, **TINY)
    assert stage.kind == "corpus" and not stage.preloaded and stage.provides() == ("score_quality",)
    ctx = FitContext.local(paths, str(tmp_path / "out"))
    info = stage.fit(ctx)
    assert info["data"]["train_positive"] + info["data"]["heldout_positive"] == 40
    assert info["data"]["train_negative"] + info["data"]["heldout_negative"] == 40
    stage.ensure_setup(ctx.step.with_fit(info))
    out = stage.process(t)
    assert out.table.column("score_quality").null_count == 0 and out.table.num_rows == 80
    # a second run with the saved model loads it instead of training
    again = QualityClassifier(model=saved)
    assert again.preloaded
    ctx2 = FitContext.local(paths, str(tmp_path / "out2"))
    assert again.fit(ctx2) == {"loaded": saved}
    again.ensure_setup(ctx2.step.with_fit({"loaded": saved}))
    assert again.process(t).table.column("score_quality").equals(out.table.column("score_quality"))


NASTY = EDGE + ["a </s> b c", "</s>", "x\x00y\x0bz\x0c w\rq", "__label__cc a b __label__x", "__label__", "__labe x",
                "\u00e9" * 300 + " tail", "word " * 3 + "z" * 200, "\u65e5\u672c\u8a9e \u30c6\u30ad\u30b9\u30c8",
                "a  b   c", "the of and " * 50]


@pytest.mark.parametrize("ngrams", [1, 2, 3])
def test_compiled_scorer_equals_fasttext_bit_for_bit(tmp_path, docs, ngrams):
    out = str(tmp_path / "m")
    pos = pa.array(docs["encyclopedic"] + docs["literary"])
    neg = pa.array(docs["math"] + docs["code"])
    train_classifier(pos, neg, out, params={**TINY, "wordNgrams": ngrams, "dim": 12}, heldout=0.0)
    texts = pa.array(NASTY + [t for s in docs for t in docs[s]])
    compiled = ftm.Scorer(os.path.join(out, "model.bin"), engine="compiled")
    plain = ftm.Scorer(os.path.join(out, "model.bin"), engine="fasttext")
    assert compiled.fast is not None and plain.fast is None
    np.testing.assert_array_equal(compiled.score(texts).to_numpy(), plain.score(texts).to_numpy())


def test_models_the_compiled_scorer_cannot_run_fall_back_to_fasttext(tmp_path, docs):
    out = str(tmp_path / "m")
    train_classifier(pa.array(docs["encyclopedic"]), pa.array(docs["code"]), out,
                     params={**TINY, "loss": "ova"}, heldout=0.0)
    auto = ftm.Scorer(os.path.join(out, "model.bin"))
    assert auto.fast is None
    scores = auto.score(pa.array(docs["math"][:5])).to_numpy()
    assert scores.dtype == np.float32 and len(scores) == 5
    with pytest.raises(ValueError):
        ftm.Scorer(os.path.join(out, "model.bin"), engine="compiled")
