"""Small data for the mixture-search tests: a token folder of three domains with different
statistics (built in-process, no cluster), and swarms in RegMix's released CSV layout."""

from __future__ import annotations

import os

import numpy as np

WORDS = {"alpha": ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran"],
         "digits": ["12", "+", "7", "=", "19", "so", "x", "*", "3"],
         "code": ["def", "f(x):", "return", "x", "if", "else", "for", "in", "range(3):"]}


def token_folder(base: str, docs_per_domain: int = 40) -> str:
    """`base`/part-00000.parquet + tokenizer.json (a `gristmill tokenize` folder) and
    `base`/tokens (its natural-mixture token shards); returns the token folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gristmill.pipeline.context import StepContext
    from gristmill.pipeline.layout import part_path
    from gristmill.tokenize.pack import pack
    from gristmill.tokenize.stages import TokenizeDocuments
    from gristmill.tokenize.tokenizer import train_bpe

    rng = np.random.default_rng(0)
    ids, texts, sources = [], [], []
    for source, vocab in WORDS.items():
        for i in range(docs_per_domain):
            ids.append(f"{source}-{i}")
            texts.append(" ".join(rng.choice(vocab, size=60)) + ".")
            sources.append(source)
    ctx = StepContext.local(base)
    os.makedirs(ctx.state_dir, exist_ok=True)
    tok = os.path.join(ctx.state_dir, "tokenizer.json")
    train_bpe(texts, 300).save(tok)
    stage = TokenizeDocuments(tokenizer=tok)
    stage.setup(ctx)
    pq.write_table(stage.process(pa.table({"id": ids, "text": texts, "source": sources})).table, part_path(base, 0))
    import shutil

    shutil.copyfile(tok, os.path.join(base, "tokenizer.json"))
    folder = os.path.join(base, "tokens")
    os.makedirs(folder, exist_ok=True)
    pack([part_path(base, 0)], folder, lambda fn, items, **kw: [fn(i, **kw) for i in items], tok, val_fraction=0.1)
    return folder


def regmix_csvs(folder: str, runs: int = 64, seed: int = 0, noise: float = 0.003) -> tuple[str, str, np.ndarray]:
    """mixtures.csv / metrics.csv in RegMix's layout (index + one column per domain / metric),
    the metrics log-linear in the weights plus noise; returns the paths and the true exponents."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    domains = ["train_a", "train_b", "train_c", "train_d"]
    W = rng.dirichlet(np.full(len(domains), 0.7), size=runs).round(3)
    W[:, 0] += 1 - W.sum(axis=1)
    t = {"metric/a_val_loss": np.array([-1.0, 0.4, 0.3, 0.5]), "metric/b_val_loss": np.array([0.2, -0.8, 0.1, 0.4])}
    pd.DataFrame({"index": np.arange(runs), **{d: W[:, i] for i, d in enumerate(domains)}}) \
        .to_csv(os.path.join(folder, "mixtures.csv"), index=False)
    metrics = {m: 2.0 + np.exp(W @ v) + rng.normal(0, noise, runs) for m, v in t.items()}
    pd.DataFrame({"index": np.arange(runs), **metrics}).to_csv(os.path.join(folder, "metrics.csv"), index=False)
    return os.path.join(folder, "mixtures.csv"), os.path.join(folder, "metrics.csv"), W
