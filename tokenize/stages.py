"""Workflow stages of the tokenize area.

* `tokenize@1` (corpus): `fit` trains a byte-level BPE on a sample of the corpus (or takes a
  given tokenizer.json); `process` encodes each shard, adding `n_tokens` and `tokens`.
  Empty documents are dropped (`empty_text`).
* `token_shards@1` (corpus): `fit` packs the tokenized documents into shuffled,
  mixture-weighted token shards + index + manifest.json in the step's folder; `process`
  passes the documents on without their `tokens` column.
* `train_model@1` (corpus): `fit` trains the bundled GPT on the upstream token shards and
  prints the loss curve's start and end; `process` passes documents on unchanged.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gristmill.pipeline.stage import Stage, StageOutput, split_by_reason
from gristmill.tokenize import shard_format as sf

DEFAULT_SAMPLE_CHARS = 50_000_000


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
    """Params: vocab_size (train a BPE) or tokenizer (path to a tokenizer.json); sample_chars
    (training sample size, default 50M characters), eos_token, fast (tiktoken if exact, default
    true), seed."""

    name = "tokenize"
    kind = "corpus"
    reads = ("text",)
    adds = ("n_tokens", "tokens")

    def __init__(self, **params):
        super().__init__(**params)
        if bool(params.get("vocab_size")) == bool(params.get("tokenizer")):
            raise ValueError("give exactly one of vocab_size (train a tokenizer) or tokenizer (a tokenizer.json path)")
        if params.get("tokenizer"):
            if not os.path.exists(params["tokenizer"]):
                raise ValueError(f"tokenizer file not found: {params['tokenizer']}")
            from gristmill.tokenize.tokenizer import Encoder

            Encoder(params["tokenizer"], params.get("eos_token"), fast=False)  # unreadable / no EOS: fail now
        self.encoder = None

    @property
    def tokenizer_path(self) -> str:
        return os.path.join(self.state_dir, sf.TOKENIZER)

    def fit(self, ctx) -> dict:
        from gristmill.tokenize.tokenizer import Encoder, tokenizer_hash, train_bpe

        if self.params.get("tokenizer"):
            shutil.copyfile(self.params["tokenizer"], self.tokenizer_path)
            info = {"trained": False}
        else:
            budget = int(self.params.get("sample_chars", DEFAULT_SAMPLE_CHARS))
            per_part = max(budget // max(len(ctx.inputs), 1), 1)
            samples = ctx.map(sample_texts, ctx.inputs, max_chars=per_part, seed=int(self.params.get("seed", 0)))
            texts = [t for part in samples for t in part]
            tok = train_bpe(texts, int(self.params["vocab_size"]), self.params.get("eos_token") or "<|endoftext|>")
            tok.save(self.tokenizer_path)
            info = {"trained": True, "sample_documents": len(texts), "sample_chars": sum(map(len, texts))}
        # the step's own folder gets a copy too: that is where users look for it
        shutil.copyfile(self.tokenizer_path, os.path.join(os.path.dirname(self.state_dir), sf.TOKENIZER))
        enc = Encoder(self.tokenizer_path, self.params.get("eos_token"), fast=self.params.get("fast", True))
        return {**info, "vocab_size": enc.vocab_size, "eos_id": enc.eos_id, "hash": tokenizer_hash(self.tokenizer_path),
                "encoder": enc.backend, "fast_path_refused": enc.fallback_reason}

    def setup(self) -> None:
        from gristmill.tokenize.tokenizer import Encoder

        self.encoder = Encoder(self.tokenizer_path, self.params.get("eos_token"), fast=self.params.get("fast", True))

    def process(self, table: pa.Table) -> StageOutput:
        text = table.column("text")
        empty = pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0), True)
        reason = pc.if_else(empty, pa.scalar("empty_text", pa.string()), pa.scalar(None, pa.string()))
        out = split_by_reason(table, reason, self.versioned_name)
        kept = out.table
        flat, lengths = self.encoder.encode_batch(kept.column("text").to_pylist())
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        tokens = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(flat, pa.uint32()))
        for name in ("n_tokens", "tokens"):
            if name in kept.column_names:
                kept = kept.drop_columns([name])
        out.table = kept.append_column("n_tokens", pa.array(lengths, pa.int64())).append_column("tokens", tokens)
        out.counters = {"tokens": int(lengths.sum()), f"docs_encoded_with_{self.encoder.backend}": len(lengths)}
        return out


class TokenShards(Stage):
    """Params: by (source|topic), weights ({domain: weight}, default: natural mixture),
    budget_tokens, max_epochs (number or {domain: number}), seed, val_fraction (default 0.02),
    shard_tokens (default 50M), export (list of nanogpt / megatron / olmo)."""

    name = "token_shards"
    kind = "corpus"
    reads = ("n_tokens", "tokens")

    def __init__(self, **params):
        super().__init__(**params)
        self.spec = mixture_spec(params)  # bad weights fail when the workflow loads

    def fit(self, ctx) -> dict:
        from gristmill.tokenize.export import export
        from gristmill.tokenize.pack import pack

        out_dir = os.path.dirname(self.state_dir)
        upstream = os.path.dirname(ctx.inputs[0])
        manifest = pack(ctx.inputs, out_dir, ctx.map, os.path.join(upstream, sf.TOKENIZER), self.spec,
                        val_fraction=float(self.params.get("val_fraction", 0.02)),
                        shard_tokens=int(self.params.get("shard_tokens", 50_000_000)),
                        encoder_backend=upstream_encoder(upstream))
        for fmt in self.params.get("export") or []:
            export(out_dir, fmt)
        return {"total_tokens": manifest["total_tokens"], "shards": len(manifest["splits"]["train"]["shards"])}

    def process(self, table: pa.Table) -> StageOutput:
        return StageOutput(table.drop_columns([c for c in ("tokens",) if c in table.column_names]))


def upstream_encoder(folder: str) -> str | None:
    """Which encoder the upstream tokenize step used, from its shard markers' counters."""
    import glob
    import json

    used = set()
    for path in glob.glob(os.path.join(folder, "_done", "*.json")):
        with open(path) as f:
            used.update(k[len("docs_encoded_with_"):] for k in json.load(f).get("counters", {})
                        if k.startswith("docs_encoded_with_"))
    return "+".join(sorted(used)) or None


