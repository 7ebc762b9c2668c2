"""Workflow stages of the tokenize area.

* `tokenize@1` (corpus): `fit` trains a byte-level BPE on a sample of the corpus (or takes a
  given tokenizer.json), keeps it in the step's state and publishes a copy in the step's
  folder; `process` encodes each shard, adding `n_tokens` and `tokens`. Empty documents are
  dropped (`empty_text`). The fit records the encoder backend; every worker must get the same.
* `token_shards@1` (sink): packs the tokenized documents into shuffled, mixture-weighted token
  shards + index + manifest.json in the step's folder (no documents are copied).
* `train_model@1` (sink): trains the bundled GPT on the upstream token folder into `run/` and
  prints the loss curve's start and end.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gristmill.pipeline.params import param
from gristmill.pipeline.stage import Stage, StageOutput, split_by_reason
from gristmill.tokenize import shard_format as sf
from gristmill.tokenize.export import FORMATS as EXPORT_FORMATS


def sample_texts(path: str, max_chars: int, seed: int) -> list[str]:
    """Up to `max_chars` of text from one part: whole documents in a seeded random order."""
    text = pq.read_table(path, columns=["text"]).column("text").combine_chunks()
    if len(text) == 0:
        return []
    order = np.random.default_rng([seed, len(text)]).permutation(len(text))
    lengths = pc.utf8_length(text).fill_null(0).to_numpy(zero_copy_only=False)[order]
    k = int(np.searchsorted(np.cumsum(lengths), max_chars, side="right")) + 1
    return [t for t in text.take(pa.array(order[:k])).to_pylist() if t]


class TokenizeDocuments(Stage):
    """Train (or take) a tokenizer, then add `n_tokens` and `tokens` to every document."""

    name = "tokenize"
    kind = "corpus"
    reads = ("text",)
    adds = ("n_tokens", "tokens")

    @dataclass(frozen=True)
    class Params:
        vocab_size: int | None = param(None, "train a byte-level BPE of this size on a sample of the corpus",
                                       ge=258)
        tokenizer: str | None = param(None, "use this tokenizer.json (or the tokenizer in this .gguf model file) "
                                            "instead of training one")
        sample_chars: int = param(50_000_000, "characters of text to train the BPE on", gt=0)
        eos_token: str | None = param(None, "end-of-document token (default: the first known EOS name; "
                                            "<|endoftext|> when training)")
        fast: bool = param(True, "encode with the tiktoken fast path when it gives exactly the same ids")
        seed: int = param(0, "seed of the training sample")

    def __init__(self, **params):
        super().__init__(**params)
        if bool(self.cfg.vocab_size) == bool(self.cfg.tokenizer):
            raise ValueError("give exactly one of vocab_size (train a tokenizer) or tokenizer (a tokenizer.json path)")
        if self.cfg.tokenizer:
            if not os.path.exists(self.cfg.tokenizer):
                raise ValueError(f"tokenizer file not found: {self.cfg.tokenizer}")
            from gristmill.tokenize.tokenizer import Encoder

            Encoder(self.cfg.tokenizer, self.cfg.eos_token, fast=False)  # unreadable / no EOS: fail now
        self.encoder = None

    def fit(self, ctx) -> dict:
        from gristmill.tokenize.tokenizer import Encoder, tokenizer_hash, train_bpe

        state_path = os.path.join(ctx.state_dir, sf.TOKENIZER)
        if self.cfg.tokenizer and self.cfg.tokenizer.endswith(".gguf"):
            from gristmill.tokenize.gguf_tokenizer import tokenizer_from_gguf

            tokenizer_from_gguf(self.cfg.tokenizer).save(state_path)  # the shards record a tokenizer.json
            info = {"trained": False, "from_gguf": os.path.basename(self.cfg.tokenizer)}
        elif self.cfg.tokenizer:
            shutil.copyfile(self.cfg.tokenizer, state_path)
            info = {"trained": False}
        else:
            per_part = max(self.cfg.sample_chars // max(len(ctx.inputs), 1), 1)
            samples = ctx.map(sample_texts, ctx.inputs, max_chars=per_part, seed=self.cfg.seed)
            texts = [t for part in samples for t in part]
            tok = train_bpe(texts, self.cfg.vocab_size, self.cfg.eos_token or "<|endoftext|>")
            tok.save(state_path)
            info = {"trained": True, "sample_documents": len(texts), "sample_chars": sum(map(len, texts))}
        # the step's own folder gets a copy too: that is where users (and token_shards) look for it
        shutil.copyfile(state_path, os.path.join(ctx.out_dir, sf.TOKENIZER))
        enc = Encoder(state_path, self.cfg.eos_token, fast=self.cfg.fast)
        return {**info, "vocab_size": enc.vocab_size, "eos_id": enc.eos_id, "hash": tokenizer_hash(state_path),
                "encoder": enc.backend, "fast_path_refused": enc.fallback_reason}

    def setup(self, ctx=None) -> None:
        from gristmill.tokenize.tokenizer import Encoder

        if ctx is None:
            raise ValueError(f"{self.versioned_name} loads its tokenizer from the step's state: "
                             "call setup(ctx) with a StepContext")
        self.encoder = Encoder(os.path.join(ctx.state_dir, sf.TOKENIZER), self.cfg.eos_token, fast=self.cfg.fast)
        fitted = (ctx.fit or {}).get("encoder")
        if fitted and self.encoder.backend != fitted:
            # the manifest records the fit's backend: shards encoded otherwise would contradict it
            raise RuntimeError(
                f"{self.versioned_name}: this worker encodes with {self.encoder.backend!r} but the fit chose "
                f"{fitted!r} (here: {self.encoder.fallback_reason or 'fast path available'}; at the fit: "
                f"{(ctx.fit or {}).get('fast_path_refused') or 'fast path available'}); give every worker the "
                "same tiktoken/tokenizers versions, or set fast: false")

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        text = table.column("text")
        empty = pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0), True)
        reason = pc.if_else(empty, pa.scalar("empty_text", pa.string()), pa.scalar(None, pa.string()))
        out = split_by_reason(table, reason, self.versioned_name)
        kept = out.table
        before = self.encoder.counters
        flat, lengths = self.encoder.encode_batch(kept.column("text").to_pylist())
        # documents that took the fast path's exact piece-by-piece lane (bytes not in the vocabulary)
        # or had added tokens cut out: counted, since they are the slower part of the fast path
        lanes = {k: v - before.get(k, 0) for k, v in self.encoder.counters.items()}
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        tokens = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(flat, pa.uint32()))
        for name in ("n_tokens", "tokens"):
            if name in kept.column_names:
                kept = kept.drop_columns([name])
        out.table = kept.append_column("n_tokens", pa.array(lengths, pa.int64())).append_column("tokens", tokens)
        out.counters = {"tokens": int(lengths.sum()), f"docs_encoded_with_{self.encoder.backend}": len(lengths),
                        **{k: v for k, v in lanes.items() if v}}
        return out


class TokenShards(Stage):
    """Pack tokenized documents into shuffled, mixture-weighted token shards + index + manifest."""

    name = "token_shards"
    kind = "sink"
    reads = ("n_tokens", "tokens")

    @dataclass(frozen=True)
    class Params:
        by: str = param("source", "column that names the domain", choices=("source", "topic"))
        weights: dict[str, float] | str | None = param(
            None, "mixture weights per domain, e.g. {web: 0.5, code: 0.3, math: 0.2}, or a WEIGHTS.yaml file "
                  "(`gristmill mix propose`) (default: the natural mixture, every document once)")
        budget_tokens: int | None = param(
            None, "training tokens in the mix (default: the most the max_epochs caps allow)", gt=0, cli="--budget")
        max_epochs: float | dict[str, float] = param(
            4.0, "repetition cap: a number, or one per domain ({DOMAIN: N, '*': N} for the rest)")
        seed: int = param(0, "seed of the mixture's sampling and shuffle")
        val_fraction: float = param(0.02, "held-out share of each domain's tokens", ge=0, le=1)
        shard_tokens: int = param(50_000_000, "tokens per output shard", ge=1)
        export: list[str] = param([], "also export the token folder to these trainers' formats",
                                  choices=EXPORT_FORMATS)

    def __init__(self, **params):
        super().__init__(**params)
        self.spec = mixture_spec(self.cfg)  # bad weights fail when the workflow loads

    def write(self, ctx) -> dict:
        from gristmill.tokenize.export import export
        from gristmill.tokenize.pack import pack

        upstream = ctx.step.upstream_dir
        tokenizer = os.path.join(upstream or "", sf.TOKENIZER)
        if not upstream or not os.path.exists(tokenizer):
            raise ValueError(f"{self.versioned_name} needs a tokenize step (or a `gristmill tokenize` folder) "
                             f"before it: no {sf.TOKENIZER} in {upstream}")
        # which encoder made the ids: the tokenize step's fit chose it, and every worker used it
        backend = (ctx.step.upstream_fit or {}).get("encoder")
        manifest = pack(ctx.inputs, ctx.out_dir, ctx.map, tokenizer, self.spec,
                        val_fraction=self.cfg.val_fraction, shard_tokens=self.cfg.shard_tokens,
                        encoder_backend=backend)
        for fmt in self.cfg.export:
            export(ctx.out_dir, fmt)
        return {"total_tokens": manifest["total_tokens"], "shards": len(manifest["splits"]["train"]["shards"])}


def mixture_spec(cfg: "TokenShards.Params"):
    """The MixtureSpec of token_shards' parameters."""
    from gristmill.mixing.mixture import MixtureSpec

    from gristmill.mixing.mixture import read_weights_file

    weights = read_weights_file(cfg.weights) if isinstance(cfg.weights, str) else cfg.weights
    return MixtureSpec(by=cfg.by, weights=weights, budget_tokens=cfg.budget_tokens,
                       max_epochs=cfg.max_epochs, seed=cfg.seed)


