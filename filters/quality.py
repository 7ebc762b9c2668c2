"""Quality classifiers (DCLM's recipe): a fastText model trained on reference text (positives)
vs. random crawl text (negatives), applied as a `score_<name>` float32 column.

* `train_classifier()` — columnar prep, held-out split, the seeded search for fastText's
  settings on the training part (fasttext_search), training (see fasttext_model for the NaN
  handling), held-out precision/recall/AUC, `MODEL_DIR/{model.bin,metadata.json}`.
* `quality_score@1` (map) — adds `score_<name>` from a trained MODEL_DIR.
* `quality_classifier@1` (corpus) — in a workflow: trains on the stream itself (documents
  whose `source` is in `positive_sources` vs. the others), or loads `model:` if it exists,
  then scores every shard. Selection is a separate step (`select@1`).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gristmill.filters import fasttext_model as ftm
from gristmill.filters import fasttext_search as fts
from gristmill.filters import training_groups as tg
from gristmill.pipeline.errors import InputError
from gristmill.pipeline.params import REQUIRED, param
from gristmill.pipeline.shards import expand_inputs, write_json_atomic
from gristmill.pipeline.stage import Stage, StageOutput

MODEL_FILE, METADATA_FILE = "model.bin", "metadata.json"
FASTTEXT_KEYS = ("lr", "epoch", "dim", "wordNgrams", "minCount", "loss", "thread", "seed", "bucket")


def read_text(inputs: list[str]) -> pa.ChunkedArray:
    """The `text` column of every Parquet file under `inputs` (only that column is read)."""
    return read_training(inputs, None)[0]


def column_names(inputs: list[str]) -> set[str]:
    """Every column name in any Parquet file under `inputs` (schemas only)."""
    return set().union(*(pq.read_schema(f).names for f in expand_inputs(inputs, suffixes=(".parquet",))))


def read_training(inputs: list[str], column: str | None) -> tuple[pa.ChunkedArray, pa.ChunkedArray | None]:
    """(text, the group-key `column` or None) of every Parquet file under `inputs`; files
    without that column give null keys (the near-duplicate key fills them)."""
    files = expand_inputs(inputs, suffixes=(".parquet",))
    if not files:
        raise FileNotFoundError(f"no Parquet files in {inputs}")
    texts, keys = [], []
    for f in files:
        have = column is not None and column in pq.read_schema(f).names
        t = pq.read_table(f, columns=["text"] + ([column] if have else []))
        texts += t.column("text").cast(pa.large_string()).chunks
        if column is not None:
            keys += t.column(column).cast(pa.string()).chunks if have else [pa.nulls(t.num_rows, pa.string())]
    key = pa.chunked_array(keys, pa.string()) if column is not None else None
    return pa.chunked_array(texts, pa.large_string()), key


def _combined(a) -> pa.Array:
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else pa.array(a) if isinstance(a, list) else a


def grouped_split(groups: np.ndarray, labels: np.ndarray, heldout: float, rng: np.random.Generator,
                  cap: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, held-out rows) as masks: at most `cap` documents a class, then
    about `heldout` of each class held out, whole groups at a time (a group is never on both
    sides; training_groups.hold_out)."""
    kept = np.ones(len(groups), bool)
    if cap is not None:
        kept = tg.take_groups(groups, labels, (cap, cap), rng)
    held = tg.hold_out(groups, labels, heldout, rng, among=kept)
    return kept & ~held, held


