"""Text normalisation, word shingles and MinHash signatures, all vectorised (Arrow + numpy).

No Python object is made per document or per shingle: text is normalised with Arrow
compute, words are hashed once per distinct word of a batch (Arrow dictionary encoding,
then a numpy polynomial hash over the dictionary's bytes), n-gram shingles are combined
from shifted word-hash arrays, and MinHash takes the per-document minimum of K hash
permutations with `np.minimum.reduceat` over fixed-size shingle chunks.

Hashes are gristmill's own (not Python's `hash`, not a library's unstable hash), so the
same text gives the same signature on any machine and version: a name@N never changes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Unicode punctuation (\p{P}) becomes a space: "end.Start" -> "end start", "don't" -> "don t".
PUNCT_RE = r"\p{P}+"
_U64 = np.uint64
_MIX1, _MIX2, _GOLD = _U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB), _U64(0x9E3779B97F4A7C15)
_POLY = (_U64(0x100000001B3), _U64(0xC2B2AE3D27D4EB4F))  # odd multipliers for the byte polynomial
CHUNK_SHINGLES = 4096  # rows of the (shingles x hashes) block held at once


_ALLOC_TUNED = False


def tune_allocator(mmap_threshold: int = 64 << 20) -> None:
    """Serve numpy temporaries of up to 64 MiB from the heap instead of fresh mmaps.

    Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_ set, which freezes glibc's
    mmap threshold at 128 KiB: every large temporary is then a new mapping whose pages
    fault in again, and signing ran ~1.6x slower in a worker than in a plain process
    (measured). Once per process, best effort, Linux/glibc only."""
    global _ALLOC_TUNED
    if _ALLOC_TUNED:
        return
    _ALLOC_TUNED = True
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-3, mmap_threshold)  # -3: M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijective, well-avalanching scramble of uint64 values."""
    z = x + _GOLD
    z = (z ^ (z >> _U64(30))) * _MIX1
    z = (z ^ (z >> _U64(27))) * _MIX2
    return z ^ (z >> _U64(31))


