"""Mixture plans: targets, caps, infeasibility messages, determinism, validation split."""

from __future__ import annotations

import numpy as np
import pytest

from gristmill.mixing.mixture import (InfeasibleMixture, MixtureSpec, assign_shards, parse_weights,
                                     sample_copies, split_validation, targets)


def corpus():
    rng = np.random.default_rng(7)
    domain = np.array(["web"] * 300 + ["code"] * 50 + ["math"] * 20)
    tokens = rng.integers(20, 400, size=len(domain)).astype(np.int64)
    return domain, tokens


def available(domain, tokens, mask=None):
    mask = np.ones(len(domain), bool) if mask is None else mask
    return {d: int(tokens[(domain == d) & mask].sum()) for d in np.unique(domain)}


def test_weights_are_met_and_upsampling_respects_the_cap():
    domain, tokens = corpus()
    avail = available(domain, tokens)
    spec = MixtureSpec(weights={"web": 0.5, "code": 0.3, "math": 0.2}, budget_tokens=avail["web"], max_epochs=10)
    tgt = targets(spec, avail)
    docs, epochs = sample_copies(domain, tokens, np.ones(len(domain), bool), spec, tgt.tokens)
    got = {d: int(tokens[docs][domain[docs] == d].sum()) for d in ("web", "code", "math")}
    for d, w in spec.normalized().items():
        assert abs(got[d] - w * tgt.budget) <= tokens.max(), (d, got[d], w * tgt.budget)
    # math is up-sampled: several epochs, each document at most ceil(cap) times
    math_copies = np.bincount(docs[domain[docs] == "math"])
    assert math_copies.max() > 1 and math_copies.max() <= 10
    assert epochs.max() < 10
    # shuffled across domains, not grouped
    assert len(set(domain[docs][:30])) > 1


def test_infeasible_request_names_domain_and_shortfall():
    domain, tokens = corpus()
    avail = available(domain, tokens)
    spec = MixtureSpec(weights={"web": 0.5, "math": 0.5}, budget_tokens=2 * avail["web"], max_epochs=2)
    with pytest.raises(InfeasibleMixture) as err:
        targets(spec, avail)
    msg = str(err.value)
    short = avail["web"] - 2 * avail["math"]
    assert "'math'" in msg and f"short by {short:,}" in msg
    assert "'web'" not in msg.split("infeasible:")[1]  # web has enough (1 epoch)
    with pytest.raises(InfeasibleMixture, match="'poetry'"):
        targets(MixtureSpec(weights={"poetry": 1.0}), avail)


def test_per_domain_caps_and_default_budget():
    domain, tokens = corpus()
    avail = available(domain, tokens)
    spec = MixtureSpec(weights={"web": 0.5, "math": 0.5}, max_epochs={"math": 3, "*": 1})
    tgt = targets(spec, avail)  # the largest budget the caps allow
    assert tgt.budget == min(int(avail["web"] / 0.5), int(avail["math"] * 3 / 0.5))
    assert tgt.excluded == ["code"]


def test_deterministic_by_seed():
    domain, tokens = corpus()
    eligible = np.ones(len(domain), bool)
    spec = MixtureSpec(weights={"web": 1, "code": 1}, budget_tokens=30_000, seed=3)
    want = targets(spec, available(domain, tokens)).tokens
    a = sample_copies(domain, tokens, eligible, spec, want)
    b = sample_copies(domain, tokens, eligible, spec, want)
    c = sample_copies(domain, tokens, eligible, MixtureSpec(weights={"web": 1, "code": 1}, budget_tokens=30_000, seed=4), want)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_validation_split_per_domain():
    domain, tokens = corpus()
    held = split_validation(domain, tokens, 0.05, seed=0)
    for d in ("web", "code", "math"):
        share = tokens[held & (domain == d)].sum() / tokens[domain == d].sum()
        assert 0 < share < 0.2 and (~held & (domain == d)).any()
    assert np.array_equal(held, split_validation(domain, tokens, 0.05, seed=0))
    assert not split_validation(domain, tokens, 0.0, seed=0).any()


def test_assign_shards_and_parse():
    shard, offset = assign_shards(np.array([5, 5, 5, 20, 1]), shard_tokens=10)
    assert shard.tolist() == [0, 0, 1, 1, 2] and offset.tolist() == [0, 5, 0, 5, 0]
    assert parse_weights("web=0.5, code=1") == {"web": 0.5, "code": 1.0}
    with pytest.raises(ValueError):
        parse_weights("web")
    with pytest.raises(ValueError):
        MixtureSpec(weights={"web": -1})
