"""Shingling, hashing and MinHash of the dedupe stages (no cluster needed)."""

import os

import numpy as np
import pyarrow as pa
import pytest
import regex

from gristmill.filters.dedupe import shingles as sh
from tests.support.paths import SHARED_DATA

DATA = SHARED_DATA
BOOK = os.path.join(DATA, "text", "gutenberg", "pg84_frankenstein.txt")


def ref_shingles(text, n=5):
    """The benchmark's definition, written independently: word n-grams after lower-casing
    and turning punctuation into spaces; fewer than n words -> one shingle."""
    w = regex.sub(r"\p{P}+", " ", text.lower()).split()
    return {tuple(w)} if 0 < len(w) < n else {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def shingle_sets(texts, n=5):
    w, off = sh.word_hashes(pa.array(texts))
    h, d = sh.shingle_hashes(w, off, n)
    return [set(h[d == i].tolist()) for i in range(len(texts))]


def test_normalisation_makes_exact_keys_equal():
    texts = ["Hello, World! It's  here.", "hello world it s here", " HELLO\tworld:it's\nhere ", "hello world its here",
             "", "   "]
    w, off = sh.word_hashes(pa.array(texts))
    k1, k2 = sh.exact_keys(w, off)
    assert k1[0] == k1[1] == k1[2] and k2[0] == k2[1] == k2[2]
    assert k1[3] != k1[0]  # "its" is not "it s"
    assert k1[4] == k1[5]  # empty and blank are both the empty word sequence


def test_hashes_do_not_depend_on_the_batch():
    a = "The quick brown fox jumps over the lazy dog near the river bank today."
    batch = ["unrelated words " * 20, a, "more text here"]
    w1, o1 = sh.word_hashes(pa.array([a]))
    w2, o2 = sh.word_hashes(pa.array(batch))
    assert np.array_equal(w1, w2[o2[1]:o2[2]])
    s1 = sh.minhash(*sh.shingle_hashes(w1, o1), 1, 64)
    s2 = sh.minhash(*sh.shingle_hashes(w2, o2), 3, 64)
    assert np.array_equal(s1[0], s2[1])


def _followed_by(strings: list[str], tail: bytes) -> pa.Array:
    """A large_string array whose data buffer goes on with `tail` after its last string, as a
    freshly computed Arrow array's buffer goes on with whatever its allocation held."""
    data = b"".join(s.encode() for s in strings)
    offsets = np.cumsum([0] + [len(s.encode()) for s in strings]).astype(np.int64)
    return pa.Array.from_buffers(pa.large_string(), len(strings),
                                 [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data + tail)])


@pytest.mark.parametrize("tail", [b"", b"\x80", b"\xff\xfe", b"\xc2", b"x"])
def test_word_hashes_do_not_depend_on_the_bytes_after_the_last_document(monkeypatch, tail):
    # the last document's normalised text ends in a space ("source." -> "source "); what lies
    # past the array's last byte (uninitialised memory in a worker) must not change its words
    texts = ["a first document.", "see original source."]
    normalised = [sh.normalize(pa.array([t])).to_pylist()[0] for t in texts]
    assert normalised[-1].endswith(" ")
    clean_w, clean_off = sh.word_hashes(pa.array(["a first document", "see original source"]))
    monkeypatch.setattr(sh, "normalize", lambda text: _followed_by(normalised, tail))
    w, off = sh.word_hashes(pa.array(texts))
    assert np.array_equal(off, clean_off) and np.array_equal(w, clean_w)
    assert np.array_equal(sh.exact_keys(w, off)[0], sh.exact_keys(clean_w, clean_off)[0])


def test_short_and_empty_documents():
    sets = shingle_sets(["two words", "", "one two three four five six"])
    assert len(sets[0]) == 1 and len(sets[1]) == 0 and len(sets[2]) == 2


@pytest.mark.skipif(not os.path.exists(BOOK), reason="../shared/data (Gutenberg text) not present")
def test_shingles_and_minhash_track_the_reference_jaccard_on_real_text():
    words = open(BOOK, encoding="utf-8").read().split()
    base = " ".join(words[2000:2600])
    variants = [" ".join(words[2000:2000 + k]) for k in (600, 540, 450, 300)] + [" ".join(words[9000:9600])]
    ref = [len(ref_shingles(base) & ref_shingles(v)) / len(ref_shingles(base) | ref_shingles(v)) for v in variants]
    sets = shingle_sets([base] + variants)
    ours = [len(sets[0] & s) / len(sets[0] | s) for s in sets[1:]]
    assert np.allclose(ours, ref, atol=1e-3)  # same shingles as the benchmark's definition
    w, off = sh.word_hashes(pa.array([base] + variants))
    sig = sh.minhash(*sh.shingle_hashes(w, off), len(variants) + 1, 256)
    est = [(sig[0] == sig[i + 1]).mean() for i in range(len(variants))]
    assert np.allclose(est, ref, atol=0.08)
    assert est[0] == 1.0 and est[-1] < 0.05


def test_band_keys_and_s_curve():
    sig = np.array([[1, 2, 3, 4], [1, 2, 9, 9], [1, 2, 3, 4]], dtype=np.uint32)
    keys = sh.band_keys(sig, bands=2, rows=2)
    assert keys[0, 0] == keys[1, 0] and keys[0, 1] != keys[1, 1] and (keys[0] == keys[2]).all()
    assert keys[0, 0] != keys[0, 1] or sig[0, 0:2].tolist() != sig[0, 2:4].tolist()
    p = sh.s_curve(np.array([0.3, 0.5, 0.8, 0.9]), bands=20, rows=5)
    assert np.all(np.diff(p) > 0) and p[2] > 0.999 and p[0] < 0.06
