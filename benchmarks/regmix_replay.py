"""Replay RegMix's released swarm through gristmill's mixture search (README, "Mixture search").

RegMix (sail-sg/regmix, MIT) released 512 mixtures with the Pile validation losses of 1M-
parameter proxies trained on them (train_*_1m.csv), and held-out mixtures with the losses of
1M, 60M and 1B models (test_*.csv). This imports the 512 runs with `gristmill mix import`,
fits each regression on the Pile-CC loss (RegMix's target) and ranks the held-out mixtures:
Spearman at 1M (256 mixtures), 60M (the same mixtures, larger models) and 1B (64 models),
and the true rank of the 1B model each regression would pick.

    python benchmarks/regmix_replay.py --data DIR   # DIR: the `data/` folder of sail-sg/regmix
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np
import pandas as pd
from scipy import stats

from gristmill.mixing import regress, runs

TARGET = "metric/the_pile_pile_cc_val_loss"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="sail-sg/regmix's data/ folder (its released CSVs)")
    ap.add_argument("--models", nargs="+", default=list(regress.MODELS))
    ap.add_argument("--subsample", type=int, nargs="+", default=[512, 64, 32],
                    help="also fit on the first N training runs (small-swarm behaviour)")
    args = ap.parse_args()
    d = args.data
    with tempfile.TemporaryDirectory() as mix:
        runs.import_csv(os.path.join(d, "train_mixture_1m.csv"), os.path.join(d, "train_pile_loss_1m.csv"), mix)
        swarm, table, X, ys = runs.matrices(mix, [TARGET])
    tests = {}
    for scale, mix_csv, loss_csv in (("1M", "test_mixture_1m.csv", "test_pile_loss_1m.csv"),
                                     ("60M", "test_mixture_60m.csv", "test_pile_loss_60m.csv"),
                                     ("1B", "test_mixture_1B.csv", "test_pile_loss_1B.csv")):
        m = pd.read_csv(os.path.join(d, mix_csv)).merge(pd.read_csv(os.path.join(d, loss_csv))[["index", TARGET]], on="index")
        W = m[swarm["domains"]].to_numpy(float)
        tests[scale] = (W / W.sum(axis=1, keepdims=True), m[TARGET].to_numpy(float))
    out = {}
    for n in args.subsample:
        for name in args.models:
            t0 = time.time()
            model = regress.refit(name, X[:n], {TARGET: ys[TARGET][:n]})[TARGET]
            row = {"fit_seconds": round(time.time() - t0, 2)}
            for scale, (W, y) in tests.items():
                pred = model.predict(W)
                row[f"spearman_{scale}"] = round(float(stats.spearmanr(pred, y)[0]), 3) if np.ptp(pred) else 0.0
                if scale == "1B":
                    chosen = int(np.argmin(pred))
                    row["rank_of_chosen_1B"] = int((y < y[chosen]).sum()) + 1  # 1 = the true best of 64
            out[f"{name}@{n}"] = row
            print(f"{name:9s} runs {n:3d}: " + ", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
