"""The bundled trainer: a very short run whose loss falls, per-domain validation, and a resume
that continues exactly where an uninterrupted run would be."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from gristmill.tokenize import shard_format as sf
from gristmill.tokenize.pack import pack
from gristmill.tokenize.train import TrainConfig, load_config, train

torch = pytest.importorskip("torch")

TINY = dict(n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=8, lr=1e-2, min_lr=1e-3, warmup_steps=5,
            log_interval=5, eval_interval=20, eval_windows=4, checkpoint_interval=10, threads=1)


@pytest.fixture(scope="module")
def token_dir(tmp_path_factory):
    """A small token folder built without a cluster: two domains with different statistics."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gristmill.tokenize.tokenizer import train_bpe

    base = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(0)
    words = {"alpha": ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran"],
             "digits": ["12", "+", "7", "=", "19", "so", "x", "*", "3"]}
    ids, texts, sources = [], [], []
    for source, vocab in words.items():
        for i in range(60):
            ids.append(f"{source}-{i}")
            texts.append(" ".join(rng.choice(vocab, size=80)) + ".")
            sources.append(source)
    tok_path = str(base / "tokenizer.json")
    train_bpe(texts, 300).save(tok_path)
    from gristmill.pipeline.context import StepContext
    from gristmill.pipeline.layout import part_path
    from gristmill.tokenize.stages import TokenizeDocuments

    stage = TokenizeDocuments(tokenizer=tok_path)
    ctx = StepContext.local(str(base))
    os.makedirs(ctx.state_dir)
    os.replace(tok_path, os.path.join(ctx.state_dir, "tokenizer.json"))
    stage.setup(ctx)
    out = stage.process(pa.table({"id": ids, "text": texts, "source": sources}))
    pq.write_table(out.table, part_path(str(base), 0))
    folder = str(base / "tokens")
    os.makedirs(folder)
    pack([part_path(str(base), 0)], folder, lambda fn, items, **kw: [fn(i, **kw) for i in items],
         os.path.join(ctx.state_dir, "tokenizer.json"), val_fraction=0.1)
    return folder


def log_of(run_dir):
    with open(os.path.join(run_dir, "train_log.jsonl")) as f:
        return [json.loads(line) for line in f]


def test_short_run_loss_falls_and_logs(token_dir, tmp_path):
    summary = train(token_dir, str(tmp_path / "run"), TrainConfig(steps=60, **TINY))
    log = log_of(tmp_path / "run")
    assert [r["step"] for r in log][:3] == [1, 5, 10] and log[-1]["step"] == 60
    assert log[-1]["loss"] < log[0]["loss"] - 1.0, (log[0]["loss"], log[-1]["loss"])
    assert all(r["tokens_per_s"] > 0 for r in log)
    assert set(log[-1]["val_loss_by_domain"]) == {"alpha", "digits"}
    assert summary["last_loss"] == log[-1]["loss"] and os.path.exists(summary["checkpoint"])


def test_resume_matches_uninterrupted_run(token_dir, tmp_path):
    whole, split = str(tmp_path / "whole"), str(tmp_path / "split")
    train(token_dir, whole, TrainConfig(steps=30, **TINY))
    train(token_dir, split, TrainConfig(steps=30, **TINY), stop_at=20)  # as if killed after step 20
    state = torch.load(os.path.join(split, "ckpt.pt"), weights_only=False)
    assert state["step"] == 20
    train(token_dir, split, TrainConfig(steps=30, **TINY))  # resumes from step 20
    a, b = log_of(whole), log_of(split)
    assert [r["step"] for r in a] == [r["step"] for r in b]
    assert [r["loss"] for r in a] == [r["loss"] for r in b]
    wa = torch.load(os.path.join(whole, "ckpt.pt"), weights_only=False)["model"]
    wb = torch.load(os.path.join(split, "ckpt.pt"), weights_only=False)["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_cli_train_and_config(token_dir, tmp_path):
    from gristmill.pipeline.cli import main

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("\n".join(f"{k}: {v}" for k, v in TINY.items()))
    assert load_config(str(cfg)).n_embd == 32
    run = str(tmp_path / "cli")
    assert main(["train", "--data", token_dir, "--out", run, "--steps", "10", "--config", str(cfg)]) == 0
    assert log_of(run)[-1]["step"] == 10
    positional = tmp_path / "run.yaml"  # `gristmill train CONFIG`, with data and out inside
    positional.write_text(cfg.read_text() + f"\ndata: {token_dir}\nout: {tmp_path / 'pos'}\nsteps: 5\n")
    assert main(["train", str(positional)]) == 0
    assert log_of(tmp_path / "pos")[-1]["step"] == 5
    assert main(["train", str(cfg)]) == 2  # no data/out anywhere
    bad = tmp_path / "bad.yaml"
    bad.write_text("n_layers: 3\n")
    with pytest.raises(ValueError, match="n_layers"):
        load_config(str(bad))
    assert sf.read_manifest(token_dir)["splits"]["val"]["documents"] >= 2
