"""Tokenizer training, loading, and the tiktoken fast path (identity with `tokenizers`)."""

from __future__ import annotations

import glob
import gzip
import json
import os

import numpy as np
import pytest

from gristmill.tokenize.tokenizer import Encoder, tokenizer_hash, train_bpe
from tests.support.paths import SAMPLE, SHARED_DATA
from tests.support.tokenizer_texts import tokenizer_variant

DATA = os.path.join(SHARED_DATA, "text")


def sample_docs(limit_per_file: int = 12) -> list[str]:
    docs = []
    for path in sorted(glob.glob(os.path.join(SAMPLE, "*.jsonl.gz"))):
        with gzip.open(path, "rt") as f:
            for i, line in enumerate(f):
                if i >= limit_per_file:
                    break
                docs.append(json.loads(line)["text"][:20_000])
    return docs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("tok") / "tokenizer.json")
    train_bpe(sample_docs(), 1024).save(path)
    return path


def real_documents() -> list[str]:
    """Non-English (8 Genesis translations) and code (HumanEval), plus edge cases."""
    genesis = sorted(glob.glob(os.path.join(DATA, "nltk_genesis", "genesis", "*.txt")))
    code = os.path.join(DATA, "humaneval_code", "HumanEval.jsonl.gz")
    if not genesis or not os.path.exists(code):
        pytest.skip("../shared/data/text (nltk_genesis, humaneval_code) is not here")
    docs = []
    for path in genesis:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", errors="replace")[:60_000]
        docs += [text[i:i + 5000] for i in range(0, len(text), 5000)]
    with gzip.open(code, "rt") as f:
        for line in f:
            rec = json.loads(line)
            docs += [rec["prompt"] + rec["canonical_solution"], rec["test"]]
    docs += ["", " ", "\n\n\t  \r\n", "a <|endoftext|> b", "\U0001f600\U0001f680 emoji", "\u00a0x\u3000y",
             "caf\u00e9 vs cafe\u0301", "   leading and trailing   "]
    return docs


def test_fast_path_gives_the_same_ids_as_tokenizers(trained):
    enc = Encoder(trained)
    assert enc.backend == "tiktoken", enc.fallback_reason
    docs = real_documents()
    flat, lengths = enc.encode_batch(docs)
    expected = [e.ids for e in enc.hf.encode_batch(docs, add_special_tokens=False)]
    assert lengths.tolist() == [len(e) for e in expected]
    assert flat.tolist() == [i for ids in expected for i in ids]
    assert sum(lengths) > 50_000  # really exercised
    # text is encoded literally: a literal "<|endoftext|>" never becomes the EOS id
    assert enc.eos_id not in enc.encode("a <|endoftext|> b")
    assert enc.decode(enc.encode(docs[0])) == docs[0]


def test_training_is_deterministic_and_sized(tmp_path, trained):
    again = str(tmp_path / "again.json")
    train_bpe(sample_docs(), 1024).save(again)
    assert tokenizer_hash(again) == tokenizer_hash(trained)
    enc = Encoder(again)
    assert enc.vocab_size == 1024 and enc.eos_id == 0
    with pytest.raises(ValueError, match="at least 258"):
        train_bpe(["abc"], 100)


@pytest.mark.parametrize("change, reason", [
    (lambda s: s.__setitem__("normalizer", {"type": "Lowercase"}), "normalizer"),
    (lambda s: s["pre_tokenizer"].__setitem__("use_regex", False), "one piece"),
    (lambda s: s["added_tokens"].append({"id": 1024, "content": "hello", "single_word": True, "lstrip": False,
                                          "rstrip": False, "normalized": False, "special": False}),
     "single_word"),
])
def test_fast_path_refused_with_reason_and_falls_back(trained, tmp_path, change, reason):
    path = tokenizer_variant(trained, tmp_path, change)
    enc = Encoder(path)
    assert enc.backend == "tokenizers" and reason in enc.fallback_reason
    docs = ["Hello hello world, caf\u00e9!", "def f(x):\n    return x"]
    flat, lengths = enc.encode_batch(docs)
    want = [e.ids for e in enc.hf.encode_batch(docs, add_special_tokens=False)]
    assert flat.tolist() == [i for ids in want for i in ids]


def test_external_tokenizer_json_with_other_eos(tmp_path):
    """Any tokenizer.json works; its EOS is found by name (here `</s>`)."""
    path = str(tmp_path / "t.json")
    train_bpe(sample_docs(5), 400, eos_token="</s>").save(path)
    enc = Encoder(path)
    assert enc.eos_token == "</s>"
    with pytest.raises(ValueError, match="no end-of-document token"):
        Encoder(path, eos_token="<nope>")
    flat, _ = enc.encode_batch(["x y z"])
    assert flat.dtype == np.uint32


def test_stage_rejects_bad_tokenizer_params(tmp_path, trained):
    from gristmill.tokenize.stages import TokenizeDocuments

    with pytest.raises(ValueError, match="exactly one"):
        TokenizeDocuments()
    with pytest.raises(ValueError, match="not found"):
        TokenizeDocuments(tokenizer=str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="end-of-document"):
        TokenizeDocuments(tokenizer=trained, eos_token="<none>")
