"""Choosing fastText's settings on a validation split: a small, seeded, reproducible search.

Why: on little data (a hundred documents a class) the held-out AUC of a fastText classifier
moves by more than 0.1 with the learning rate, the number of epochs and the word n-gram
length alone (README, "Quality and topic classifiers"), so no fixed default is right for
every task. fastText's own autotune is not used: with several threads it is not
deterministic, and its budget is wall-clock time, so the same inputs would not give the
same model on a busy machine.

How: the training part (never the held-out part) is cut into `folds` folds by group
(filters/training_groups.py: a page's clean body and its full text share a group and so a
fold, otherwise validation would score a page whose words the model trained on), each class
spread evenly over the folds, in a seeded order; every candidate setting trains on all folds but one and scores the one
left out, for each fold in turn. Candidates are the fixed defaults
(fasttext_model.DEFAULT_PARAMS) first, then distinct points of `SEARCH_SPACE` dealt
round-robin over levels of lr x epoch, in a seeded order (the parameters the caller fixed
are not searched): with a seeded random order alone, 8 of 48 points missed the well-trained
region on one split of the README's `pages_light` task (unseen AUC 0.84 against 0.94). Each fold runs in a child
process (side by side, up to the CPU count) with one training thread and the zero-filling
allocator of fasttext_model, so a run is deterministic: same inputs and seed give the same
trials, the same choice and a byte-identical model. The choice is the highest mean
validation AUC; ties go to the lower mean log loss, then to the earlier trial.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gristmill.filters import fasttext_model as ftm
from gristmill.filters import training_groups as tg

# what the search may change; the rest (dim, buckets, loss, minCount) stays as given
SEARCH_SPACE = {"lr": (0.1, 0.25, 0.5, 1.0), "epoch": (5, 10, 25, 50), "wordNgrams": (1, 2, 3)}
DEFAULT_TRIALS, DEFAULT_FOLDS = 8, 3
DEFAULT_MAX_PER_CLASS = 2000  # the search sees at most this many documents a class (cost bound)


def training_amount_level(setting: dict, fixed: dict) -> int:
    """How far SGD travels, lr x epoch, on a log scale in steps of 2**1.5 (~2.8x).

    Why it matters: on ~90 pages a class the unseen AUC of the body-vs-full-page task is
    mostly a function of lr x epoch (measured over lr 0.1-2 x epoch 10-200: 0.73 at 1, 0.84
    at 5, 0.94 at 20-25, ~0.90 beyond 100), so the trials should cover that axis first."""
    lr = setting.get("lr", fixed.get("lr", ftm.DEFAULT_PARAMS["lr"]))
    epoch = setting.get("epoch", fixed.get("epoch", ftm.DEFAULT_PARAMS["epoch"]))
    return int(np.floor(np.log2(lr * epoch) / 1.5))


def candidates(fixed: dict, trials: int, seed: int, space: dict | None = None) -> list[dict]:
    """The settings tried: the fixed defaults for the searched keys first, then distinct grid
    points, `trials` in all (fewer if the grid is smaller). The rest are dealt round-robin
    from the training-amount levels (training_amount_level), levels and points within a
    level in a seeded random order, so a few trials already span under- to over-training."""
    space = SEARCH_SPACE if space is None else space
    keys = [k for k in space if k not in fixed]
    if not keys:
        return []
    first = {k: ftm.DEFAULT_PARAMS[k] for k in keys}
    grid = [dict(zip(keys, vals)) for vals in itertools.product(*(space[k] for k in keys))]
    rest = [grid[i] for i in np.random.default_rng(seed).permutation(len(grid)) if grid[i] != first]
    level = [training_amount_level(g, fixed) for g in rest]
    level_order = {lv: i for i, lv in enumerate(dict.fromkeys(level))}  # levels in their seeded first-seen order
    seen: dict[int, int] = {}
    rank = []
    for lv in level:
        rank.append((seen.get(lv, 0), level_order[lv]))
        seen[lv] = seen.get(lv, 0) + 1
    rest = [rest[i] for i in sorted(range(len(rest)), key=lambda i: rank[i])]
    return ([first] + rest)[:max(1, trials)]


def cross_validation(classes: list[pa.Array], folds: int, rng: np.random.Generator,
                     groups: np.ndarray | None = None) -> list[tuple]:
    """(training lines, validation lines) per fold from [positive lines, negative lines]:
    every line validates exactly once and never trains the model it validates, and lines of
    one group (`groups`: a number per line of both classes, in that order; None: each line
    its own group) always share a fold."""
    lines = pa.concat_arrays(classes)
    labels = np.r_[np.ones(len(classes[0]), np.int64), np.zeros(len(classes[1]), np.int64)]
    groups = np.arange(len(lines), dtype=np.int64) if groups is None else np.asarray(groups, np.int64)
    fold = tg.assign_folds(groups, labels, folds, rng)
    out = []
    for f in range(folds):
        train, val = lines.filter(pa.array(fold != f)), lines.filter(pa.array(fold == f))
        out.append((train.take(pa.array(rng.permutation(len(train)))), val))  # SGD wants the classes mixed
    return out


def auc(y_true: np.ndarray, y_score: np.ndarray) -> float | None:
    """ROC AUC by ranks (Mann-Whitney U, ties get average ranks); None without both classes."""
    y_true, y_score = np.asarray(y_true), np.asarray(y_score, dtype=np.float64)
    n_pos = int(np.sum(y_true == 1))
    n_neg = len(y_true) - n_pos
    if not n_pos or not n_neg:
        return None
    _, inverse, counts = np.unique(y_score, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    avg_rank = ends - (counts - 1) / 2.0  # 1-based average rank of each distinct score
    ranks = avg_rank[inverse]
    return float((ranks[y_true == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def search(positive: pa.Array, negative: pa.Array, fixed: dict, trials: int = DEFAULT_TRIALS,
           folds: int = DEFAULT_FOLDS, seed: int = 0, max_per_class: int | None = DEFAULT_MAX_PER_CLASS,
           work_dir: str | None = None, space: dict | None = None, processes: int | None = None,
           groups: np.ndarray | None = None) -> dict:
    """Pick the searched fastText settings for training on `positive` vs `negative`.

    Returns {"chosen": {searched key: value}, "validation_auc", "validation_logloss",
    "folds", "trials": [{"params", "auc", "logloss", "fold_auc", "result"}...], ...}, or
    {"skipped": reason} when a class is too small to validate on or nothing is left to search.
    `space` (default SEARCH_SPACE): {fastText key: values}; `processes`: children at once
    (default: one per fold, up to the CPU count); `groups`: a group number per document of
    `positive` then `negative` (training_groups.group_ids; None: each document its own
    group): a group is never split across folds, nor by the `max_per_class` sample.
    """
    space = SEARCH_SPACE if space is None else space
    cands = candidates(fixed, trials, seed, space)
    if not cands:
        return {"skipped": "every searched setting is fixed by the caller"}
    rng = np.random.default_rng(seed)
    n_pos = len(positive)
    groups = np.arange(n_pos + len(negative), dtype=np.int64) if groups is None else np.asarray(groups, np.int64)
    labels = np.r_[np.ones(n_pos, np.int64), np.zeros(len(negative), np.int64)]
    # documents that give no training line (empty once normalised) leave, with their group number
    keep = np.r_[ftm.has_words(positive).to_numpy(zero_copy_only=False),
                 ftm.has_words(negative).to_numpy(zero_copy_only=False)].astype(bool)
    if max_per_class is not None and (labels[keep].sum() > max_per_class or (1 - labels[keep]).sum() > max_per_class):
        keep = tg.take_groups(groups, labels, (max_per_class, max_per_class), rng, among=keep)
    classes = [ftm.training_lines(text.filter(pa.array(keep[sl])), label)
               for text, sl, label in ((positive, slice(0, n_pos), ftm.POSITIVE),
                                       (negative, slice(n_pos, None), ftm.NEGATIVE))]
    groups, labels = groups[keep], labels[keep]
    assert len(classes[0]) + len(classes[1]) == len(groups)
    n_groups = [len(np.unique(groups[labels == c])) for c in (1, 0)]
    folds = min(folds, *n_groups)
    fold_sets = cross_validation(classes, folds, rng, groups) if folds >= 2 else []
    # every validation part needs both classes for an AUC (uneven groups can leave one out)
    while folds >= 2 and not all(both_labels(val) for _, val in fold_sets):
        folds -= 1
        fold_sets = cross_validation(classes, folds, rng, groups) if folds >= 2 else []
    if folds < 2:
        return {"skipped": f"too few documents to validate on ({len(classes[0])} positive, "
                           f"{len(classes[1])} negative, in {n_groups[0]} and {n_groups[1]} groups)"}
    tmp = tempfile.mkdtemp(prefix=".search-", dir=work_dir)
    try:
        jobs = []
        for f, (train, val) in enumerate(fold_sets):
            paths = {"train": os.path.join(tmp, f"train{f}.txt"), "val": os.path.join(tmp, f"val{f}.txt")}
            ftm.write_lines(train, paths["train"])
            ftm.write_lines(val, paths["val"])
            jobs.append(paths)
        # one thread: fastText's multi-threaded (hogwild) training is not reproducible
        base = {**ftm.DEFAULT_PARAMS, **fixed, "thread": 1}
        trial_params = [{**base, **c} for c in cands]
        # one child per fold, side by side: each trains with one thread, so this stays deterministic
        parallel = processes or min(folds, os.cpu_count() or 1)
        results = ftm.run_children("gristmill.filters.fasttext_search",
                                   [{"folds": [job], "trials": trial_params} for job in jobs], parallel)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    failed = [r for r in results if r.get("result") != "ok"]
    if failed:
        raise RuntimeError(f"fastText search failed: {failed[0].get('error')}")
    per_trial = [[r for res in results for r in res["trials"][i]] for i in range(len(cands))]
    rows = []
    for i, (cand, trial) in enumerate(zip(cands, per_trial)):
        ok = all(r["result"] == "ok" and r["auc"] is not None for r in trial)
        rows.append({"params": cand, "result": "ok" if ok else next(r["result"] for r in trial if r["result"] != "ok"
                                                                     or r["auc"] is None),
                     "auc": round(float(np.mean([r["auc"] for r in trial])), 4) if ok else None,
                     "logloss": round(float(np.mean([r["logloss"] for r in trial])), 4) if ok else None,
                     "fold_auc": [None if r["auc"] is None else round(r["auc"], 4) for r in trial],
                     "seconds": round(sum(r["seconds"] for r in trial), 2)})
    good = [i for i, r in enumerate(rows) if r["result"] == "ok"]
    if not good:
        raise ftm.TrainingDiverged(f"every searched setting failed to train: {rows}")
    best = min(good, key=lambda i: (-rows[i]["auc"], rows[i]["logloss"], i))
    return {"chosen": rows[best]["params"], "validation_auc": rows[best]["auc"],
            "validation_logloss": rows[best]["logloss"], "chosen_trial": best, "folds": folds,
            "documents": {"positive": len(classes[0]), "negative": len(classes[1])},
            "groups": {"positive": n_groups[0], "negative": n_groups[1], "total": int(len(np.unique(groups)))},
            "space": {k: list(v) for k, v in space.items() if k not in fixed},
            "seed": seed, "trials": rows,
            "how": f"{folds}-fold cross-validation by group (a group never split across folds; each class spread "
                   f"evenly) on the training part only (held-out part unseen); mean AUC, ties to lower log loss; "
                   f"one fastText thread"}


def both_labels(val: pa.Array) -> bool:
    """Whether validation lines hold both classes (an AUC needs both)."""
    n_pos = pc.sum(pc.starts_with(val, ftm.LABEL_PREFIX + ftm.POSITIVE + " ")).as_py() or 0
    return 0 < n_pos < len(val)


def _read_val(path: str) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    positive = ftm.LABEL_PREFIX + ftm.POSITIVE
    with open(path, encoding="utf-8") as f:
        for line in f:
            label, _, text = line.rstrip("\n").partition(" ")
            texts.append(text + "\n")
            labels.append(1 if label == positive else 0)
    return texts, np.array(labels)


def _child_main(job_path: str) -> None:
    """Run every trial on every fold (inside the zero-filling child that fasttext_model starts)."""
    import time

    import fasttext

    with open(job_path) as f:
        job = json.load(f)
    want = ftm.LABEL_PREFIX + ftm.POSITIVE
    vals = [_read_val(fold["val"]) for fold in job["folds"]]
    out = []
    for params in job["trials"]:
        per_fold = []
        for fold, (texts, y) in zip(job["folds"], vals):
            t0 = time.perf_counter()
            try:
                model = fasttext.train_supervised(input=fold["train"], verbose=0, **params)
            except RuntimeError as e:
                if "NaN" not in str(e):
                    raise
                per_fold.append({"result": "nan", "auc": None, "logloss": None,
                                 "seconds": round(time.perf_counter() - t0, 3)})
                continue
            labels, probs = model.f.multilinePredict(texts, -1, 0.0, "strict")
            p = np.array([pr[lab.index(want)] if want in lab else 0.0 for lab, pr in zip(labels, probs)])
            p = np.clip(p, 1e-6, 1 - 1e-6)
            logloss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
            per_fold.append({"result": "ok", "auc": auc(y, p), "logloss": logloss,
                             "seconds": round(time.perf_counter() - t0, 3)})
        out.append(per_fold)
    print(json.dumps({"result": "ok", "trials": out}))


if __name__ == "__main__":
    _child_main(sys.argv[1])