def binary_metrics(y_true: np.ndarray, y_score: np.ndarray, threshold: float = 0.5) -> dict:
    from sklearn.metrics import roc_auc_score

    pred = y_score >= threshold
    tp = int(np.sum(pred & (y_true == 1)))
    fp = int(np.sum(pred & (y_true == 0)))
    fn = int(np.sum(~pred & (y_true == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    both = len(set(y_true.tolist())) == 2
    return {"n": int(len(y_true)), "n_positive": int(y_true.sum()), "threshold": threshold,
            "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
            "accuracy": round(float(np.mean(pred == (y_true == 1))), 4) if len(y_true) else None,
            "auc": round(float(roc_auc_score(y_true, y_score)), 4) if both else None}


def train_classifier(positive, negative, out_dir: str, name: str = "quality", params: dict | None = None,
                     heldout: float = 0.1, seed: int = 0, max_per_class: int | None = None,
                     data_info: dict | None = None, tune_trials: int = fts.DEFAULT_TRIALS,
                     tune_folds: int = fts.DEFAULT_FOLDS,
                     tune_max_per_class: int | None = fts.DEFAULT_MAX_PER_CLASS,
                     positive_groups=None, negative_groups=None, group_by: str = tg.AUTO) -> dict:
    """Train `out_dir/model.bin` from two text arrays; write and return its metadata.

    `params` fixes fastText settings; of lr, epoch and wordNgrams, those it leaves out are
    chosen by the validation search (`tune_trials` settings, `tune_folds`-fold, on the
    training part only) unless `tune_trials` is 0 (then fasttext_model.DEFAULT_PARAMS).
    `positive_groups` / `negative_groups`: a group key per document (e.g. its URL; null: the
    near-duplicate key), `group_by` names them; without keys the near-duplicate key groups,
    and `group_by="none"` makes each document its own group (training_groups). The held-out
    part and the search's folds never split a group."""
    t0 = time.time()
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    positive, negative = _combined(positive), _combined(negative)
    masks = [ftm.has_words(positive), ftm.has_words(negative)]
    text = pa.concat_arrays([positive.filter(masks[0]).cast(pa.large_string()),
                             negative.filter(masks[1]).cast(pa.large_string())])
    labels = np.r_[np.ones(pc.sum(masks[0]).as_py() or 0, np.int64), np.zeros(pc.sum(masks[1]).as_py() or 0, np.int64)]
    keys = None
    if group_by != tg.NONE and (positive_groups is not None or negative_groups is not None):
        keys = pa.concat_arrays([(_combined(k).cast(pa.string()) if k is not None else pa.nulls(len(t), pa.string()))
                                 .filter(m) for k, t, m in ((positive_groups, positive, masks[0]),
                                                            (negative_groups, negative, masks[1]))])
    by = group_by if keys is not None or group_by == tg.NONE else tg.NEAR_DUPLICATES
    groups = tg.group_ids(text, keys, by)
    train, held = grouped_split(groups, labels, heldout, rng, max_per_class)
    is_pos = labels == 1
    pos_train, neg_train = text.filter(pa.array(train & is_pos)), text.filter(pa.array(train & ~is_pos))
    pos_held, neg_held = text.filter(pa.array(held & is_pos)), text.filter(pa.array(held & ~is_pos))
    train_groups = np.r_[groups[train & is_pos], groups[train & ~is_pos]]
    if not len(pos_train) or not len(neg_train):
        raise InputError(f"need non-empty positive and negative training text "
                         f"(got {len(pos_train)} positive, {len(neg_train)} negative)")
    lines = pa.concat_arrays([ftm.training_lines(pos_train, ftm.POSITIVE),
                              ftm.training_lines(neg_train, ftm.NEGATIVE)])
    lines = lines.take(pa.array(rng.permutation(len(lines))))  # SGD wants the classes mixed
    train_file = os.path.join(out_dir, ".train.txt")
    model_path = os.path.join(out_dir, MODEL_FILE)
    ftm.write_lines(lines, train_file)
    fixed = {"seed": seed, **(params or {})}
    search = None
    try:
        if tune_trials > 0:  # on the training part only: the held-out part stays unseen
            search = fts.search(pos_train, neg_train, fixed, trials=tune_trials, folds=tune_folds, seed=seed,
                                max_per_class=tune_max_per_class, work_dir=out_dir, groups=train_groups)
            fixed = {**fixed, **search.get("chosen", {})}
        run = ftm.train(train_file, model_path, fixed)
    finally:
        os.unlink(train_file)
    held_text = pa.concat_arrays([pos_held, neg_held])
    y_true = np.r_[np.ones(len(pos_held), int), np.zeros(len(neg_held), int)]
    y_score = ftm.Scorer(model_path).score(held_text).to_numpy(zero_copy_only=False)
    meta = {
        "name": name, "column": f"score_{name}", "label": ftm.LABEL_PREFIX + ftm.POSITIVE,
        "labels": {"positive": ftm.LABEL_PREFIX + ftm.POSITIVE, "negative": ftm.LABEL_PREFIX + ftm.NEGATIVE},
        "normalization": "trim whitespace, newline -> space (= datatrove newline_replacement=' ')",
        "data": {**(data_info or {}), "train_positive": len(pos_train), "train_negative": len(neg_train),
                 "heldout_positive": len(pos_held), "heldout_negative": len(neg_held),
                 "heldout_fraction": heldout, "max_per_class": max_per_class, "seed": seed,
                 "grouping": tg.summary(groups[train | held], labels[train | held], by)
                 | {"heldout_groups": int(len(np.unique(groups[held])))}},
        "params": run["params"], "lr_attempts": run["attempts"], "search": search,
        "heldout": binary_metrics(y_true, y_score) if len(y_true) else None,
        "seconds": round(time.time() - t0, 2),
    }
    meta["summary"] = headline(meta)  # the line `classify train` prints, kept beside the numbers
    write_json_atomic(meta, os.path.join(out_dir, METADATA_FILE))
    return meta


def load_metadata(model_dir: str) -> dict:
    path = os.path.join(model_dir, METADATA_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{model_dir} is not a gristmill model folder (no {METADATA_FILE})")
    with open(path) as f:
        return json.load(f)


class QualityScore(Stage):
    """Add `score_<name>` (float32) from a fastText model trained by `gristmill classify train`."""

    name = "quality_score"
    reads = ("text",)

    @dataclass(frozen=True)
    class Params:
        model: str | None = param(REQUIRED, "MODEL_DIR written by `gristmill classify train`")
        name: str | None = param(None, "scores go to score_<name> (default: the model's name)")
        label: str | None = param(None, "label whose probability is the score (default: the model's positive label)")

    def __init__(self, **params):
        super().__init__(**params)
        if not self.cfg.model:
            raise ValueError("quality_score needs `model:` (a folder written by `gristmill classify train`)")
        self.model_dir = self.cfg.model
        meta = load_metadata(self.model_dir)
        self.score_name = self.cfg.name or meta["name"]
        self.label = self.cfg.label or meta["label"]

    @property
    def column(self) -> str:
        return f"score_{self.score_name}"

    def provides(self):
        return (self.column,)

    def model_path(self, ctx=None) -> str:
        return os.path.join(self.model_dir, MODEL_FILE)

    def setup(self, ctx=None):
        self.scorer = ftm.Scorer(self.model_path(ctx), self.label)

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        scores = self.scorer.score(table.column("text"))
        if self.column in table.column_names:
            table = table.drop_columns([self.column])
        return StageOutput(table.append_column(pa.field(self.column, pa.float32()), scores),
                           counters={"scored": len(scores)})


def _training_text(path: str, positive: tuple, negative: tuple | None, group_by: str = tg.NONE) -> tuple:
    """One shard's positive and negative texts, chosen by `source`, and their group keys
    (None when no column gives them) (runs on a worker)."""
    names = pq.read_schema(path).names
    # a named column this shard lacks: null keys here (fit checks that some shard has it)
    column = group_by if group_by in names else tg.group_column(names, group_by if group_by in tg.MODES else tg.NONE)
    t = pq.read_table(path, columns=["text", "source"] + ([column] if column else []))
    source = pc.fill_null(t.column("source").cast(pa.string()), "").combine_chunks()
    is_pos = pc.is_in(source, pa.array(positive, pa.string()))
    is_neg = pc.is_in(source, pa.array(negative, pa.string())) if negative else pc.invert(is_pos)
    text = t.column("text").cast(pa.large_string()).combine_chunks()
    key = t.column(column).cast(pa.string()).combine_chunks() if column else None
    return (text.filter(is_pos), text.filter(is_neg), key.filter(is_pos) if column else None,
            key.filter(is_neg) if column else None, column)


_FT = ftm.DEFAULT_PARAMS
_SEARCHED = "; unset: chosen on a validation split (see tune_trials)"


class QualityClassifier(QualityScore):
    """Train a fastText quality classifier on the stream's own sources (or load one), then score."""

    name = "quality_classifier"
    kind = "corpus"
    reads = ("text", "source")

    @dataclass(frozen=True)
    class Params:
        name: str | None = param(None, "scores go to score_<name>; unset: quality, or the loaded model's name")
        positive_sources: list[str] | None = param(None, "sources whose documents are the positives "
                                                         "(required unless `model` holds a trained model)")
        negative_sources: list[str] | None = param(None, "sources whose documents are the negatives "
                                                         "(default: every other source)")
        model: str | None = param(None, "MODEL_DIR: loaded if it holds a model, else the trained model is "
                                        "copied there too")
        heldout: float = param(0.1, "fraction of each class held out for metrics (whole groups)", ge=0.0, le=1.0)
        group_by: str = param(tg.AUTO, "what keeps documents together in the held-out split and the search's "
                              "folds: auto (the `group` column, else `url`, else near-duplicate text), a "
                              "column name, near_duplicates, or none")
        seed: int = param(0, "seed of the split, the sampling and fastText")
        max_per_class: int | None = param(None, "at most this many documents of each class", ge=1)
        # fastText's own settings (names as fastText spells them)
        tune_trials: int = param(fts.DEFAULT_TRIALS, "fastText settings tried on validation folds of the "
                                 "training part (seeded, one thread); 0: no search (unset: lr 0.5, epoch 10, "
                                 "wordNgrams 2)", ge=0)
        tune_folds: int = param(fts.DEFAULT_FOLDS, "cross-validation folds of the search", ge=2)
        tune_max_per_class: int | None = param(fts.DEFAULT_MAX_PER_CLASS, "the search sees at most this many "
                                               "documents of each class (the final model sees all)", ge=2)
        lr: float | None = param(None, "fastText learning rate (halved and retried if training diverges)"
                                 + _SEARCHED, gt=0)
        epoch: int | None = param(None, "fastText epochs" + _SEARCHED, ge=1)
        dim: int = param(_FT["dim"], "fastText vector size", ge=1)
        wordNgrams: int | None = param(None, "fastText word n-gram length" + _SEARCHED, ge=1, cli="--word-ngrams")
        minCount: int = param(_FT["minCount"], "fastText minimal word count", ge=1, cli="--min-count")
        loss: str = param(_FT["loss"], "fastText loss", choices=("softmax", "ns", "hs", "ova"))
        thread: int = param(_FT["thread"], "fastText training threads", ge=1, cli="--threads")
        bucket: int = param(_FT["bucket"], "fastText hash buckets for word n-grams", ge=1)

    def __init__(self, **params):
        Stage.__init__(self, **params)
        cfg = self.cfg
        self.score_name = cfg.name or "quality"
        self.label = ftm.LABEL_PREFIX + ftm.POSITIVE
        self.preloaded = bool(cfg.model and os.path.exists(os.path.join(cfg.model, METADATA_FILE)))
        if self.preloaded:
            meta = load_metadata(cfg.model)
            self.score_name = cfg.name or meta["name"]
            self.label = meta["label"]
        elif not cfg.positive_sources:
            raise ValueError("quality_classifier needs `positive_sources:` (or `model:` pointing to a trained model)")

    def trained_dir(self, state_dir: str | None) -> str:
        if self.preloaded:
            return self.cfg.model
        if state_dir is None:
            raise RuntimeError(f"{self.versioned_name}: no step context, so no state folder to load the model from")
        return os.path.join(state_dir, "model")

    def model_path(self, ctx=None) -> str:
        return os.path.join(self.trained_dir(ctx.state_dir if ctx is not None else None), MODEL_FILE)

    def fit(self, ctx) -> dict:
        cfg = self.cfg
        if self.preloaded:
            return {"loaded": cfg.model}
        pos_src = tuple(cfg.positive_sources)
        neg_src = tuple(cfg.negative_sources or ())
        parts = ctx.map(functools.partial(_training_text, positive=pos_src, negative=neg_src, group_by=cfg.group_by),
                        ctx.inputs)
        positive = pa.concat_arrays([p[0] for p in parts])
        negative = pa.concat_arrays([p[1] for p in parts])
        column = next((p[4] for p in parts if p[4]), None)
        keys = [pa.concat_arrays([p[i] if p[i] is not None else pa.nulls(len(p[i - 2]), pa.string()) for p in parts])
                for i in (2, 3)] if column else [None, None]
        if cfg.group_by not in tg.MODES and not column:
            raise InputError(f"quality_classifier: group_by={cfg.group_by!r}, but no shard has that column")
        meta = train_classifier(positive, negative, self.trained_dir(ctx.state_dir), name=self.score_name,
                                positive_groups=keys[0], negative_groups=keys[1],
                                group_by=column or (tg.NONE if cfg.group_by == tg.NONE else tg.NEAR_DUPLICATES),
                                params=fasttext_params(cfg), heldout=cfg.heldout, seed=cfg.seed,
                                max_per_class=cfg.max_per_class, tune_trials=cfg.tune_trials,
                                tune_folds=cfg.tune_folds, tune_max_per_class=cfg.tune_max_per_class,
                                data_info={"positive_sources": list(pos_src),
                                           "negative_sources": list(neg_src) or "all other sources"})
        if cfg.model:  # keep a copy where the user asked for it
            shutil.copytree(self.trained_dir(ctx.state_dir), cfg.model, dirs_exist_ok=True)
        return {"heldout": meta["heldout"], "lr_attempts": meta["lr_attempts"], "data": meta["data"],
                "search": search_summary(meta["search"]), "params": meta["params"], "headline": headline(meta)}


def fasttext_params(cfg) -> dict:
    """fastText's settings from a QualityClassifier's params (fastText's names); unset ones
    are left out (the search chooses them, or fasttext_model.DEFAULT_PARAMS apply)."""
    return {k: getattr(cfg, k) for k in FASTTEXT_KEYS if getattr(cfg, k) is not None}


def headline(meta: dict) -> str:
    """One line: the held-out AUC measured and the settings the validation chose."""
    held, search, grouping = meta["heldout"] or {}, meta["search"] or {}, meta["data"].get("grouping", {})
    chosen = ", ".join(f"{k}={v}" for k, v in search.get("chosen", {}).items()) or "none searched"
    line = f"held-out AUC {held.get('auc')} on {held.get('n', 0)} documents; chosen on validation: {chosen}"
    if "validation_auc" in search:
        line += f" (validation AUC {search['validation_auc']}, {search['folds']} folds"
        line += f" grouped by {grouping['by']})" if grouping else ")"
    return line


def search_summary(search: dict | None) -> dict | None:
    """The search in a few fields (the full trial list stays in metadata.json)."""
    if not search or "chosen" not in search:
        return search
    return {k: search[k] for k in ("chosen", "validation_auc", "validation_logloss", "folds", "groups", "how")
            if k in search} | {
        "trials": len(search["trials"])}
