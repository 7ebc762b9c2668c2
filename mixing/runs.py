"""A mixture folder (MIXDIR): the runs of a swarm and what is known about them.

    MIXDIR/swarm.json     domains, metrics (and which are lower-is-better), prior, caps, budget,
                          proxy config, seed, token folder: what every later command reads
    MIXDIR/runs.parquet   one row per finished run: run_id, one weight column per domain,
                          one column per metric, proxy_hash, seed, tokens_hash
    MIXDIR/fit.json       out-of-fold scores per metric and model, and the model propose uses
    MIXDIR/model.pkl      the chosen regressors, refit on all runs (one per metric)

`runs.parquet` is rewritten (atomically) after every finished run, so a killed swarm keeps
what it finished. External swarms (RegMix's released CSVs) import into the same layout.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pandas as pd

from gristmill.pipeline.errors import GristmillError
from gristmill.pipeline.shards import write_json_atomic

SWARM = "swarm.json"
RUNS = "runs.parquet"
FIT = "fit.json"
MODEL = "model.pkl"
BOOKKEEPING = ("run_id", "proxy_hash", "seed", "tokens_hash")


class MixDirError(GristmillError, ValueError):
    """A mixture folder that is missing, incomplete or inconsistent."""


def config_hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def folder_hash(tokens_dir: str) -> str:
    """A token folder's identity: the hash of its manifest (tokenizer hash, counts, mixture)."""
    with open(os.path.join(tokens_dir, "manifest.json"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def read_swarm(mix_dir: str) -> dict:
    path = os.path.join(mix_dir, SWARM)
    if not os.path.exists(path):
        raise MixDirError(f"{mix_dir} is not a mixture folder: no {SWARM} (run `gristmill mix swarm` or `mix import`)")
    with open(path) as f:
        return json.load(f)


def write_json(obj, path: str) -> None:
    """A mixture folder's JSON: keys in the order written (domains keep their order) and numpy
    numbers as numbers, written atomically."""
    write_json_atomic(obj, path, sort_keys=False, default=float)


def read_runs(mix_dir: str) -> pd.DataFrame:
    path = os.path.join(mix_dir, RUNS)
    if not os.path.exists(path):
        return pd.DataFrame()
    return pd.read_parquet(path)


def write_runs(runs: pd.DataFrame, mix_dir: str) -> None:
    path = os.path.join(mix_dir, RUNS)
    runs.to_parquet(path + ".tmp", index=False)
    os.replace(path + ".tmp", path)


def matrices(mix_dir: str, targets: list[str] | None = None) -> tuple[dict, pd.DataFrame, np.ndarray, dict[str, np.ndarray]]:
    """(swarm.json, runs, weights X [runs x domains], {metric: y}) of a mixture folder; runs
    missing a metric are left out of that metric only."""
    swarm = read_swarm(mix_dir)
    runs = read_runs(mix_dir)
    if runs.empty:
        raise MixDirError(f"{mix_dir}: no finished runs in {RUNS}")
    metrics = targets or swarm["metrics"]
    unknown = [m for m in metrics if m not in runs.columns]
    if unknown:
        raise MixDirError(f"{mix_dir}: unknown metric(s) {unknown}; metrics: {swarm['metrics']}")
    X = runs[swarm["domains"]].to_numpy(dtype=float)
    return swarm, runs, X, {m: runs[m].to_numpy(dtype=float) for m in metrics}


def _read_csv(path: str) -> pd.DataFrame:
    table = pd.read_csv(path)
    if "index" not in table.columns:
        raise MixDirError(f"{path}: no `index` column (RegMix's layout: index, then one column per domain/metric)")
    return table


def import_csv(mixtures_csv: str, metrics_csv: str, mix_dir: str, lower_is_better: bool = True) -> dict:
    """RegMix's released layout (or gristmill's own, as `mix predict` writes it) -> MIXDIR.
    Every non-index column of the mixtures CSV is a domain weight; of the metrics CSV, a metric."""
    mixtures, metrics = _read_csv(mixtures_csv), _read_csv(metrics_csv)
    names = [c for c in metrics.columns if c != "index"]
    # a CSV written by `mix predict` carries predicted metric columns beside the weights
    domains = [c for c in mixtures.columns if c != "index" and c not in names and c != "predicted_mean"]
    joined = mixtures[["index", *domains]].merge(metrics[["index", *names]], on="index", how="inner")
    if joined.empty:
        raise MixDirError(f"no `index` value of {mixtures_csv} occurs in {metrics_csv}")
    weights = joined[domains].to_numpy(dtype=float)
    weights = weights / weights.sum(axis=1, keepdims=True)  # released rows are rounded to 3 digits
    runs = pd.DataFrame({"run_id": joined["index"].astype(str)})
    for i, d in enumerate(domains):
        runs[d] = weights[:, i]
    for m in names:
        runs[m] = joined[m].astype(float)
    source = {"mixtures": os.path.abspath(mixtures_csv), "metrics": os.path.abspath(metrics_csv)}
    runs["proxy_hash"] = config_hash(source)
    runs["seed"] = -1
    runs["tokens_hash"] = ""
    os.makedirs(mix_dir, exist_ok=True)
    swarm = {"format": "gristmill-mix/1", "imported_from": source, "domains": domains, "metrics": names,
             "lower_is_better": {m: lower_is_better for m in names},
             "prior": "natural", "prior_weights": {d: float(weights[:, i].mean()) for i, d in enumerate(domains)},
             "caps": None, "budget_tokens": None, "max_epochs": None}
    write_json(swarm, os.path.join(mix_dir, SWARM))
    write_runs(runs, mix_dir)
    return {"runs": len(runs), "domains": len(domains), "metrics": len(names)}


def parse_mapping(text: str) -> dict[str, list[str]]:
    """`web=cc+wiki,code=github` -> {"web": ["cc", "wiki"], "code": ["github"]}."""
    out: dict[str, list[str]] = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        new, sep, old = item.partition("=")
        if not sep or not new.strip() or not old.strip():
            raise MixDirError(f"bad mapping {item!r}: use NEW=OLD+OLD")
        out[new.strip()] = [o.strip() for o in old.split("+") if o.strip()]
    return out


def rebucket(mix_dir: str, mapping: dict[str, list[str]], out_dir: str) -> dict:
    """The same swarm over re-bucketed domains: each new domain's weight is the sum of its old
    domains' weights (and so are its tokens and caps); unmapped domains keep their name."""
    swarm, runs = read_swarm(mix_dir), read_runs(mix_dir)
    old = swarm["domains"]
    used = [o for olds in mapping.values() for o in olds]
    unknown = sorted(set(used) - set(old))
    if unknown:
        raise MixDirError(f"mapping names unknown domain(s) {unknown}; domains: {old}")
    if len(used) != len(set(used)):
        raise MixDirError("a domain is mapped to more than one new domain")
    groups = dict(mapping)
    for d in old:
        if d not in used:
            groups.setdefault(d, [d])
    new = sorted(groups)
    out = runs[[c for c in runs.columns if c not in old]].copy()
    for d in new:
        out[d] = runs[groups[d]].sum(axis=1)
    out = out[["run_id", *new, *[c for c in out.columns if c not in ("run_id", *new)]]]

    def summed(values):
        return None if values is None else {d: float(sum(values[o] for o in groups[d])) for d in new}

    swarm = {**swarm, "domains": new, "rebucketed_from": {"mix_dir": os.path.abspath(mix_dir), "mapping": groups},
             "prior_weights": summed(swarm.get("prior_weights")), "caps": summed(swarm.get("caps")),
             "available_tokens": summed(swarm.get("available_tokens"))}
    os.makedirs(out_dir, exist_ok=True)
    write_json(swarm, os.path.join(out_dir, SWARM))
    write_runs(out, out_dir)
    return {"domains": new, "runs": len(out)}
