"""Priors, repetition caps and the swarm's Dirichlet mixtures (pure numpy).

The sampling of Olmix and RegMix: a mixture is drawn from Dirichlet(prior * s), with the
concentration scale `s` picked from 15 log-spaced values in [0.1, 5] (small s: sparse,
extreme mixtures; large s: close to the prior); weights below `min_weight` are set to 0 and
the rest renormalised; a mixture is rejected when some weight exceeds its cap, the share of
the budget that domain can fill within `max_epochs` passes (tokens x max_epochs / budget).
"""

from __future__ import annotations

import numpy as np

SCALES = np.logspace(np.log10(0.1), np.log10(5.0), 15)
MIN_WEIGHT = 2e-3
PRIORS = ("natural", "uniform", "unimax")


def caps(available: dict[str, int], budget_tokens: float, max_epochs: float | dict[str, float] = 4.0) -> dict[str, float]:
    """The largest weight each domain can take at `budget_tokens` without more than
    `max_epochs` passes over it (values above 1 mean: no limit at this budget)."""
    def cap_of(d):
        return float(max_epochs.get(d, max_epochs.get("*", 4.0))) if isinstance(max_epochs, dict) else float(max_epochs)

    return {d: available[d] * cap_of(d) / float(budget_tokens) for d in available}


def unimax(available: dict[str, int], budget_tokens: float, max_epochs: float | dict[str, float] = 4.0) -> dict[str, float]:
    """UniMax (Chung et al. 2023): as uniform as the caps allow. Domains whose cap is below an
    equal share get their cap; the rest of the budget is shared equally by the others."""
    cap = caps(available, budget_tokens, max_epochs)
    names = sorted(available, key=lambda d: cap[d])
    weights, left = {}, 1.0
    for i, d in enumerate(names):
        share = left / (len(names) - i)
        weights[d] = min(share, cap[d])
        left -= weights[d]
    total = sum(weights.values())
    return {d: weights[d] / total for d in sorted(available)}


def prior(kind: str, available: dict[str, int], budget_tokens: float | None = None,
          max_epochs: float | dict[str, float] = 4.0) -> dict[str, float]:
    """natural (token shares), uniform, or unimax (needs the budget)."""
    names = sorted(available)
    if kind == "natural":
        total = float(sum(available.values()))
        return {d: available[d] / total for d in names}
    if kind == "uniform":
        return {d: 1.0 / len(names) for d in names}
    if kind == "unimax":
        return unimax(available, budget_tokens or sum(available.values()), max_epochs)
    raise ValueError(f"prior must be one of {', '.join(PRIORS)}, got {kind!r}")


def sample_mixtures(prior_weights: dict[str, float], n: int, seed: int, cap: dict[str, float] | None = None,
                    min_weight: float = MIN_WEIGHT, max_tries: int = 1000) -> np.ndarray:
    """`n` mixtures (rows, domains in sorted order) around `prior_weights`, each respecting `cap`.
    Deterministic in `seed`; raises ValueError when the caps reject almost every draw."""
    names = sorted(prior_weights)
    alpha = np.array([max(prior_weights[d], 1e-6) for d in names])
    limit = np.array([(cap or {}).get(d, np.inf) for d in names])
    if limit.sum() < 1:
        raise ValueError(f"the caps sum to {limit.sum():.3f} < 1: no mixture fits the budget; "
                         "lower the budget or raise max_epochs")
    rng = np.random.default_rng([seed, 12])
    out, drawn = [], 0
    batch = max(2 * n, 256)
    while sum(len(o) for o in out) < n:  # Dirichlet draws as normalised gammas, a batch at a time
        if drawn > max_tries * n:
            raise ValueError(f"only {sum(len(o) for o in out)} of {n} mixtures fit the caps after {drawn} draws")
        s = SCALES[rng.integers(len(SCALES), size=batch)]
        g = rng.gamma(alpha[None, :] * s[:, None])
        drawn += batch
        g = g[g.sum(axis=1) > 0]
        w = g / g.sum(axis=1, keepdims=True)
        w[w < min_weight] = 0.0
        w = w[w.sum(axis=1) > 0]
        w = np.round(w / w.sum(axis=1, keepdims=True), 6)
        w = w / w.sum(axis=1, keepdims=True)
        out.append(w[np.all(w <= limit[None, :] + 1e-12, axis=1)])
    return np.concatenate(out)[:n]
