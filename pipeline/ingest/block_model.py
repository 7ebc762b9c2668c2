"""The `blocks` engine: keeps the lines two trained tree ensembles score as main text.

The first ensemble scores each line from its own features and its neighbours'; the second
scores it again from those features plus the first scores around it (`context_features`).
Both are scikit-learn HistGradientBoostingClassifiers, trained by
`benchmarks/train_block_extractor.py` and exported as flat node arrays in one file
(`models/blocks-v2.npz`), so loading needs neither pickle nor the scikit-learn version they
were trained with, and a page's lines are scored by all trees at once in a few numpy gathers
(one sklearn call per page costs ~5 ms; this ~0.4 ms an ensemble).
"""

from __future__ import annotations

import os

import numpy as np

from gristmill.pipeline.ingest.blocks import FEATURES, context_features, page_features

MODEL_FILE = "blocks-v2.npz"
THRESHOLD_KEY = "keep_at"
TABLE_ROW, IN_MAIN = FEATURES.index("table_row"), FEATURES.index("in_main")
LINK_RATIO, LOG_CHARS = FEATURES.index("link_ratio"), FEATURES.index("log_chars")
# A table whose text is more than this share link text is a listing (threads, teasers, files),
# dropped whatever its rows score: the model, trained on article tables, kept forum listings of
# thousands of rows that then sank whole pages in the quality filters (README, "Crawl ingest")
LISTING_LINK_SHARE = 0.5
ARRAYS = ("feature", "threshold", "left", "right", "value", "roots", "baseline", "depth")
LINES, CONTEXT = "lines_", "context_"  # array-name prefixes of the two ensembles in one model file


class TreeEnsemble:
    """Sum of regression trees on a logit scale; arrays as `hgb_arrays` gives them."""

    def __init__(self, feature, threshold, left, right, value, roots, baseline, depth, keep_at):
        self.feature = feature.astype(np.intp)
        self.threshold = threshold
        # children[2k] / children[2k+1]: where node k sends a row that is <= / > its threshold
        self.children = np.empty(2 * len(left), dtype=np.intp)
        self.children[0::2] = left
        self.children[1::2] = right
        self.value = value
        self.roots = roots.astype(np.intp)
        self.baseline = float(baseline)
        self.depth = int(depth)
        self.keep_at = float(keep_at)

    @classmethod
    def from_arrays(cls, z, prefix: str) -> "TreeEnsemble":
        """From a mapping of arrays as `export_blocks` writes them."""
        return cls(*(z[prefix + k] for k in ARRAYS), z[THRESHOLD_KEY])

    def probability(self, X: np.ndarray) -> np.ndarray:
        n, width = X.shape
        if n == 0:
            return np.zeros(0)
        flat = np.ascontiguousarray(X, dtype=np.float64).ravel()
        row_start = (np.arange(n) * width)[:, None]
        node = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        for _ in range(self.depth):  # a leaf points to itself, so extra steps change nothing
            x = flat.take(row_start + self.feature.take(node))
            node = self.children.take(2 * node + (x > self.threshold.take(node)))
        logit = self.value.take(node).sum(axis=1) + self.baseline
        return 1.0 / (1.0 + np.exp(-logit))


def hgb_arrays(model) -> dict[str, np.ndarray]:
    """A fitted binary HistGradientBoostingClassifier (numeric features, no missing values)
    as flat node arrays, named as in ARRAYS."""
    feature, threshold, left, right, value, roots = [], [], [], [], [], []
    offset = 0
    depth = 0
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        count = len(nodes)
        leaf = nodes["is_leaf"].astype(bool)
        own = np.arange(offset, offset + count)
        feature.append(np.where(leaf, 0, nodes["feature_idx"]).astype(np.int32))
        threshold.append(np.where(leaf, np.inf, nodes["num_threshold"]))
        left.append(np.where(leaf, own, nodes["left"] + offset).astype(np.int32))
        right.append(np.where(leaf, own, nodes["right"] + offset).astype(np.int32))
        value.append(np.where(leaf, nodes["value"], 0.0))
        roots.append(offset)
        depth = max(depth, int(nodes["depth"].max()))
        offset += count
    baseline = float(np.ravel(model._baseline_prediction)[0])
    return dict(feature=np.concatenate(feature), threshold=np.concatenate(threshold), left=np.concatenate(left),
                right=np.concatenate(right), value=np.concatenate(value), roots=np.asarray(roots, dtype=np.int32),
                baseline=baseline, depth=depth)


