"""Grouped splits for classifier training (filters/training_groups.py): a page's clean body
and its full text share a group, and no fold or held-out split ever cuts a group."""

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gristmill.filters import fasttext_search as fts
from gristmill.filters import training_groups as tg
from gristmill.filters.quality import train_classifier

SENTENCES = ("the council approved the new budget for schools and roads after a long debate",
             "researchers measured the river water after the heavy rain in the northern valley",
             "the orchestra played a symphony written two centuries ago by a forgotten composer",
             "farmers in the valley expect a late harvest this autumn because of the cold spring",
             "the museum opened an exhibition of early photographs taken by travelling merchants",
             "engineers tested the bridge before it reopened to traffic on a quiet sunday morning")
NAV = ("Home | News | Sport | Weather | Login | Register", "Accept all cookies | Cookie settings",
       "Share on Facebook | Tweet | Email", "Imprint | Privacy policy | Contact | Back to top")


WORDS = " ".join(SENTENCES).split()


def pages(n: int, seed: int) -> list[dict]:
    """`n` inline pages: a body (a seeded draw of 60 words) and its full text with boilerplate
    lines that half the pages share."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        body = " ".join(WORDS[j] for j in rng.integers(0, len(WORDS), 60)) + "."
        full = f"{NAV[i % 2]}\n{body}\n{NAV[2 + i % 2]}"
        out.append({"url": f"https://site{i % 7}.example/p{i}", "body": body, "full": full})
    return out


def as_arrays(ps):
    text = pa.array([p["body"] for p in ps] + [p["full"] for p in ps], pa.large_string())
    labels = np.r_[np.ones(len(ps), np.int64), np.zeros(len(ps), np.int64)]
    return text, labels


def test_near_duplicate_key_pairs_each_body_with_its_own_full_page_only():
    ps = pages(30, seed=0)
    text, _ = as_arrays(ps)
    g = tg.near_duplicate_components(text)
    assert np.array_equal(g[:30], g[30:])  # body and full text of a page: one group
    assert len(np.unique(g)) == 30  # the shared boilerplate does not join pages
    assert tg.near_duplicate_components(text).tolist() == g.tolist()


def test_explicit_keys_win_and_null_keys_fall_back_to_near_duplicates():
    ps = pages(6, seed=1)
    text, _ = as_arrays(ps)
    keys = pa.array([p["url"] for p in ps] + [None] * 6)  # the full texts have no key
    g = tg.group_ids(text, keys)
    assert len(np.unique(g[:6])) == 6 and len(np.unique(g[6:])) == 6
    assert not set(g[:6]) & set(g[6:])  # a null key is never matched to another row's url
    # the same url on both sides joins them whatever the texts
    g = tg.group_ids(pa.array(["a", "b", "c", "d"]), pa.array(["u1", "u2", "u1", "u2"]))
    assert g[0] == g[2] and g[1] == g[3] and g[0] != g[1]
    assert tg.group_ids(text, keys, tg.NONE).tolist() == list(range(12))


@pytest.mark.parametrize("folds", [2, 3, 5])
def test_a_group_never_spans_folds_and_the_folds_are_seeded(folds):
    rng = np.random.default_rng(3)
    groups = np.r_[np.arange(40), np.arange(40), rng.integers(40, 60, 25)]  # pairs, plus uneven extra groups
    labels = np.r_[np.ones(40, int), np.zeros(40, int), rng.integers(0, 2, 25)]
    fold = tg.assign_folds(groups, labels, folds, np.random.default_rng(7))
    for g in np.unique(groups):
        assert len(set(fold[groups == g].tolist())) == 1, g
    for f in range(folds):  # both classes in every fold, spread evenly
        assert abs(int(labels[fold == f].sum()) - labels.sum() / folds) <= 2 + 25 / folds
        assert 0 < labels[fold == f].sum() < (fold == f).sum()
    assert tg.assign_folds(groups, labels, folds, np.random.default_rng(7)).tolist() == fold.tolist()
    assert tg.assign_folds(groups, labels, folds, np.random.default_rng(8)).tolist() != fold.tolist()


def test_cross_validation_lines_of_one_page_share_a_fold():
    ps = pages(12, seed=2)
    classes = [pa.array([f"__label__hq {p['body']}\n" for p in ps]),
               pa.array([f"__label__cc {p['full']}\n" for p in ps])]
    groups = np.r_[np.arange(12), np.arange(12)]
    page_of = {t: i for i, p in enumerate(ps) for t in (p["body"], p["full"])}
    seen = []
    for train, val in fts.cross_validation(classes, 3, np.random.default_rng(0), groups):
        val_pages = {page_of[line.split(" ", 1)[1].strip()] for line in val.to_pylist()}
        train_pages = {page_of[line.split(" ", 1)[1].strip()] for line in train.to_pylist()}
        assert not val_pages & train_pages  # no page trains the model that validates it
        seen += val.to_pylist()
    assert len(seen) == 24 and len(set(seen)) == 24


def test_take_groups_respects_each_class_limit_with_whole_groups():
    groups = np.r_[np.arange(10), np.arange(10), [10, 10, 10]]
    labels = np.r_[np.ones(10, int), np.zeros(10, int), [0, 0, 0]]
    rows = tg.take_groups(groups, labels, (4, 4), np.random.default_rng(0))
    assert labels[rows].sum() <= 4 and (1 - labels[rows]).sum() <= 4
    taken = set(groups[rows].tolist())
    assert all(rows[groups == g].all() for g in taken)  # whole groups only
    assert 10 not in taken or labels[rows].sum() <= 1  # the 3-negative group fits only beside few pairs


def test_training_holds_out_whole_pages_and_records_the_grouping(tmp_path):
    ps = pages(40, seed=3)
    pos, neg = [p["body"] for p in ps], [p["full"] for p in ps]
    keys = [p["url"] for p in ps]
    params = {"dim": 16, "bucket": 5000, "epoch": 20}
    meta = train_classifier(pos, neg, str(tmp_path / "url"), params=params, heldout=0.25, tune_trials=0,
                            positive_groups=keys, negative_groups=keys, group_by="url")
    grouping = meta["data"]["grouping"]
    assert grouping == {"by": "url", "groups": 40, "groups_with_both_classes": 40, "largest_group": 2,
                        "heldout_groups": 10}
    assert meta["data"]["heldout_positive"] == meta["data"]["heldout_negative"] == 10
    # without keys the near-duplicate key finds the same pairs
    nd = train_classifier(pos, neg, str(tmp_path / "nd"), params=params, heldout=0.25, tune_trials=0)
    assert nd["data"]["grouping"]["by"] == "near_duplicates" and nd["data"]["grouping"]["groups"] == 40
    assert nd["data"]["grouping"]["groups_with_both_classes"] == 40
    none = train_classifier(pos, neg, str(tmp_path / "none"), params=params, heldout=0.25, tune_trials=0,
                            group_by="none")
    assert none["data"]["grouping"]["groups"] == 80


def test_search_folds_are_grouped_and_reproducible(tmp_path):
    ps = pages(24, seed=4)
    pos, neg = pa.array([p["body"] for p in ps]), pa.array([p["full"] for p in ps])
    groups = np.r_[np.arange(24), np.arange(24)]
    runs = [fts.search(pos, neg, {"dim": 16, "bucket": 5000}, trials=2, folds=3, seed=5, groups=groups,
                       work_dir=str(tmp_path)) for _ in range(2)]
    untimed = [[{k: v for k, v in t.items() if k != "seconds"} for t in r["trials"]] for r in runs]
    assert untimed[0] == untimed[1] and runs[0]["chosen"] == runs[1]["chosen"]
    assert runs[0]["groups"] == {"positive": 24, "negative": 24, "total": 24}
    assert "by group" in runs[0]["how"]


def test_cli_groups_by_url_and_prints_the_choice(tmp_path, capsys):
    from gristmill.pipeline.cli import main

    ps = pages(30, seed=5)
    for side, key in (("pos", "body"), ("neg", "full")):
        os.makedirs(tmp_path / side)
        pq.write_table(pa.table({"id": [f"{side}{i}" for i in range(30)], "text": [p[key] for p in ps],
                                 "url": [p["url"] for p in ps]}), tmp_path / side / "a.parquet")
    out = str(tmp_path / "model")
    assert main(["classify", "train", "--positive", str(tmp_path / "pos"), "--negative", str(tmp_path / "neg"),
                 "--out", out, "--heldout", "0.2", "--tune-trials", "2", "--dim", "16", "--bucket", "5000"]) == 0
    printed = capsys.readouterr().out
    meta = json.load(open(os.path.join(out, "metadata.json")))
    assert meta["data"]["grouping"]["by"] == "url" and meta["data"]["grouping"]["groups_with_both_classes"] == 30
    assert meta["summary"] in printed and "grouped by url" in meta["summary"]
    assert f"held-out AUC {meta['heldout']['auc']}" in meta["summary"]
    # a named column the inputs lack is a one-line error, not a silent fallback
    assert main(["classify", "train", "--positive", str(tmp_path / "pos"), "--negative", str(tmp_path / "neg"),
                 "--out", out, "--group-by", "title", "--tune-trials", "0"]) != 0
    assert "no such column" in capsys.readouterr().err


def test_hold_out_takes_whole_big_groups_but_leaves_each_class_something_to_train_on():
    # positives: 30 singletons; negatives: 4 "speeches" of 20 passages each
    groups = np.r_[np.arange(30), np.repeat(np.arange(30, 34), 20)]
    labels = np.r_[np.ones(30, int), np.zeros(80, int)]
    held = tg.hold_out(groups, labels, 0.1, np.random.default_rng(0))
    assert labels[held].sum() == 3 and (1 - labels[held]).sum() == 20  # one whole speech, not none
    assert all(held[groups == g].all() or not held[groups == g].any() for g in np.unique(groups))
    # a class in one group is never held out entirely
    one = np.r_[np.arange(10), np.full(10, 10)]
    held = tg.hold_out(one, np.r_[np.ones(10, int), np.zeros(10, int)], 0.5, np.random.default_rng(0))
    assert held[:10].sum() == 5 and not held[10:].any()
    assert tg.hold_out(groups, labels, 0.1, np.random.default_rng(0)).tolist() == \
        tg.hold_out(groups, labels, 0.1, np.random.default_rng(0)).tolist()