class TrainModel(Stage):
    """Train the bundled GPT on the upstream token shards (loss curve in the run summary)."""

    name = "train_model"
    kind = "sink"
    reads = ()
    deterministic = False  # wall-clock fields in the log

    @dataclass(frozen=True)
    class Params:
        steps: int | None = param(None, "training steps (default: the config's)", ge=1)
        config: dict[str, Any] = param({}, "TrainConfig fields (model size, batch, learning rate, ...), "
                                           "as in a `gristmill train --config` file")

    def write(self, ctx) -> dict:
        from gristmill.tokenize.train import TrainConfig, train

        data = ctx.step.upstream_dir
        if not data or not os.path.exists(os.path.join(data, sf.MANIFEST)):
            raise ValueError(f"{self.versioned_name} trains on the token folder of the step before it "
                             f"(token_shards): no {sf.MANIFEST} in {data}")
        run_dir = os.path.join(ctx.out_dir, "run")
        cfg = TrainConfig(**self.cfg.config)
        if self.cfg.steps:
            cfg.steps = self.cfg.steps
        summary = train(data, run_dir, cfg)
        # the runner prints the headline under its summary table
        summary["headline"] = (f"loss {summary['first_loss']:.3f} at step {summary['first_step']} -> "
                               f"{summary['last_loss']:.3f} at step {summary['last_step']} "
                               f"({summary['tokens_per_s']:,.0f} tokens/s; log: {run_dir}/train_log.jsonl)")
        return summary