def export_blocks(lines, context, path: str, keep_at: float) -> None:
    """Write the engine's model file: the line ensemble and the context ensemble (None: the
    first scores are final); `keep_at` is the probability from which a line is kept."""
    arrays = {LINES + k: v for k, v in hgb_arrays(lines).items()}
    if context is not None:
        arrays.update({CONTEXT + k: v for k, v in hgb_arrays(context).items()})
    np.savez_compressed(path, **arrays, **{THRESHOLD_KEY: keep_at})


class BlockModel:
    """The two ensembles of a model file; `probability` is the context ensemble's score."""

    def __init__(self, lines: TreeEnsemble, context: TreeEnsemble | None, keep_at: float):
        self.lines, self.context, self.keep_at = lines, context, keep_at

    @classmethod
    def load(cls, path: str) -> "BlockModel":
        with np.load(path) as z:  # one read of the file for both ensembles
            lines = TreeEnsemble.from_arrays(z, LINES)
            context = TreeEnsemble.from_arrays(z, CONTEXT) if CONTEXT + "feature" in z.files else None
        return cls(lines, context, lines.keep_at)

    def probability(self, X: np.ndarray) -> np.ndarray:
        score = self.lines.probability(X)
        return score if self.context is None else self.context.probability(context_features(X, score))


def model_path() -> str:
    from importlib.resources import files

    path = str(files("gristmill.pipeline.ingest").joinpath("models", MODEL_FILE))
    if not os.path.exists(path):
        raise FileNotFoundError(f"{MODEL_FILE} is missing from the installed package: {path}")
    return path


def keep_lines(prob: np.ndarray, table_row: np.ndarray, keep_at: float,
               link_chars: np.ndarray | None = None, chars: np.ndarray | None = None) -> np.ndarray:
    """Lines to keep: those scored >= keep_at, except that a table (a run of row lines) is
    kept or dropped whole, by the mean score of its rows, so no table loses its header; with
    `link_chars` and `chars` per line, a table that is mostly link text is dropped."""
    keep = prob >= keep_at
    edges = np.flatnonzero(np.diff(np.concatenate(([0], table_row.astype(np.int8), [0]))))
    for start, stop in zip(edges[0::2], edges[1::2]):
        listing = link_chars is not None and link_chars[start:stop].sum() > LISTING_LINK_SHARE * chars[start:stop].sum()
        keep[start:stop] = not listing and prob[start:stop].mean() >= keep_at
    return keep


def main_text(texts: list[str], X: np.ndarray, prob: np.ndarray, keep_at: float) -> str:
    """The kept lines, one per line; when the model keeps none, resiliparse's own
    main-content lines (a page of bare text, say), so a page with text is never emptied."""
    if not texts:
        return ""
    chars = np.expm1(X[:, LOG_CHARS])
    keep = keep_lines(prob, X[:, TABLE_ROW], keep_at, X[:, LINK_RATIO] * chars, chars)
    if not keep.any():
        keep = X[:, IN_MAIN] > 0
    return "\n".join(t for t, k in zip(texts, keep) if k)


_MODEL: BlockModel | None = None


def extract_blocks(html: str) -> str:
    """Main text: the lines the model keeps, in page order, one per line."""
    global _MODEL
    if _MODEL is None:
        _MODEL = BlockModel.load(model_path())
    texts, X = page_features(html)
    return main_text(texts, X, _MODEL.probability(X), _MODEL.keep_at)
