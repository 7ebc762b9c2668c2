"""The proposer: the mixture with the best predicted metrics that the tokens allow.

minimise  mean_m f_m(w) + lambda * KL(w || prior)   (lambda 0.05, Olmix's default)
s.t.      w >= 0,  sum w = 1,  w_i <= cap_i          (cap: tokens x max_epochs / budget)

Smooth models (loglinear, ridge, gp) are solved with scipy's SLSQP from several starts (the
prior, uniform, UniMax and seeded Dirichlet draws, each pulled inside the caps). Tree models
(gbm) are piecewise constant, so gradients say nothing: many Dirichlet mixtures are drawn
around the prior within the caps and the mean of the top k is proposed (a mean of feasible
mixtures is feasible: the constraints are convex).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from gristmill.mixing import regress, sampling

KL_WEIGHT = 0.05


def kl(w: np.ndarray, p: np.ndarray) -> float:
    w = np.clip(w, 1e-12, None)
    return float(np.sum(w * np.log(w / np.clip(p, 1e-12, None))))


def project(w: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """The nearest point of {0 <= w <= cap, sum w = 1} (bisection on the shift; caps sum >= 1)."""
    lo, hi = float(np.min(w - cap)) - 1.0, float(np.max(w)) + 1.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if np.clip(w - mid, 0, cap).sum() > 1:
            lo = mid
        else:
            hi = mid
    return np.clip(w - (lo + hi) / 2, 0, cap)


def objective(models: dict, prior: np.ndarray, kl_weight: float):
    def f(w):
        w = np.asarray(w, float).reshape(1, -1)
        return float(np.mean([m.predict(w)[0] for m in models.values()])) + kl_weight * kl(w[0], prior)

    return f


def propose(models: dict, model_name: str, prior: np.ndarray, cap: np.ndarray, kl_weight: float = KL_WEIGHT,
            starts: int = 8, seed: int = 0, top_k: int = 32, draws: int = 20000) -> tuple[np.ndarray, dict]:
    """(weights, how they were found) for the fitted `models` ({metric: estimator})."""
    cap = np.minimum(np.asarray(cap, float), 1.0)
    if cap.sum() < 1 - 1e-9:
        raise ValueError(f"the caps sum to {cap.sum():.3f} < 1: no mixture fits this budget")
    f = objective(models, prior, kl_weight)
    if model_name == "gbm":
        return _simulate(models, prior, cap, kl_weight, seed, top_k, draws)
    rng = np.random.default_rng([seed, 7])
    n = len(prior)
    points = [prior, np.full(n, 1 / n), *rng.dirichlet(np.maximum(prior, 1e-3) * 2, size=max(starts - 2, 0))]
    best, tried = None, []
    for x0 in points:
        x0 = project(np.asarray(x0, float), cap)
        res = optimize.minimize(f, x0, method="SLSQP", bounds=[(0.0, c) for c in cap],
                                constraints=[{"type": "eq", "fun": lambda w: np.sum(w) - 1.0}],
                                options={"maxiter": 300, "ftol": 1e-10})
        w = project(np.clip(res.x, 0, None), cap)
        tried.append(round(f(w), 6))
        if best is None or f(w) < f(best):
            best = w
    return best, {"method": "slsqp", "starts": len(points), "objective_per_start": tried, "objective": f(best)}


def _simulate(models, prior, cap, kl_weight, seed, top_k, draws):
    f = objective(models, prior, kl_weight)
    cand = sampling.sample_mixtures(dict(enumerate(prior)), draws, seed,
                                    cap=dict(enumerate(cap)), min_weight=sampling.MIN_WEIGHT)
    pred = np.mean([m.predict(cand) for m in models.values()], axis=0)
    score = pred + kl_weight * np.array([kl(w, prior) for w in cand])
    top = cand[np.argsort(score)[:top_k]]
    w = project(top.mean(axis=0), cap)
    return w, {"method": "dirichlet_top_k", "draws": draws, "top_k": top_k, "objective": f(w)}


def compare(models: dict, candidates: dict[str, np.ndarray], cap: np.ndarray) -> dict:
    """Predicted metrics (and their mean) of named mixtures, and whether each fits the caps."""
    out = {}
    for name, w in candidates.items():
        preds = regress.predict(models, np.asarray(w, float).reshape(1, -1))
        row = {m: round(float(v[0]), 5) for m, v in preds.items()}
        out[name] = {"predicted": row, "predicted_mean": round(float(np.mean(list(row.values()))), 5),
                     "within_caps": bool(np.all(np.asarray(w) <= np.asarray(cap) + 1e-9))}
    return out
