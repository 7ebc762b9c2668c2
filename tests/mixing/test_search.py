"""Mixture search without proxies: sampling and caps, the regressions out of fold, the
proposer's constraints, RegMix's CSV layout through import/fit/predict/propose, re-bucketing,
and WEIGHTS.yaml read back by --weights and token_shards."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import yaml

from gristmill.mixing import propose, regress, runs, sampling, search
from tests.support.mix_data import regmix_csvs


def test_caps_unimax_and_swarm_sampling():
    avail = {"big": 1000, "mid": 300, "small": 20}
    cap = sampling.caps(avail, budget_tokens=500, max_epochs=4)
    assert cap == {"big": 8.0, "mid": 2.4, "small": 0.16}
    um = sampling.unimax(avail, 500, 4)
    assert um["small"] == pytest.approx(0.16) and um["big"] == pytest.approx(um["mid"]) == pytest.approx(0.42)
    prior = sampling.prior("natural", avail)
    mixes = sampling.sample_mixtures(prior, 200, seed=3, cap=cap)
    assert mixes.shape == (200, 3) and np.allclose(mixes.sum(axis=1), 1)
    assert (mixes[:, 2] <= 0.16 + 1e-9).all()                     # rejected above the cap
    nonzero = mixes[mixes > 0]
    assert nonzero.min() >= sampling.MIN_WEIGHT * 0.99            # tiny weights were zeroed
    assert (mixes == 0).any()                                     # small concentrations give sparse mixtures
    assert np.array_equal(mixes, sampling.sample_mixtures(prior, 200, seed=3, cap=cap))
    with pytest.raises(ValueError, match="caps sum"):
        sampling.sample_mixtures(prior, 5, 0, cap={"big": 0.3, "mid": 0.3, "small": 0.3})


def test_loglinear_ranks_unseen_mixtures_and_gbm_runs(tmp_path):
    mixtures, metrics, W = regmix_csvs(str(tmp_path), runs=40)
    y = pd.read_csv(metrics)["metric/a_val_loss"].to_numpy()
    oof = regress.out_of_fold("loglinear", W, y)
    s = regress.scores(oof, y)
    assert s["spearman"] > 0.95 and s["regret_at_1"] < 0.05, s
    model = regress.LogLinearRegressor().fit(W, y)
    assert np.abs(model.predict(W) - y).mean() < 0.01
    assert regress.scores(regress.out_of_fold("gbm", W, y), y)["spearman"] > 0.5
    # a constant prediction ranks nothing
    assert regress.scores(np.ones(10), np.arange(10.0))["spearman"] == 0.0


def test_import_fit_predict_propose_regmix_layout(tmp_path):
    mixtures, metrics, W = regmix_csvs(str(tmp_path), runs=32)
    mix = str(tmp_path / "mix")
    info = runs.import_csv(mixtures, metrics, mix)
    assert info == {"runs": 32, "domains": 4, "metrics": 2}
    table = runs.read_runs(mix)
    assert {"run_id", "train_a", "metric/a_val_loss", "proxy_hash", "seed", "tokens_hash"} <= set(table.columns)
    fit = search.fit_mixdir(mix, model=None, candidates=("loglinear", "ridge", "gp"))
    assert set(fit["models"]) == {"loglinear", "ridge", "gp"} and fit["chosen"] in fit["models"]
    assert fit["models"]["loglinear"]["metric/a_val_loss"]["spearman"] > 0.9
    assert len(fit["out_of_fold"]["loglinear"]["metric/a_val_loss"]) == 32
    out = str(tmp_path / "pred.csv")
    assert search.predict_csv(mix, mixtures, out) == 32
    pred = pd.read_csv(out)
    assert {"metric/a_val_loss", "metric/b_val_loss", "predicted_mean"} <= set(pred.columns)
    # gristmill's own layout (predict's CSV, metrics beside the weights) imports back
    again = str(tmp_path / "again")
    assert runs.import_csv(out, metrics, again) == {"runs": 32, "domains": 4, "metrics": 2}
    assert fit["chosen"] == "loglinear"  # the data are log-linear: it ranks best
    r = search.propose_mixdir(mix, str(tmp_path / "w.yaml"))
    w = np.array(list(r["weights"].values()))
    assert w.sum() == pytest.approx(1, abs=1e-5) and (w >= 0).all()
    # the proposal is predicted better than each baseline (the KL term is small)
    assert all(r["compare"]["proposal"]["predicted_mean"] <= v["predicted_mean"] + 1e-6
               for k, v in r["compare"].items())
    assert set(r["compare"]) == {"proposal", "natural", "uniform", "unimax"}


def test_proposer_respects_caps_and_sum():
    class Bowl:  # lowest at all weight on domain 0, which the cap forbids
        def predict(self, X):
            return 1 - np.asarray(X)[:, 0]

    prior = np.array([0.25, 0.25, 0.25, 0.25])
    cap = np.array([0.3, 1.0, 0.5, 0.05])
    for kind in ("loglinear", "gbm"):
        w, how = propose.propose({"m": Bowl()}, kind, prior, cap, kl_weight=0.01)
        assert w.sum() == pytest.approx(1, abs=1e-6) and (w <= cap + 1e-9).all() and (w >= 0).all()
        if kind == "loglinear":
            assert w[0] == pytest.approx(0.3, abs=1e-3)   # pushed to its cap
        assert how["objective"] <= propose.objective({"m": Bowl()}, prior, 0.01)(prior)
    with pytest.raises(ValueError, match="caps sum"):
        propose.propose({"m": Bowl()}, "ridge", prior, np.full(4, 0.2))


def test_rebucket_sums_weights_and_keeps_metrics(tmp_path):
    mixtures, metrics, W = regmix_csvs(str(tmp_path), runs=12)
    mix, merged = str(tmp_path / "mix"), str(tmp_path / "merged")
    runs.import_csv(mixtures, metrics, mix)
    info = runs.rebucket(mix, runs.parse_mapping("ab=train_a+train_b"), merged)
    assert info["domains"] == ["ab", "train_c", "train_d"]
    before, after = runs.read_runs(mix), runs.read_runs(merged)
    assert np.allclose(after["ab"], before["train_a"] + before["train_b"])
    assert np.allclose(after["metric/a_val_loss"], before["metric/a_val_loss"])
    assert runs.read_swarm(merged)["domains"] == ["ab", "train_c", "train_d"]
    assert search.fit_mixdir(merged, model="ridge")["runs"] == 12
    with pytest.raises(runs.MixDirError, match="unknown"):
        runs.rebucket(mix, {"x": ["nope"]}, str(tmp_path / "bad"))


def test_weights_yaml_is_read_by_weights_options(tmp_path):
    from gristmill.mixing.mixture import parse_weights
    from gristmill.tokenize.stages import TokenShards

    path = tmp_path / "WEIGHTS.yaml"
    path.write_text(yaml.safe_dump({"by": "source", "weights": {"web": 0.7, "code": 0.3}, "budget_tokens": 100}))
    assert parse_weights(str(path)) == {"web": 0.7, "code": 0.3}
    assert TokenShards(weights=str(path)).spec.weights == {"web": 0.7, "code": 0.3}
    (tmp_path / "plain.yaml").write_text("web: 1\n")
    assert parse_weights(str(tmp_path / "plain.yaml")) == {"web": 1.0}
    with pytest.raises(ValueError, match="not found"):
        parse_weights(str(tmp_path / "missing.yaml"))
    assert os.path.exists(path)
