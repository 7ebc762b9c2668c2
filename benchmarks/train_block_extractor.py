"""Train the `blocks` extraction engine on the trafilatura evaluation pages, measure it by
cross-validation grouped by site, and write `pipeline/ingest/models/blocks-v1.npz`.

Labels come from the eval set's snippets: a line holding a `with` snippet is main text,
a line holding a `without` snippet is boilerplate; other lines are not used for training.
The held-out score is the eval set's own (snippet precision/recall over whole pages), each
page scored by a model that never saw its site: 5 folds by domain, fixed seed.

    python benchmarks/train_block_extractor.py                 # CV report + write the model
    python benchmarks/train_block_extractor.py --cv-only --json out.json
"""

from __future__ import annotations

import os

# One thread: scikit-learn's OpenMP threads spin-wait, and on a busy 2-core machine a fit took
# minutes instead of seconds (measured); the result is the same.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_extraction import load  # noqa: E402
from eval_warc import DEFAULT_ROOT, score  # noqa: E402

from gristmill.pipeline.ingest.block_model import TreeEnsemble, export_hgb, main_text  # noqa: E402
from gristmill.pipeline.ingest.blocks import page_features  # noqa: E402

MODEL_OUT = os.path.join(os.path.dirname(__file__), "..", "pipeline", "ingest", "models", "blocks-v1.npz")
PARAMS = dict(max_iter=80, learning_rate=0.15, max_depth=6, max_leaf_nodes=31, l2_regularization=1.0,
              random_state=0)
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


def load_pages(root: str) -> list[dict]:
    pages = []
    for url, html, with_, without in load(root):
        texts, X = page_features(html)
        y = np.full(len(texts), -1)
        for i, t in enumerate(texts):
            if any(s in t for s in without):
                y[i] = 0
            if any(s in t for s in with_):
                y[i] = 1
        pages.append({"url": url, "texts": texts, "X": X, "y": y, "gold": {"with": with_, "without": without}})
    return pages


def domain_folds(pages: list[dict], k: int, seed: int) -> np.ndarray:
    domains = [urlsplit(p["url"]).netloc.lower().removeprefix("www.") for p in pages]
    order = sorted(set(domains))
    random.Random(seed).shuffle(order)
    fold_of = {d: i % k for i, d in enumerate(order)}
    return np.array([fold_of[d] for d in domains])


def fit(pages: list[dict]):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X = np.vstack([p["X"][p["y"] >= 0] for p in pages if len(p["X"])])
    y = np.concatenate([p["y"][p["y"] >= 0] for p in pages if len(p["X"])])
    return HistGradientBoostingClassifier(**PARAMS).fit(X, y)


def kept_text(p: dict, prob: np.ndarray, at: float) -> str:
    return main_text(p["texts"], p["X"], prob, at)


def cross_validate(pages: list[dict], k: int, seed: int, tmp: str) -> dict:
    folds = domain_folds(pages, k, seed)
    probs: list[np.ndarray | None] = [None] * len(pages)
    for f in range(k):
        model = fit([p for p, g in zip(pages, folds) if g != f])
        export_hgb(model, tmp, 0.5)  # score with the exported arrays: what ships is what is measured
        ensemble = TreeEnsemble.load(tmp)
        for i in np.flatnonzero(folds == f):
            probs[i] = ensemble.probability(pages[i]["X"])
    g = {p["url"]: p["gold"] for p in pages}  # scored against the pages' own gold (`--root`)
    return {str(at): score({p["url"]: kept_text(p, pr, at) for p, pr in zip(pages, probs)}, g) for at in THRESHOLDS}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=DEFAULT_ROOT)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cv-only", action="store_true", help="report, do not write the model")
    ap.add_argument("--out", default=MODEL_OUT)
    ap.add_argument("--json", help="write the report here too")
    ap.add_argument("--params", type=json.loads, default={}, help='JSON overrides of PARAMS, e.g. {"max_iter": 80}')
    args = ap.parse_args(argv)
    PARAMS.update(args.params)
    t0 = time.perf_counter()
    pages = load_pages(args.root)
    print(f"{len(pages)} pages, {sum(len(p['texts']) for p in pages)} lines, "
          f"{sum(int((p['y'] >= 0).sum()) for p in pages)} labelled ({time.perf_counter() - t0:.1f} s)")
    cv = cross_validate(pages, args.folds, args.seed, args.out + ".cv.npz")
    os.remove(args.out + ".cv.npz")
    best = max(cv, key=lambda at: cv[at]["f1"])
    print(f"held-out by site ({args.folds} folds, seed {args.seed}):")
    for at, s in cv.items():
        mark = "  <- chosen" if at == best else ""
        print(f"  keep at {at}: precision {s['precision']:.3f} recall {s['recall']:.3f} F1 {s['f1']:.3f}{mark}")
    report = {"pages": len(pages), "folds": args.folds, "seed": args.seed, "params": PARAMS, "cv": cv,
              "keep_at": float(best)}
    if not args.cv_only:
        export_hgb(fit(pages), args.out, float(best))
        print(f"wrote {os.path.relpath(args.out)} ({os.path.getsize(args.out) // 1024} KiB), keep at {best}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
