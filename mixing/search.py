"""fit / predict / propose on a mixture folder (the commands and the workflow stages share these).

`fit_mixdir` scores every requested model out of fold, picks the one propose will use (the
best Spearman of the averaged predictions, unless one model was named), refits it on all runs
and writes fit.json + model.pkl. `propose_mixdir` solves for the proposal under the caps at a
budget, writes WEIGHTS.yaml (read by `mix apply --weights`, `tokenize --weights` and
workflows) and proposal.json, with natural, uniform and UniMax predicted beside it.
"""

from __future__ import annotations

import os
import pickle

import numpy as np
import pandas as pd

from gristmill.mixing import propose as proposer
from gristmill.mixing import regress, sampling
from gristmill.mixing.runs import FIT, MODEL, MixDirError, matrices, read_swarm, write_json

PROPOSAL = "proposal.json"


def fit_mixdir(mix_dir: str, model: str | None = None, targets: list[str] | None = None, folds: int = 5,
               candidates: tuple[str, ...] = regress.MODELS) -> dict:
    swarm, runs, X, ys = matrices(mix_dir, targets)
    if len(runs) < 4:
        raise MixDirError(f"{mix_dir}: {len(runs)} run(s); out-of-fold scores need at least 4")
    names = [model] if model else list(candidates)
    lower = swarm.get("lower_is_better", {})
    scored, oof = regress.fit_models(X, ys, names, lower, folds)
    chosen = model or max(names, key=lambda n: scored[n]["mean"]["spearman"])
    models = regress.refit(chosen, X, ys)
    with open(os.path.join(mix_dir, MODEL), "wb") as f:
        pickle.dump({"model": chosen, "domains": swarm["domains"], "metrics": list(ys), "estimators": models}, f)
    result = {"runs": len(runs), "domains": swarm["domains"], "metrics": list(ys), "folds": min(folds, len(runs)),
              "models": scored, "chosen": chosen,
              "out_of_fold": {n: {"run_id": runs["run_id"].astype(str).tolist(),
                                  **{m: [None if not np.isfinite(v) else round(float(v), 6) for v in oof[n][:, j]]
                                     for j, m in enumerate(ys)}} for n in names}}
    write_json(result, os.path.join(mix_dir, FIT))
    return result


def load_models(mix_dir: str) -> dict:
    path = os.path.join(mix_dir, MODEL)
    if not os.path.exists(path):
        raise MixDirError(f"{mix_dir}: no {MODEL}; run `gristmill mix fit {mix_dir}` first")
    with open(path, "rb") as f:
        return pickle.load(f)


def predict_csv(mix_dir: str, mixtures_csv: str, out_csv: str) -> int:
    """The mixtures CSV back, with one column per fitted metric (and their mean)."""
    fitted = load_models(mix_dir)
    table = pd.read_csv(mixtures_csv)
    missing = [d for d in fitted["domains"] if d not in table.columns]
    if missing:
        raise MixDirError(f"{mixtures_csv}: no column for domain(s) {missing}")
    X = table[fitted["domains"]].to_numpy(dtype=float)
    X = X / X.sum(axis=1, keepdims=True)
    preds = regress.predict(fitted["estimators"], X)
    for m, v in preds.items():
        table[m] = v
    table["predicted_mean"] = np.mean(list(preds.values()), axis=0)
    table.to_csv(out_csv, index=False)
    return len(table)


def propose_mixdir(mix_dir: str, out_yaml: str, budget_tokens: int | None = None, max_epochs: float | None = None,
                   kl_weight: float = proposer.KL_WEIGHT, prior_kind: str = "natural", seed: int = 0) -> dict:
    swarm, fitted = read_swarm(mix_dir), load_models(mix_dir)
    domains = fitted["domains"]
    avail = swarm.get("available_tokens")
    budget = budget_tokens or swarm.get("budget_tokens")
    epochs = max_epochs if max_epochs is not None else (swarm.get("max_epochs") or 4.0)
    if avail and budget:
        cap = sampling.caps(avail, budget, epochs)
        baselines = {k: sampling.prior(k, avail, budget, epochs) for k in sampling.PRIORS}
    else:  # an imported swarm knows no token counts: no caps, the swarm's mean mixture as "natural"
        cap = {d: 1.0 for d in domains}
        natural = swarm.get("prior_weights") or {d: 1 / len(domains) for d in domains}
        baselines = {"natural": natural, "uniform": {d: 1 / len(domains) for d in domains},
                     "unimax": {d: 1 / len(domains) for d in domains}}
    cap_v = np.array([min(cap[d], 1.0) for d in domains])
    prior_v = np.array([baselines[prior_kind][d] for d in domains])
    w, how = proposer.propose(fitted["estimators"], fitted["model"], prior_v, cap_v, kl_weight, seed=seed)
    weights = {d: round(float(x), 6) for d, x in zip(domains, w)}
    cands = {"proposal": w, **{k: np.array([v[d] for d in domains]) for k, v in baselines.items()}}
    result = {"weights": weights, "by": swarm.get("by", "source"), "budget_tokens": budget, "max_epochs": epochs,
              "kl_weight": kl_weight, "prior": prior_kind, "model": fitted["model"],
              "caps": {d: round(float(c), 6) for d, c in zip(domains, cap_v)}, "search": how,
              "baselines": {k: {d: round(float(v[d]), 6) for d in domains} for k, v in baselines.items()},
              "compare": proposer.compare(fitted["estimators"], cands, cap_v)}
    write_weights_yaml(result, out_yaml)
    write_json(result, os.path.join(mix_dir, PROPOSAL))
    return result


def write_weights_yaml(result: dict, path: str) -> None:
    import yaml

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    header = (f"# gristmill mix propose: {result['model']} regression, KL weight {result['kl_weight']} to the "
              f"{result['prior']} prior\n# predicted mean metric: "
              + ", ".join(f"{k} {v['predicted_mean']:.4f}" for k, v in result["compare"].items()) + "\n")
    body = {"by": result["by"], "weights": result["weights"], "budget_tokens": result["budget_tokens"],
            "max_epochs": result["max_epochs"]}
    with open(path, "w") as f:
        f.write(header + yaml.safe_dump(body, sort_keys=False))
