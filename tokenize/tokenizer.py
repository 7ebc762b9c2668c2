"""Tokenizers: train a byte-level BPE with HF `tokenizers`, load any tokenizer.json, and
encode fast.

The fast path (`fast_bpe.FastBPE`) encodes a byte-level BPE with `tiktoken`, the same ids several
times faster: any vocabulary (bytes it lacks handled as `tokenizers` handles them), GPT-2, Llama-3,
Qwen2 and SmolLM style pre-tokenizers, NFC-style normalizers, added tokens in the text. What it does
not reproduce exactly (another model type, other normalizers or pre-tokenizers, dropout, ...) is
refused with the reason, logged, and encoded with `tokenizers`. A probe text (many scripts,
emoji, combining marks, control characters, code, odd whitespace) is encoded both ways as a last
check; any difference also means `tokenizers`.

Document text is always encoded literally: a document that contains "<|endoftext|>" gets the
tokens of those characters, never the EOS id (no injected document boundaries).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable

import numpy as np
from gristmill.tokenize.fast_bpe import FastBPE, FastPathRefused

log = logging.getLogger("gristmill")

EOS_TOKEN = "<|endoftext|>"
EOS_CANDIDATES = (EOS_TOKEN, "<|end_of_text|>", "</s>", "<eos>", "<|eos|>", "[SEP]")
PROBE_TEXT = (
    "Hello world! It's 2024, they'll say: \"we've done it\". \u00c9t\u00e9 \u00e0 Z\u00fcrich, "
    "Hyv\u00e4\u00e4 p\u00e4iv\u00e4\u00e4. \u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440. "
    "\u4f60\u597d\uff0c\u4e16\u754c\u3002 \u3053\u3093\u306b\u3061\u306f \ud55c\uad6d\uc5b4 "
    "\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd \u0928\u092e\u0938\u094d\u0924\u0947 "
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35 \U0001f600\U0001f44d\U0001f3fd \U0001f468\u200d\U0001f469\u200d\U0001f467 "
    "cafe\u0301 \u1e9b\u0323 \ufb01 \u2460\u00bd\u00b2 \u0663\u0664 x\u00001\x1f\x7f\x85\u2028\u200b\ufeff\n\n"
    "def f(x):\n\tif x  >=  3:\n        return x**2  # caf\u00e9\r\n   \n<|endoftext|> 12345 \u00a0end\u3000 \x0b\x0c "
)


def train_bpe(texts: Iterable[str], vocab_size: int, eos_token: str = EOS_TOKEN):
    """A byte-level BPE trained on `texts`: EOS is id 0, then the 256 bytes, then merges."""
    from tokenizers import Tokenizer, decoders, models, trainers
    from tokenizers.pre_tokenizers import ByteLevel

    if vocab_size < 257 + 1:
        raise ValueError(f"vocab_size must be at least 258 (256 bytes + EOS + 1 merge), got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[eos_token],
                                  initial_alphabet=ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


def tokenizer_hash(path: str) -> str:
    """Content hash of a tokenizer.json (canonical JSON, so formatting does not matter)."""
    with open(path, "rb") as f:
        spec = json.load(f)
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def find_eos(tok, eos_token: str | None = None) -> tuple[str, int]:
    """The end-of-document token: `eos_token` if given, else the first known EOS name present."""
    vocab = tok.get_vocab(with_added_tokens=True)
    names = [eos_token] if eos_token else list(EOS_CANDIDATES)
    for name in names:
        if name in vocab:
            return name, int(vocab[name])
    raise ValueError(f"tokenizer has no end-of-document token ({', '.join(names)}); pass eos_token")


def load_tokenizer(path: str):
    """A `tokenizers.Tokenizer` from a tokenizer.json, or from the tokenizer inside a GGUF model file."""
    if path.endswith(".gguf"):
        from gristmill.tokenize.gguf_tokenizer import tokenizer_from_gguf

        return tokenizer_from_gguf(path)
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


class Encoder:
    """Encodes documents with one tokenizer.json: tiktoken when exact, else `tokenizers`."""

    def __init__(self, path: str, eos_token: str | None = None, fast: bool = True):
        self.path = path
        self.hf = load_tokenizer(path)
        self.hf.encode_special_tokens = True  # document text is encoded literally
        self.eos_token, self.eos_id = find_eos(self.hf, eos_token)
        self.vocab_size = self.hf.get_vocab_size(with_added_tokens=True)
        self.fast = None
        self.fallback_reason = "fast path turned off" if not fast else None
        if fast:
            if path.endswith(".gguf"):
                spec = json.loads(self.hf.to_str())
            else:
                with open(path) as f:
                    spec = json.load(f)
            try:
                enc = FastBPE(self.hf, spec)
                if enc.encode(PROBE_TEXT).tolist() != self.hf.encode(PROBE_TEXT, add_special_tokens=False).ids:
                    raise FastPathRefused("tiktoken and tokenizers disagree on the probe text")
                enc.counters = dict.fromkeys(enc.counters, 0)  # the probe is not a document
                self.fast = enc
            except FastPathRefused as e:
                self.fallback_reason = str(e)
                log.warning("fast path refused for %s: %s; encoding with `tokenizers`", path, e)

    @property
    def backend(self) -> str:
        return "tiktoken" if self.fast is not None else "tokenizers"

    def encode_batch(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All documents' ids concatenated (uint32) and each document's token count (int64)."""
        if self.fast is not None:
            parts = [self.fast.encode(t) for t in texts]
        else:
            parts = [np.asarray(e.ids, dtype=np.uint32)
                     for e in self.hf.encode_batch(texts, add_special_tokens=False)]
        lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
        flat = np.concatenate(parts) if parts else np.zeros(0, np.uint32)
        return flat.astype(np.uint32, copy=False), lengths

    @property
    def counters(self) -> dict[str, int]:
        """How many documents took the fast path's exact slow lanes (unknown bytes, added tokens)."""
        return dict(self.fast.counters) if self.fast is not None else {}

    def encode(self, text: str) -> list[int]:
        return self.encode_batch([text])[0].tolist()

    def decode(self, ids) -> str:
        return self.hf.decode([int(i) for i in ids], skip_special_tokens=False)
