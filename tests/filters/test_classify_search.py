"""The validation search for fastText's settings (filters/fasttext_search.py) and how training reports it."""

import json
import os

import numpy as np
import pyarrow as pa
import pytest

from gristmill.filters import fasttext_model as ftm
from gristmill.filters import fasttext_search as fts
from gristmill.filters.quality import train_classifier

# A small inline task of the kind: article sentences (positive) vs the same kind of
# sentences inside navigation, cookie and share boilerplate (negative).
TOPICS = ("the council approved the new budget for schools and roads",
          "researchers measured the river water after the heavy rain",
          "the orchestra played a symphony written two centuries ago",
          "farmers in the valley expect a late harvest this autumn",
          "the museum opened an exhibition of early photographs",
          "engineers tested the bridge before it reopened to traffic")
BOILERPLATE = ("Home", "News", "Login", "Register", "Cookie settings", "Accept all cookies", "Share on Facebook",
               "Tweet", "Newsletter", "Imprint", "Privacy policy", "Contact", "Back to top", "Related articles",
               "Read more", "Advertisement", "Subscribe", "All rights reserved")


def inline_task(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    pos, neg = [], []
    for _ in range(n):
        words = " ".join(TOPICS[i] for i in rng.integers(0, len(TOPICS), 4)).split()
        rng.shuffle(words)
        article = " ".join(words) + "."
        pos.append(article)
        header, footer = (" | ".join(BOILERPLATE[i] for i in rng.integers(0, len(BOILERPLATE), k)) for k in (5, 4))
        neg.append(f"{header}\n{article}\n{footer}")
    return pos, neg


@pytest.fixture(scope="module")
def task():
    pos, neg = inline_task(40, seed=0)
    return pa.array(pos), pa.array(neg)


def test_candidates_are_seeded_start_with_the_defaults_and_skip_fixed_keys():
    a, b = fts.candidates({}, 8, seed=5), fts.candidates({}, 8, seed=5)
    assert a == b and len(a) == 8 and a != fts.candidates({}, 8, seed=6)
    assert a[0] == {k: ftm.DEFAULT_PARAMS[k] for k in fts.SEARCH_SPACE}
    assert len({json.dumps(c, sort_keys=True) for c in a}) == 8  # distinct
    fixed = fts.candidates({"epoch": 7}, 100, seed=0)
    assert all("epoch" not in c for c in fixed) and len(fixed) == 4 * 3  # lr x wordNgrams
    assert fts.candidates({k: 1 for k in fts.SEARCH_SPACE}, 8, seed=0) == []


def test_validation_folds_are_disjoint_from_their_training_lines():
    classes = [pa.array([f"__label__hq p{i}\n" for i in range(10)]),
               pa.array([f"__label__cc n{i}\n" for i in range(7)])]
    folds = fts.cross_validation(classes, 3, np.random.default_rng(0))
    seen = []
    for train, val in folds:
        train, val = set(train.to_pylist()), val.to_pylist()
        assert not train & set(val) and len(train) + len(val) == 17
        assert any(v.startswith("__label__hq") for v in val) and any(v.startswith("__label__cc") for v in val)
        seen += val
    assert sorted(seen) == sorted(classes[0].to_pylist() + classes[1].to_pylist())  # each validates once


def test_auc_by_ranks_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y, s = rng.integers(0, 2, 200), rng.integers(0, 6, 200) / 6.0  # many ties
    assert fts.auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert fts.auc(np.ones(3), np.arange(3)) is None


def test_search_prefers_a_good_setting_to_a_deliberately_bad_one(task, tmp_path):
    pos, neg = task
    # lr 1e-5 for one epoch barely moves fastText's zero-initialised output layer: its scores
    # tie in float32 (AUC 0.5, measured)
    space = {"lr": (1e-5, 0.5), "epoch": (1, 20)}
    res = fts.search(pos, neg, {"dim": 16, "bucket": 5000}, trials=4, folds=3, seed=0, space=space,
                     work_dir=str(tmp_path))
    by_params = {(t["params"]["lr"], t["params"]["epoch"]): t for t in res["trials"]}
    bad = by_params[(1e-5, 1)]
    assert res["chosen"] != {"lr": 1e-5, "epoch": 1} and res["validation_auc"] > bad["auc"] + 0.2
    assert res["validation_auc"] == max(t["auc"] for t in res["trials"])
    assert len(res["trials"]) == 4 and all(len(t["fold_auc"]) == 3 for t in res["trials"])
    # and on documents neither run saw, the searched model beats the bad fixed setting
    test_pos, test_neg = inline_task(30, seed=99)
    unseen = pa.array(test_pos + test_neg)
    y = np.r_[np.ones(30, int), np.zeros(30, int)]
    aucs = {}
    for name, params in (("bad", {"lr": 1e-5, "epoch": 1}), ("searched", res["chosen"])):
        out = str(tmp_path / name)
        train_classifier(pos, neg, out, params={"dim": 16, "bucket": 5000, **params}, tune_trials=0, heldout=0.0)
        aucs[name] = fts.auc(y, ftm.Scorer(os.path.join(out, "model.bin")).score(unseen).to_numpy())
    assert aucs["searched"] > aucs["bad"] + 0.2, aucs


def test_training_with_the_search_is_reproducible_and_reports_held_out_auc(task, tmp_path):
    pos, neg = task
    metas, models = [], []
    for k in range(2):
        out = str(tmp_path / f"m{k}")
        metas.append(train_classifier(pos, neg, out, params={"dim": 16, "bucket": 5000},
                                      heldout=0.25, seed=4, tune_trials=4))
        models.append(open(os.path.join(out, "model.bin"), "rb").read())
    a, b = metas
    untimed = [[{k: v for k, v in t.items() if k != "seconds"} for t in m["search"]["trials"]] for m in metas]
    assert untimed[0] == untimed[1] and a["search"]["chosen"] == b["search"]["chosen"]
    assert a["params"] == b["params"] and models[0] == models[1]  # one thread: byte-identical models
    assert all(a["params"][k] == v for k, v in a["search"]["chosen"].items())
    # the search saw the training part only, never the held-out documents
    assert a["search"]["documents"] == {"positive": a["data"]["train_positive"],
                                        "negative": a["data"]["train_negative"]}
    assert a["data"]["heldout_positive"] == 10 and a["heldout"]["n"] == 20
    assert 0.5 <= a["heldout"]["auc"] <= 1.0
    on_disk = json.load(open(tmp_path / "m0" / "metadata.json"))
    assert on_disk["heldout"]["auc"] == a["heldout"]["auc"] and on_disk["search"]["chosen"] == a["search"]["chosen"]


def test_cli_summary_prints_the_held_out_auc_and_the_chosen_settings(task, tmp_path, capsys):
    import pyarrow.parquet as pq

    from gristmill.pipeline.cli import main

    pos, neg = task
    for name, text in (("pos", pos), ("neg", neg)):
        os.makedirs(tmp_path / name)
        ids = [f"{name}{i}" for i in range(len(text))]
        pq.write_table(pa.table({"id": ids, "text": text}), tmp_path / name / "a.parquet")
    out = str(tmp_path / "model")
    assert main(["classify", "train", "--positive", str(tmp_path / "pos"), "--negative", str(tmp_path / "neg"),
                 "--out", out, "--heldout", "0.25", "--tune-trials", "3", "--dim", "16", "--bucket", "5000"]) == 0
    printed = capsys.readouterr().out
    meta = json.load(open(os.path.join(out, "metadata.json")))
    assert f"held-out AUC {meta['heldout']['auc']} on 20 documents" in printed
    assert f"validation AUC {meta['search']['validation_auc']}" in printed
    assert len(meta["search"]["trials"]) == 3
    summary = json.loads(printed[:printed.index("\nheld-out AUC")])
    assert summary["search"]["chosen"] == meta["search"]["chosen"] and summary["heldout"] == meta["heldout"]
