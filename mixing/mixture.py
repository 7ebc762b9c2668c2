"""Mixture-weighted sampling plans over per-document token counts (pure numpy, no I/O).

A plan picks document copies for the training split: each domain (a `source` or `topic`
value) gets `weight * budget` tokens, reached by whole epochs over its documents plus a seeded
random part of one more epoch, never more than `max_epochs` passes (the repetition cap of
OLMo and RegMix). The copies are then shuffled across the whole corpus. Feasibility is
checked from per-domain totals alone, so an impossible request fails before any work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gristmill.pipeline.errors import GristmillError


class InfeasibleMixture(GristmillError, ValueError):
    """A mixture the data cannot give (a domain missing or short of tokens under its cap);
    the command line prints it as one line."""


@dataclass
class MixtureSpec:
    by: str = "source"                       # column that names the domain: source or topic
    weights: dict[str, float] | None = None  # None: natural mixture, every document once
    budget_tokens: int | None = None         # None with weights: the largest budget the caps allow
    max_epochs: float | dict[str, float] = 4.0
    seed: int = 0

    def __post_init__(self):
        if self.by not in ("source", "topic"):
            raise ValueError(f"mixture `by` must be source or topic, got {self.by!r}")
        if self.weights is not None:
            bad = {k: v for k, v in self.weights.items() if not (float(v) >= 0)}
            if bad or not self.weights or sum(float(v) for v in self.weights.values()) <= 0:
                raise ValueError(f"mixture weights must be non-negative with a positive sum, got {self.weights}")
        if self.budget_tokens is not None and int(self.budget_tokens) <= 0:
            raise ValueError("budget_tokens must be positive")

    def cap(self, domain: str) -> float:
        if isinstance(self.max_epochs, dict):
            return float(self.max_epochs.get(domain, self.max_epochs.get("*", 4.0)))
        return float(self.max_epochs)

    def normalized(self) -> dict[str, float]:
        total = sum(float(v) for v in self.weights.values())
        return {k: float(v) / total for k, v in self.weights.items() if float(v) > 0}


def parse_weights(text: str) -> dict[str, float]:
    """`web=0.5,code=0.3,math=0.2` -> {"web": 0.5, ...}; a .yaml/.yml/.json path reads its
    `weights:` mapping (the WEIGHTS.yaml of `gristmill mix propose`) or a plain mapping."""
    if text.strip().endswith((".yaml", ".yml", ".json")):
        return read_weights_file(text.strip())
    out = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        name, sep, value = item.rpartition("=")
        if not sep or not name:
            raise ValueError(f"bad weight {item!r}: use DOMAIN=WEIGHT")
        out[name.strip()] = float(value)
    return out


def read_weights_file(path: str) -> dict[str, float]:
    import os

    import yaml

    if not os.path.exists(path):
        raise ValueError(f"weights file not found: {path}")
    with open(path) as f:
        raw = yaml.safe_load(f) or {}
    raw = raw.get("weights", raw) if isinstance(raw, dict) else raw
    if not isinstance(raw, dict) or not all(isinstance(v, (int, float)) for v in raw.values()):
        raise ValueError(f"{path}: expected a mapping DOMAIN: WEIGHT (or one under `weights:`)")
    return {str(k): float(v) for k, v in raw.items()}


@dataclass
class Targets:
    tokens: dict[str, int]        # tokens wanted per domain
    available: dict[str, int]     # training tokens present per domain
    budget: int
    excluded: list[str] = field(default_factory=list)  # present but weight 0 / not named


def targets(spec: MixtureSpec, available: dict[str, int]) -> Targets:
    """Tokens per domain for `spec`; raises InfeasibleMixture naming every domain that falls short."""
    if spec.weights is None:
        return Targets(dict(available), dict(available), sum(available.values()))
    weights = spec.normalized()
    missing = [d for d in weights if available.get(d, 0) == 0]
    if missing:
        raise InfeasibleMixture(
            f"mixture by {spec.by}: domain(s) {', '.join(repr(d) for d in missing)} have no training "
            f"tokens; present: {', '.join(f'{k} ({v:,})' for k, v in sorted(available.items()))}")
    if spec.budget_tokens is None:
        budget = int(min(available[d] * spec.cap(d) / w for d, w in weights.items()))
    else:
        budget = int(spec.budget_tokens)
    wanted = {d: int(round(w * budget)) for d, w in weights.items()}
    short = []
    for d, want in wanted.items():
        limit = int(available[d] * spec.cap(d))
        if want > limit:
            short.append(f"{d!r} needs {want:,} tokens but has {available[d]:,} x max_epochs {spec.cap(d):g} "
                         f"= {limit:,} (short by {want - limit:,})")
    if short:
        raise InfeasibleMixture(f"mixture by {spec.by} with budget {budget:,} tokens is infeasible: "
                                + "; ".join(short) + ". Lower the budget or weight, or raise max_epochs.")
    excluded = sorted(d for d in available if d not in weights)
    return Targets(wanted, {d: available[d] for d in weights}, budget, excluded)


def split_validation(domain: np.ndarray, tokens: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of held-out documents: per domain, a seeded random set holding about
    `fraction` of its tokens (at least one document, and never a domain's last one)."""
    held = np.zeros(len(domain), dtype=bool)
    if fraction <= 0:
        return held
    rng = np.random.default_rng([seed, 1])
    for d in np.unique(domain):
        idx = np.flatnonzero(domain == d)
        if len(idx) < 2:
            continue
        idx = idx[rng.permutation(len(idx))]
        cum = np.cumsum(tokens[idx])
        k = int(np.searchsorted(cum, fraction * cum[-1], side="left")) + 1
        held[idx[:min(max(k, 1), len(idx) - 1)]] = True
    return held


def sample_copies(domain: np.ndarray, tokens: np.ndarray, eligible: np.ndarray, spec: MixtureSpec,
                  want: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Document indices and epoch numbers of every copy in the mix, shuffled across domains."""
    rng = np.random.default_rng([spec.seed, 2])
    docs, epochs = [], []
    for d in sorted(want):
        idx = np.flatnonzero((domain == d) & eligible)
        have = int(tokens[idx].sum())
        full = int(want[d] // have)
        rest = want[d] - full * have
        for e in range(full):
            docs.append(idx)
            epochs.append(np.full(len(idx), e, np.int32))
        if rest > 0:
            perm = idx[rng.permutation(len(idx))]
            k = int(np.searchsorted(np.cumsum(tokens[perm]), rest, side="left")) + 1
            docs.append(perm[:k])
            epochs.append(np.full(min(k, len(perm)), full, np.int32))
    if not docs:
        return np.zeros(0, np.int64), np.zeros(0, np.int32)
    doc_idx, epoch = np.concatenate(docs), np.concatenate(epochs)
    order = rng.permutation(len(doc_idx))
    return doc_idx[order].astype(np.int64), epoch[order]


def assign_shards(copy_tokens: np.ndarray, shard_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive copies fill shards of about `shard_tokens`: (shard of each copy, its offset)."""
    ends = np.cumsum(copy_tokens)
    starts = ends - copy_tokens
    shard = (starts // max(int(shard_tokens), 1)).astype(np.int64)
    # renumber so shards are 0..n-1 even if a huge document skips a number
    _, shard = np.unique(shard, return_inverse=True)
    shard_start = np.full(int(shard.max()) + 1 if len(shard) else 0, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(shard_start, shard, starts)
    return shard, starts - shard_start[shard]
