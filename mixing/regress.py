"""Regressions from mixture weights to one metric, scored out of fold.

* `LogLinearRegressor`: Olmix's default, y = exp(c) + exp(w . t), fitted with a Huber loss
  (delta 0.02) from many random starts (L-BFGS with the analytic gradient); a scikit-learn
  estimator, so it cross-validates like the others.
* ridge, gbm (HistGradientBoosting, leaf size scaled to the swarm: the default 20 predicts a
  constant on small swarms), gp (GaussianProcess, RBF + white noise, normalised targets).

One model per metric (fitting the average of several metrics directly ranks badly); the
mean over metrics is scored from the averaged out-of-fold predictions, as propose uses them.
Scores: Spearman, Pearson and regret@1 (the true metric of the run ranked best, minus the
true best: what trusting the regression would cost among the runs seen).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats
from sklearn.base import BaseEstimator, RegressorMixin

MODELS = ("loglinear", "ridge", "gbm", "gp")


class LogLinearRegressor(RegressorMixin, BaseEstimator):
    def __init__(self, delta: float = 0.02, n_starts: int = 16, l2: float = 1e-6, random_state: int = 0):
        self.delta = delta
        self.n_starts = n_starts
        self.l2 = l2
        self.random_state = random_state

    def _loss(self, theta, X, y):
        c, t = theta[0], theta[1:]
        ez = np.exp(np.clip(X @ t, -50, 50))
        r = np.exp(min(c, 50)) + ez - y
        a = np.abs(r)
        huber = np.where(a <= self.delta, 0.5 * r * r, self.delta * (a - 0.5 * self.delta))
        psi = np.clip(r, -self.delta, self.delta)
        n = len(y)
        grad = np.concatenate([[np.sum(psi) * np.exp(min(c, 50))], X.T @ (psi * ez)]) / n
        grad[1:] += 2 * self.l2 * t
        return huber.mean() + self.l2 * float(t @ t), grad

    def fit(self, X, y):
        X, y = np.asarray(X, float), np.asarray(y, float)
        rng = np.random.default_rng(self.random_state)
        best = None
        lo = max(float(y.min()), 1e-6)
        for k in range(self.n_starts):
            floor = lo * (rng.uniform(0.05, 0.95) if k else 0.5)  # exp(c): the part no mixture removes
            rest = max(float(y.mean()) - floor, 1e-6)
            theta0 = np.concatenate([[np.log(floor)], np.log(rest) + rng.normal(0, 0.5 if k else 0.0, X.shape[1])])
            res = optimize.minimize(self._loss, theta0, args=(X, y), jac=True, method="L-BFGS-B",
                                    options={"maxiter": 2000})
            if best is None or res.fun < best.fun:
                best = res
        self.c_, self.t_ = float(best.x[0]), best.x[1:]
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        X = np.asarray(X, float)
        return np.exp(self.c_) + np.exp(np.clip(X @ self.t_, -50, 50))


def make_model(name: str, n_runs: int):
    """A fresh estimator of kind `name` sized for a swarm of `n_runs`."""
    if name == "loglinear":
        return LogLinearRegressor()
    if name == "ridge":
        from sklearn.linear_model import RidgeCV

        return RidgeCV(alphas=np.logspace(-6, 1, 15))
    if name == "gbm":
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(max_iter=100, learning_rate=0.1,
                                             min_samples_leaf=int(min(20, max(3, n_runs // 8))), random_state=0)
    if name == "gp":
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        kernel = ConstantKernel(1.0) * RBF(length_scale=0.5, length_scale_bounds=(1e-2, 1e2)) + WhiteKernel(1e-3)
        return GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=2, random_state=0)
    raise ValueError(f"model must be one of {', '.join(MODELS)}, got {name!r}")


def scores(pred: np.ndarray, actual: np.ndarray, lower_is_better: bool = True) -> dict[str, float]:
    ok = np.isfinite(pred) & np.isfinite(actual)
    pred, actual = pred[ok], actual[ok]
    if len(pred) < 3 or np.ptp(pred) == 0:  # a constant prediction ranks nothing
        rho = r = 0.0
    else:
        rho, r = float(stats.spearmanr(pred, actual)[0]), float(stats.pearsonr(pred, actual)[0])
    sign = 1 if lower_is_better else -1
    chosen = int(np.argmin(sign * pred)) if len(pred) else 0
    regret = float(sign * (actual[chosen] - actual[np.argmin(sign * actual)])) if len(pred) else float("nan")
    return {"spearman": round(rho, 4), "pearson": round(r, 4), "regret_at_1": round(regret, 5), "runs": int(len(pred))}


def _quiet(fn):
    """The GP's kernel bounds warn on nearly every small swarm; the scores say how it did."""
    import functools
    import warnings

    @functools.wraps(fn)
    def inner(*a, **kw):
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return fn(*a, **kw)

    return inner


@_quiet
def out_of_fold(name: str, X: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Each run's prediction by a model that never saw it."""
    from sklearn.model_selection import KFold

    pred = np.full(len(y), np.nan)
    ok = np.flatnonzero(np.isfinite(y))
    for train, test in KFold(n_splits=min(folds, len(ok)), shuffle=True, random_state=seed).split(ok):
        model = make_model(name, len(train)).fit(X[ok[train]], y[ok[train]])
        pred[ok[test]] = model.predict(X[ok[test]])
    return pred


def fit_models(X: np.ndarray, ys: dict[str, np.ndarray], names: list[str], lower: dict[str, bool],
               folds: int = 5) -> tuple[dict, dict[str, np.ndarray]]:
    """Out-of-fold scores per model and metric (plus `mean`: the averaged predictions), and the
    out-of-fold predictions themselves ({model: runs x metrics})."""
    result, oof = {}, {}
    for name in names:
        per = {}
        preds = np.column_stack([out_of_fold(name, X, y, folds) for y in ys.values()])
        for j, (metric, y) in enumerate(ys.items()):
            per[metric] = scores(preds[:, j], y, lower.get(metric, True))
        actual = np.column_stack(list(ys.values()))
        per["mean"] = scores(np.nanmean(preds, axis=1), np.nanmean(actual, axis=1), True)
        result[name], oof[name] = per, preds
    return result, oof


@_quiet
def refit(name: str, X: np.ndarray, ys: dict[str, np.ndarray]) -> dict:
    """One estimator per metric, fitted on every run that has it."""
    out = {}
    for metric, y in ys.items():
        ok = np.isfinite(y)
        out[metric] = make_model(name, int(ok.sum())).fit(X[ok], y[ok])
    return out


def predict(models: dict, X: np.ndarray) -> dict[str, np.ndarray]:
    return {metric: np.asarray(m.predict(X), float) for metric, m in models.items()}
