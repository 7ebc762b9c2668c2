"""A `tokenizers` Tokenizer from the tokenizer a GGUF file carries (byte-level BPE models).

A GGUF (llama.cpp's model file) stores the vocabulary, merges, token types and a name for the
pre-tokenizer (`tokenizer.ggml.pre`), not a tokenizer.json. This rebuilds one: BPE over the
listed tokens and merges, the pre-tokenizer llama.cpp uses for that name, control tokens as
special added tokens and user-defined ones as plain added tokens. Read with the `gguf` package
(memory-mapped; only the metadata is touched).
"""

from __future__ import annotations

import functools
import os

# llama.cpp's `tokenizer.ggml.pre` names -> the split regex it applies before byte-level BPE
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
               r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SPLITS = {"llama3": LLAMA3_SPLIT, "llama-bpe": LLAMA3_SPLIT, "llama-v3": LLAMA3_SPLIT, "dbrx": LLAMA3_SPLIT,
          "smaug-bpe": LLAMA3_SPLIT, "qwen2": QWEN2_SPLIT, "deepseek-r1-qwen": QWEN2_SPLIT}
# SmolLM (and StarCoder) split every digit off, then apply GPT-2's rule (llama.cpp: "\p{N}" first)
DIGIT_SPLITTERS = {"smollm", "starcoder", "refact"}
CONTROL, USER_DEFINED = 3, 4


def gguf_metadata(path: str) -> dict:
    """The `tokenizer.ggml.*` fields of a GGUF file, as Python values."""
    from gguf import GGUFReader

    reader = GGUFReader(path)
    return {k[len("tokenizer.ggml."):]: f.contents() for k, f in reader.fields.items()
            if k.startswith("tokenizer.ggml.")}


def tokenizer_from_gguf(path: str):
    """The GGUF's byte-level BPE as a `tokenizers.Tokenizer` (ValueError for other kinds)."""
    from tokenizers import Tokenizer

    st = os.stat(path)
    return Tokenizer.from_str(_tokenizer_json(os.path.abspath(path), st.st_size, st.st_mtime_ns))


@functools.lru_cache(maxsize=4)
def _tokenizer_json(path: str, size: int, mtime_ns: int) -> str:
    """The rebuilt tokenizer.json text, kept per file version (reading the GGUF takes seconds)."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
    )

    meta = gguf_metadata(path)
    if meta.get("model") != "gpt2":
        raise ValueError(f"{path}: tokenizer.ggml.model is {meta.get('model')!r}; only byte-level BPE ('gpt2') is read")
    tokens = list(meta["tokens"])
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = [tuple(m.split(" ", 1)) for m in meta.get("merges") or []]
    unk = meta.get("unknown_token_id")
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=tokens[unk] if unk is not None else None))
    pre = meta.get("pre", "default")
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=bool(meta.get("add_space_prefix")), use_regex=True)
    if pre in SPLITS:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(SPLITS[pre]), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    elif pre in DIGIT_SPLITTERS:
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    elif pre in ("default", "gpt-2", "gpt2"):
        tok.pre_tokenizer = byte_level
    else:
        raise ValueError(f"{path}: pre-tokenizer {pre!r} is not one this reader knows")
    tok.decoder = decoders.ByteLevel()
    types = list(meta.get("token_type") or [])
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True)
                            for t, k in zip(tokens, types) if k == CONTROL])
    tok.add_tokens([AddedToken(t, normalized=False, special=False) for t, k in zip(tokens, types) if k == USER_DEFINED])
    return tok.to_str()
