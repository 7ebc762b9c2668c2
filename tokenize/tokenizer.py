"""Tokenizers: train a byte-level BPE with HF `tokenizers`, load any tokenizer.json, and
encode fast.

The fast path converts a byte-level BPE to `tiktoken` ranks (token id = rank), which encodes
the same ids several times faster. tiktoken can express only part of what a tokenizer.json
can say, so `Encoder` checks the file first (normalizer, pre-tokenizer, model options, added
tokens) and, when anything does not fit, refuses the fast path with the reason and encodes
with `tokenizers` instead. A probe text (several scripts, code, odd whitespace) is encoded
both ways as a last check; any difference also means `tokenizers`.

Document text is always encoded literally: a document that contains "<|endoftext|>" gets the
tokens of those characters, never the EOS id (no injected document boundaries).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable

import numpy as np

log = logging.getLogger("gristmill")

EOS_TOKEN = "<|endoftext|>"
EOS_CANDIDATES = (EOS_TOKEN, "<|end_of_text|>", "</s>", "<eos>", "<|eos|>", "[SEP]")
# GPT-2's split rule: what `ByteLevel(use_regex=True)` applies, in tiktoken's regex dialect.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
PROBE_TEXT = (
    "Hello world! It's 2024, they'll say: \"we've done it\". \u00c9t\u00e9 \u00e0 Z\u00fcrich, "
    "Hyv\u00e4\u00e4 p\u00e4iv\u00e4\u00e4. \u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440. "
    "\u4f60\u597d\uff0c\u4e16\u754c\u3002 \u0645\u0631\u062d\u0628\u0627 \U0001f600\n\n"
    "def f(x):\n\tif x  >=  3:\n        return x**2  # caf\u00e9\r\n   \n<|endoftext|> 12345 \u00a0end  "
)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table that byte-level BPE vocabularies are written in."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) \
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


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


def tiktoken_refusal(spec: dict) -> str | None:
    """Why the tokenizer.json `spec` cannot be encoded exactly by tiktoken (None if it can)."""
    if spec.get("normalizer") is not None:
        return f"it has a normalizer ({spec['normalizer'].get('type')}); tiktoken applies none"
    model = spec.get("model") or {}
    if model.get("type") != "BPE":
        return f"its model is {model.get('type')}, not BPE"
    if model.get("dropout") not in (None, 0, 0.0):
        return "BPE dropout is random; tiktoken is deterministic"
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        return "it uses subword prefixes/suffixes, which tiktoken does not know"
    if model.get("byte_fallback"):
        return "it uses byte_fallback tokens (<0xNN>), not byte-level BPE"
    pattern = pre_tokenizer_pattern(spec.get("pre_tokenizer"))
    if pattern is None:
        return f"its pre-tokenizer ({json.dumps(spec.get('pre_tokenizer'))[:120]}) is not byte-level BPE " \
               "with a regex split that tiktoken can run"
    plain_added = [t["content"] for t in spec.get("added_tokens", []) if not t.get("special")]
    if plain_added:
        return f"it has added non-special tokens ({plain_added[:3]}) matched before BPE"
    return None


def pre_tokenizer_pattern(pre: dict | None) -> str | None:
    """The split regex of a byte-level pre-tokenizer, or None if it is not one tiktoken runs the same."""
    if not pre:
        return None
    if pre.get("type") == "ByteLevel":
        if pre.get("add_prefix_space") or not pre.get("use_regex", True):
            return None
        return GPT2_PATTERN
    if pre.get("type") == "Sequence":
        steps = pre.get("pretokenizers") or []
        if len(steps) == 2 and steps[0].get("type") == "Split" and steps[1].get("type") == "ByteLevel":
            split, byte_level = steps
            regex = (split.get("pattern") or {}).get("Regex")
            if (regex and split.get("behavior") == "Isolated" and not split.get("invert")
                    and not byte_level.get("add_prefix_space") and not byte_level.get("use_regex", True)):
                return regex
    return None


def to_tiktoken(tok, spec: dict):
    """A tiktoken Encoding whose ranks are `tok`'s ids (raises ValueError with the reason if impossible)."""
    import tiktoken

    why = tiktoken_refusal(spec)
    if why:
        raise ValueError(why)
    to_byte = {c: b for b, c in bytes_to_unicode().items()}
    specials = {t["content"] for t in spec.get("added_tokens", [])}
    ranks: dict[bytes, int] = {}
    for token, idx in tok.get_vocab(with_added_tokens=False).items():
        if token in specials:
            continue
        try:
            ranks[bytes(to_byte[c] for c in token)] = int(idx)
        except KeyError:
            raise ValueError(f"vocabulary entry {token!r} is not written in byte-level characters") from None
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        raise ValueError(f"{len(missing)} of the 256 single bytes are not in the vocabulary")
    # tiktoken merges the adjacent pair of lowest rank; HF merges the pair of earliest merge
    # rule. They agree when each merge's result has a higher id than the merges before it.
    merges = spec["model"].get("merges") or []
    last = -1
    for m in merges:
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        rid = ranks.get(bytes(to_byte[c] for c in a + b))
        if rid is None or rid < last:
            raise ValueError("merge order does not follow token ids, so ranks cannot mirror merges")
        last = rid
    return tiktoken.Encoding("gristmill-bpe", pat_str=pre_tokenizer_pattern(spec["pre_tokenizer"]),
                             mergeable_ranks=ranks, special_tokens={})


class Encoder:
    """Encodes documents with one tokenizer.json: tiktoken when exact, else `tokenizers`."""

    def __init__(self, path: str, eos_token: str | None = None, fast: bool = True):
        from tokenizers import Tokenizer

        self.path = path
        self.hf = Tokenizer.from_file(path)
        self.hf.encode_special_tokens = True  # document text is encoded literally
        self.eos_token, self.eos_id = find_eos(self.hf, eos_token)
        self.vocab_size = self.hf.get_vocab_size(with_added_tokens=True)
        self.fast = None
        self.fallback_reason = "fast path turned off" if not fast else None
        if fast:
            with open(path) as f:
                spec = json.load(f)
            try:
                enc = to_tiktoken(self.hf, spec)
                if list(enc.encode_ordinary(PROBE_TEXT)) != self.hf.encode(PROBE_TEXT, add_special_tokens=False).ids:
                    raise ValueError("tiktoken and tokenizers disagree on the probe text")
                self.fast = enc
            except ValueError as e:
                self.fallback_reason = str(e)
                log.warning("tiktoken fast path refused for %s: %s; encoding with `tokenizers`", path, e)

    @property
    def backend(self) -> str:
        return "tiktoken" if self.fast is not None else "tokenizers"

    def encode_batch(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All documents' ids concatenated (uint32) and each document's token count (int64)."""
        if self.fast is not None:
            parts = [self.fast.encode_to_numpy(t) for t in texts]
        else:
            parts = [np.asarray(e.ids, dtype=np.uint32)
                     for e in self.hf.encode_batch(texts, add_special_tokens=False)]
        lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
        flat = np.concatenate(parts) if parts else np.zeros(0, np.uint32)
        return flat.astype(np.uint32, copy=False), lengths

    def encode(self, text: str) -> list[int]:
        return self.encode_batch([text])[0].tolist()

    def decode(self, ids) -> str:
        return self.hf.decode([int(i) for i in ids], skip_special_tokens=False)