def mixture_spec(params: dict):
    from gristmill.tokenize.mixture import MixtureSpec

    return MixtureSpec(by=params.get("by", "source"), weights=params.get("weights"),
                       budget_tokens=params.get("budget_tokens"), max_epochs=params.get("max_epochs", 4.0),
                       seed=int(params.get("seed", 0)))


class TrainModel(Stage):
    """Params: steps (default: the config's), config (a mapping of TrainConfig fields)."""

    name = "train_model"
    kind = "corpus"
    reads = ()
    deterministic = False  # wall-clock fields in the log

    def fit(self, ctx) -> dict:
        from gristmill.tokenize.train import TrainConfig, train

        data = os.path.dirname(ctx.inputs[0])
        run_dir = os.path.join(os.path.dirname(self.state_dir), "run")
        cfg = TrainConfig(**(self.params.get("config") or {}))
        if self.params.get("steps"):
            cfg.steps = int(self.params["steps"])
        summary = train(data, run_dir, cfg)
        # the runner prints the headline under its summary table
        summary["headline"] = (f"loss {summary['first_loss']:.3f} at step {summary['first_step']} -> "
                               f"{summary['last_loss']:.3f} at step {summary['last_step']} "
                               f"({summary['tokens_per_s']:,.0f} tokens/s; log: {run_dir}/train_log.jsonl)")
        return summary

    def process(self, table: pa.Table) -> StageOutput:
        return StageOutput(table)