def normalize(text: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Lower-cased text with every run of Unicode punctuation replaced by a space.
    (Whitespace runs are left alone: words are whitespace-separated tokens.)"""
    t = pc.replace_substring_regex(pc.utf8_lower(text.cast(pa.large_string())), PUNCT_RE, " ")
    if isinstance(t, pa.ChunkedArray):
        t = t.combine_chunks() if t.num_chunks != 1 else t.chunk(0)
    return t.fill_null("")


def _bytes_and_offsets(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    strings = strings.cast(pa.large_string()) if strings.type != pa.large_string() else strings
    _, off_buf, data_buf = strings.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64)[strings.offset: strings.offset + len(strings) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return data, offsets


def hash_strings(strings: pa.Array, which: int = 0, max_bytes: int = 1 << 24) -> np.ndarray:
    """A stable 64-bit hash per string: sum of (byte+1) * P^position (mod 2^64), then mix64.

    `which` picks one of two independent multipliers (two together give 128 bits).
    Work is done in slices of about `max_bytes` bytes to bound the temporaries.
    """
    data, offsets = _bytes_and_offsets(strings)
    n = len(offsets) - 1
    out = np.zeros(n, dtype=_U64)
    lengths = np.diff(offsets)
    if n == 0:
        return out
    poly = _POLY[which]
    i = 0
    while i < n:
        # strings [i, j) hold at most max_bytes bytes (at least one string)
        j = int(np.searchsorted(offsets, offsets[i] + max_bytes, side="right")) - 1
        j = min(max(j, i + 1), n)
        lo, hi = int(offsets[i]), int(offsets[j])
        seg_len = lengths[i:j]
        if hi > lo:
            b = data[lo:hi].astype(_U64) + _U64(1)
            starts = offsets[i:j] - lo
            pos = np.arange(hi - lo, dtype=np.int64) - np.repeat(starts, seg_len)
            powers = np.cumprod(np.full(int(seg_len.max()), poly, dtype=_U64))  # P^1..P^L, wraps mod 2^64
            contrib = b * powers[pos]
            nonempty = seg_len > 0
            sums = np.zeros(j - i, dtype=_U64)
            sums[nonempty] = np.add.reduceat(contrib, starts[nonempty])
        else:
            sums = np.zeros(j - i, dtype=_U64)
        out[i:j] = mix64(sums ^ (seg_len.astype(_U64) * _GOLD) ^ _U64(which))
        i = j
    return out


def word_hashes(text: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(hash of every word, word offsets per document) of `text` after `normalize`.

    Each distinct word of the batch is hashed once (dictionary encoding), then gathered.
    """
    # trailing whitespace is trimmed first: pyarrow's utf8_split_whitespace (26.0.1) reads the
    # byte after the last string of the array, and when that (uninitialised) byte is not valid
    # UTF-8 it keeps the last string's trailing space in its last word ("source " for "source"),
    # so one document's hashes depended on the worker's memory. Trimming removes only the empty
    # trailing word, which is dropped below anyway (same whitespace set: every code point checked)
    words = pc.utf8_split_whitespace(pc.utf8_rtrim_whitespace(normalize(text)))
    offsets = words.offsets.to_numpy().astype(np.int64)
    flat = words.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    offsets = offsets - offsets[0]
    if len(flat) == 0:
        return np.zeros(0, _U64), offsets
    enc = pc.dictionary_encode(flat)
    dict_hash = hash_strings(enc.dictionary)
    w = dict_hash[enc.indices.to_numpy(zero_copy_only=False)]
    _, str_off = _bytes_and_offsets(flat)
    nonempty = np.diff(str_off) > 0  # leading/trailing whitespace yields "" words
    if not nonempty.all():
        counts = np.diff(offsets)
        doc_of_word = np.repeat(np.arange(len(counts)), counts)
        kept = np.bincount(doc_of_word[nonempty], minlength=len(counts))
        offsets = np.r_[0, np.cumsum(kept)].astype(np.int64)
        w = w[nonempty]
    return w, offsets


def exact_keys(w: np.ndarray, offsets: np.ndarray, n_keys: int = 2) -> list[np.ndarray]:
    """`n_keys` (1 or 2) independent 64-bit hashes per document of its normalised word
    sequence: equal normalised text gives equal keys (whitespace and punctuation
    differences vanish)."""
    counts = np.diff(offsets)
    n_docs = len(counts)
    doc_of_word = np.repeat(np.arange(n_docs, dtype=np.int64), counts)
    pos = np.arange(len(w), dtype=np.int64) - offsets[doc_of_word]
    nonempty = counts > 0
    out = []
    for which, poly in enumerate(_POLY[:n_keys]):
        powers = np.cumprod(np.full(max(int(counts.max(initial=0)), 1), poly, dtype=_U64))
        sums = np.zeros(n_docs, dtype=_U64)
        if len(w):
            sums[nonempty] = np.add.reduceat(mix64(w ^ _U64(which)) * powers[pos], offsets[:-1][nonempty])
        out.append(mix64(sums ^ (counts.astype(_U64) * _GOLD)))
    return out


def shingle_hashes(w: np.ndarray, offsets: np.ndarray, n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of word n-gram shingles and the document index of each (sorted by document),
    from `word_hashes`. A document with fewer than `n` words (but at least one) is one
    shingle of all its words; an empty document has no shingles.
    """
    counts = np.diff(offsets)
    n_docs = len(counts)
    doc_of_word = np.repeat(np.arange(n_docs, dtype=np.int64), counts)
    mults = mix64(np.arange(1, n + 1, dtype=_U64)) | _U64(1)  # one odd multiplier per position
    parts_h, parts_doc = [], []
    if len(w) >= n:
        m = len(w) - n + 1
        acc = w[:m] * mults[0]
        for k in range(1, n):
            acc = acc + w[k:k + m] * mults[k]
        same_doc = doc_of_word[:m] == doc_of_word[n - 1:n - 1 + m]
        parts_h.append(mix64(acc[same_doc]))
        parts_doc.append(doc_of_word[:m][same_doc])
    short = np.flatnonzero((counts > 0) & (counts < n))
    if len(short):
        idx = np.concatenate([np.arange(offsets[d], offsets[d + 1]) for d in short]) if len(short) < 64 else \
            np.flatnonzero(np.isin(doc_of_word, short))
        pos = idx - offsets[doc_of_word[idx]]
        contrib = w[idx] * mults[pos]
        starts = np.flatnonzero(np.r_[True, doc_of_word[idx][1:] != doc_of_word[idx][:-1]])
        parts_h.append(mix64(np.add.reduceat(contrib, starts)))
        parts_doc.append(doc_of_word[idx][starts])
    if not parts_h:
        return np.zeros(0, _U64), np.zeros(0, np.int64)
    if len(parts_h) == 1:
        return parts_h[0], parts_doc[0]
    h, d = np.concatenate(parts_h), np.concatenate(parts_doc)
    order = np.argsort(d, kind="stable")
    return h[order], d[order]


def permutations(num_hashes: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Multiply-shift hash family parameters: h_i(x) = (a_i * x + b_i) >> 32, a_i odd."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, size=num_hashes, dtype=np.uint64) * _U64(2) + _U64(1)
    b = rng.integers(0, 2**63, size=num_hashes, dtype=np.uint64)
    return a, b


def minhash(shingles: np.ndarray, doc_index: np.ndarray, n_docs: int, num_hashes: int,
            seed: int = 1) -> np.ndarray:
    """(n_docs, num_hashes) uint32 MinHash signatures; documents without shingles get all
    0xFFFFFFFF (callers skip them). `doc_index` must be sorted.

    The block is laid out (hashes x shingles) so each reduceat runs over contiguous
    memory, and kept small enough to stay in cache; computed in place.
    """
    a, b = permutations(num_hashes, seed)
    a, b = a[:, None], b[:, None]
    sig = np.full((num_hashes, n_docs), _U64(0xFFFFFFFF), dtype=_U64)
    buf = np.empty((num_hashes, CHUNK_SHINGLES), dtype=_U64)
    shift = _U64(32)
    for lo in range(0, len(shingles), CHUNK_SHINGLES):
        x = shingles[lo: lo + CHUNK_SHINGLES]
        d = doc_index[lo: lo + CHUNK_SHINGLES]
        block = buf[:, : len(x)]
        np.multiply(a, x[None, :], out=block)
        np.add(block, b, out=block)
        np.right_shift(block, shift, out=block)
        starts = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
        mins = np.minimum.reduceat(block, starts, axis=1)
        docs = d[starts]
        sig[:, docs] = np.minimum(sig[:, docs], mins)  # a document may span two chunks
    return np.ascontiguousarray(sig.T.astype(np.uint32))


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n_docs, bands) uint64: one bucket key per band, salted with the band number so that
    equal values in different bands never share a bucket."""
    n = sig.shape[0]
    keys = np.empty((n, bands), dtype=_U64)
    for bnd in range(bands):
        h = np.full(n, mix64(np.array([bnd + 1], dtype=_U64))[0], dtype=_U64)
        for r in range(rows):
            h = mix64(h ^ sig[:, bnd * rows + r].astype(_U64))
        keys[:, bnd] = h
    return keys


def s_curve(similarity: float | np.ndarray, bands: int, rows: int):
    """Probability that two documents of Jaccard `similarity` share at least one band."""
    return 1.0 - (1.0 - np.asarray(similarity, dtype=float) ** rows) ** bands
