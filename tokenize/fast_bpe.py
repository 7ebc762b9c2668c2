"""The fast path: a byte-level BPE from a tokenizer.json, encoded by `tiktoken` with the same ids.

tiktoken runs a split regex and then merges adjacent byte strings by rank; HF `tokenizers` runs
its pre-tokenizer and then merges the listed pairs in merge order. `FastBPE` maps one onto the
other and covers what real byte-level tokenizers say beyond that:

- ranks follow the merge list (rank = 256 + merge index), and a table turns ranks back into the
  file's ids, so ids need not follow the merge order;
- bytes that are not in the vocabulary (a BPE trained with `tokenizers`' defaults only has the
  bytes its training text used) get ranks of their own that no merge reaches. A text that yields
  one is redone piece by piece exactly as `BPE.merge_word` does it: the byte is skipped when the
  model has no `unk_token` (so its neighbours can still merge), becomes `unk_token` (consecutive
  ones fused into one with `fuse_unk`), or its `<0xXX>` tokens with `byte_fallback`;
- pre-tokenizers: ByteLevel with GPT-2's regex (with or without `add_prefix_space`; `trim_offsets`
  only changes offsets), Split(regex, Isolated) + ByteLevel(no regex) (Llama-3, Qwen2),
  Digits + ByteLevel (SmolLM); normalizers NFC/NFD/NFKC/NFKD (Python's `unicodedata`);
  non-special added tokens found in the text are emitted whole, as `tokenizers` does.

What it does not cover raises `FastPathRefused` with the reason (the caller logs it, records it and
encodes with `tokenizers`).
"""

from __future__ import annotations

import itertools
import re
import unicodedata

import numpy as np

# GPT-2's split rule: what `ByteLevel(use_regex=True)` applies, in tiktoken's regex dialect.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# GPT-2's rule applied to the pieces `Digits` leaves: digits are pieces of their own, so no
# alternative takes a digit, and a digit ends a piece the way the end of the text does.
GPT2_AFTER_DIGITS = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?[^\s\p{L}\p{N}]+|\s+(?![^\s\p{N}])|\s+"""
NORMALIZER_FORMS = {"NFC", "NFD", "NFKC", "NFKD"}


class FastPathRefused(ValueError):
    """The tokenizer says something the fast path does not reproduce exactly; the message says what."""


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


BYTE_CHAR = bytes_to_unicode()
CHAR_BYTE = {c: b for b, c in BYTE_CHAR.items()}
TO_LATIN1 = {ord(c): b for c, b in CHAR_BYTE.items()}  # str.translate: byte-level spelling -> latin-1
# the same, with every other character below 256 sent past latin-1, so that encoding it fails
_STRICT = {**{c: 0x100 for c in range(256)}, **TO_LATIN1}


def spelled_bytes(token: str) -> bytes | None:
    """The bytes a byte-level vocabulary entry stands for (None if it is not written that way)."""
    try:
        return token.translate(_STRICT).encode("latin-1")
    except UnicodeEncodeError:
        return None


def normalizer_form(norm: dict | None) -> str | None:
    if norm is None:
        return None
    if norm.get("type") in NORMALIZER_FORMS:
        return norm["type"]
    if norm.get("type") == "Sequence" and len(norm.get("normalizers") or []) == 1:
        return normalizer_form(norm["normalizers"][0])
    raise FastPathRefused(f"its normalizer ({norm.get('type')}) is not one of {sorted(NORMALIZER_FORMS)}")


def split_rule(pre: dict | None) -> tuple[str, bool]:
    """(tiktoken split regex, add a prefix space) equal to the pre-tokenizer `pre`."""
    if not pre:
        raise FastPathRefused("it has no pre-tokenizer: the whole text would be one piece")
    kind = pre.get("type")
    if kind == "ByteLevel":
        if not pre.get("use_regex", True):
            raise FastPathRefused("its ByteLevel pre-tokenizer has no split regex: the whole text is one piece")
        return GPT2_PATTERN, bool(pre.get("add_prefix_space"))
    steps = pre.get("pretokenizers") or [] if kind == "Sequence" else []
    if len(steps) == 2 and steps[1].get("type") == "ByteLevel":
        first, byte_level = steps
        if byte_level.get("add_prefix_space"):
            raise FastPathRefused("ByteLevel(add_prefix_space) after a split prefixes every piece")
        if first.get("type") == "Split" and not byte_level.get("use_regex", True):
            regex = (first.get("pattern") or {}).get("Regex")
            if regex and first.get("behavior") == "Isolated" and not first.get("invert"):
                # text between two matches is a piece too: the second alternative takes such gaps
                return f"(?:{regex})|(?:(?!(?:{regex}))[\\s\\S])+", False
        if first.get("type") == "Digits" and byte_level.get("use_regex", True):
            digits = r"\p{N}" if first.get("individual_digits") else r"\p{N}+"
            return f"{digits}|{GPT2_AFTER_DIGITS}", False
    raise FastPathRefused(f"its pre-tokenizer ({str(pre)[:160]}) is not one of ByteLevel(regex), "
                          "Split(regex, Isolated)+ByteLevel, Digits+ByteLevel(regex)")


class FastBPE:
    """tiktoken with the ids, unknown-byte handling, normalizer and added tokens of `hf`'s spec."""

    def __init__(self, hf, spec: dict):
        import tiktoken

        model = spec.get("model") or {}
        if model.get("type") != "BPE":
            raise FastPathRefused(f"its model is {model.get('type')}, not BPE")
        if model.get("dropout") not in (None, 0, 0.0):
            raise FastPathRefused("BPE dropout is random; tiktoken is deterministic")
        if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
            raise FastPathRefused("it uses subword prefixes/suffixes, which tiktoken does not know")
        self.form = normalizer_form(spec.get("normalizer"))
        pattern, self.prefix_space = split_rule(spec.get("pre_tokenizer"))
        self.hf = hf
        self.counters = {"docs_with_unknown_bytes": 0, "docs_with_added_tokens": 0, "docs_split_by_tokenizers": 0}
        self._lane: set[str] = set()  # the lanes the document being encoded took

        vocab: dict[str, int] = model.get("vocab") or {}
        merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model.get("merges") or []]
        added = spec.get("added_tokens") or []
        self._added_tokens(added)
        present = {b for b in range(256) if BYTE_CHAR[b] in vocab}
        self.missing = bytes(b for b in range(256) if b not in present)

        # every byte string tiktoken may emit, bytes first, then each merge's result in merge order
        order: list[tuple[bytes, int]] = [(bytes([b]), int(vocab[BYTE_CHAR[b]])) for b in sorted(present)]
        seen: set[bytes] = {raw for raw, _ in order}
        last = None
        for a, b in merges:
            token = a + b
            raw = spelled_bytes(token)
            if raw is None or token not in vocab:
                raise FastPathRefused(f"merge {a!r} {b!r} is not a byte-level vocabulary entry")
            if self.missing and raw.translate(None, self.missing) != raw:
                continue  # built from a byte the vocabulary lacks: tokenizers never reaches it
            if raw in seen:
                # tiktoken ranks a byte string once. Files converted from tiktoken (Llama-3) list every
                # pair that makes a token, one after another: then one rank is the same order.
                if raw != last:
                    raise FastPathRefused(f"two merges make {token!r} with other merges between them")
                continue
            last = raw
            seen.add(raw)
            order.append((raw, int(vocab[token])))
        specials = {t["content"] for t in added}
        unmerged = [t for t in vocab if len(t) > 1 and t not in specials and spelled_bytes(t) not in seen]
        if unmerged and model.get("ignore_merges"):
            # tokenizers emits such an entry when a whole piece equals it; tiktoken would also merge into it
            raise FastPathRefused(f"{len(unmerged)} multi-byte entries no merge makes, with ignore_merges "
                                  f"(e.g. {unmerged[:3]})")
        # (without ignore_merges such entries are unreachable in tokenizers too, so they get no rank)
        # tiktoken merges the pair of lowest rank, tokenizers the earliest merge. When the results' ids
        # rise with the merge order (the usual case), the ids are the ranks; else rank = position and
        # a table maps ranks to ids. (Single bytes' ranks are never compared, only looked up.)
        merge_ids = [i for _, i in order[len(present):]]
        self.identity = all(x < y for x, y in itertools.pairwise(merge_ids))
        if self.identity:
            ranks = dict(order)
            self.rank_id = None
            self.n_real = max([*vocab.values(), *self.added_ids.values(), -1]) + 1
        else:
            ranks = {raw: k for k, (raw, _) in enumerate(order)}
            self.rank_id = np.asarray([i for _, i in order] + [0] * len(self.missing), dtype=np.uint32)
            self.n_real = len(order)
        for k, b in enumerate(self.missing):  # ranks no merge reaches: one per byte the vocabulary lacks
            ranks[bytes([b])] = self.n_real + k
        self.rank_len = np.zeros(max(ranks.values()) + 1, dtype=np.int64)
        for raw, r in ranks.items():
            self.rank_len[r] = len(raw)
        import regex  # the same split in Python, to find the pieces that hold unknown bytes

        self.split = regex.compile(pattern)
        self._byte_plan(model, vocab, merges)
        self.enc = tiktoken.Encoding("gristmill-bpe", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
        self.core = self.enc._core_bpe

    def _added_tokens(self, added: list[dict]) -> None:
        """Non-special added tokens are cut out of the text whole (with encode_special_tokens, special
        ones are plain text). Only the plain kind: no single_word/lstrip/rstrip."""
        plain = [t for t in added if not t.get("special")]
        odd = [t["content"] for t in plain if t.get("single_word") or t.get("lstrip") or t.get("rstrip")]
        if odd:
            raise FastPathRefused(f"added tokens with single_word/lstrip/rstrip ({odd[:3]})")
        if self.form and any(unicodedata.normalize(self.form, t["content"]) != t["content"] for t in plain):
            raise FastPathRefused("an added token changes under the normalizer")
        self.added_ids = {t["content"]: int(t["id"]) for t in plain}
        # longest first: at one position the longest token wins (tokenizers matches leftmost-longest)
        names = sorted(self.added_ids, key=len, reverse=True)
        self.added_re = re.compile("|".join(map(re.escape, names))) if names else None

    def _byte_plan(self, model: dict, vocab: dict, merges: list) -> None:
        """What `BPE.merge_word` does with each byte the vocabulary lacks: its <0xXX> tokens
        (byte_fallback), `unk_token`, or nothing (skipped)."""
        self.fallback: dict[int, list[int]] = {}
        unk = model.get("unk_token")
        self.unk_id = None
        if unk is not None and self.missing:
            if unk not in vocab:
                raise FastPathRefused(f"its unk_token {unk!r} is not in the vocabulary")
            self.unk_id = int(vocab[unk])
        self.fuse_unk = bool(model.get("fuse_unk"))
        if model.get("byte_fallback"):
            for b in self.missing:
                names = [f"<0x{x:02X}>" for x in BYTE_CHAR[b].encode("utf-8")]
                if all(n in vocab for n in names):
                    self.fallback[b] = [int(vocab[n]) for n in names]
        barriers = {n for b in self.fallback for n in (f"<0x{x:02X}>" for x in BYTE_CHAR[b].encode())}
        if self.unk_id is not None:
            barriers.add(unk)
        if barriers and any(a in barriers or b in barriers for a, b in merges):
            raise FastPathRefused("merges involve unk/<0xXX> tokens, which the fast path treats as barriers")
        # a whole text can be mapped token by token when every unknown byte becomes fixed ids that no
        # merge touches: its <0xXX> tokens, or unk without fusing
        self.per_token = all(b in self.fallback for b in self.missing) or (
            self.unk_id is not None and not self.fuse_unk and not self.fallback)
        self.expand = {self.n_real + i: (self.fallback.get(b) or [self.unk_id])
                       for i, b in enumerate(self.missing) if self.per_token}

    def _id_list(self, ranks: list[int]) -> list[int]:
        return ranks if self.rank_id is None else self.rank_id[np.asarray(ranks, dtype=np.uint32)].tolist()

    def _ids(self, ranks) -> np.ndarray:
        ranks = np.asarray(ranks, dtype=np.uint32)
        return ranks if self.rank_id is None else self.rank_id[ranks]

    # --- encoding -------------------------------------------------------------------------
    def encode(self, text: str) -> np.ndarray:
        """The ids `tokenizers` gives `text` (no special tokens added; text encoded literally)."""
        self._lane = set()
        if self.form and not unicodedata.is_normalized(self.form, text):
            text = unicodedata.normalize(self.form, text)
        if self.added_re is not None and self.added_re.search(text):
            self._lane.add("docs_with_added_tokens")
            parts, pos = [], 0
            for m in self.added_re.finditer(text):
                parts.append(self._segment(text[pos:m.start()]))
                parts.append(np.asarray([self.added_ids[m.group()]], dtype=np.uint32))
                pos = m.end()
            parts.append(self._segment(text[pos:]))
            ids = np.concatenate(parts)
        else:
            ids = self._segment(text)
        for lane in self._lane:  # documents, not segments, are counted
            self.counters[lane] += 1
        return ids

    def _segment(self, text: str) -> np.ndarray:
        if not text:
            return np.zeros(0, np.uint32)
        spaced = " " + text if self.prefix_space and not text.startswith(" ") else text
        ranks = np.asarray(self.core.encode_ordinary(spaced), dtype=np.uint32)
        if not self.missing or ranks.size == 0 or int(ranks.max()) < self.n_real:
            return ranks if self.rank_id is None else self.rank_id[ranks]
        self._lane.add("docs_with_unknown_bytes")
        if self.per_token:
            out: list[int] = []
            for r in ranks.tolist():
                out.extend(self.expand[r] if r >= self.n_real else (r if self.rank_id is None else int(self.rank_id[r]),))
            return np.asarray(out, dtype=np.uint32)
        spliced = self._splice(spaced, ranks)
        if spliced is None:
            self._lane.add("docs_split_by_tokenizers")
            return self._by_hf_pieces(text)
        return spliced

    def _splice(self, text: str, ranks: np.ndarray) -> np.ndarray | None:
        """tiktoken's tokens, with each piece that holds an unknown byte redone as `merge_word` does.
        Pieces come from the same split regex, run by Python's `regex` (tests check that it splits
        as `tokenizers` does). As a guard, every piece must start on one of tiktoken's token
        boundaries, and each redone piece and its neighbours must encode alone to the tokens
        tiktoken gave them; else None (the caller then uses `tokenizers`' own pre-tokenizer)."""
        raw = text.encode("utf-8")
        lengths = self.rank_len[ranks]
        starts = np.cumsum(lengths) - lengths
        unknown = starts[ranks >= self.n_real]
        pieces = np.fromiter(map(len, map(str.encode, self.split.findall(text))), dtype=np.int64)  # bytes
        bounds = np.concatenate([[0], np.cumsum(pieces)])
        if not pieces.size or bounds[-1] != len(raw):
            return None
        starts_end = np.append(starts, len(raw))
        index = np.searchsorted(starts_end, bounds)  # the token each piece starts with
        if (starts_end[np.minimum(index, len(starts))] != bounds).any():
            return None
        hit = np.unique(np.searchsorted(bounds, unknown, side="right") - 1)
        near = np.unique(np.clip(np.concatenate([hit - 1, hit, hit + 1]), 0, len(pieces) - 1))
        for a, b, i, j in zip(bounds[near].tolist(), bounds[near + 1].tolist(),
                              index[near].tolist(), index[near + 1].tolist()):
            if self.core.encode_single_piece(raw[a:b]) != ranks[i:j].tolist():
                return None
        ids = self._ids(ranks).tolist()
        out: list[int] = []
        done = 0
        for a, b, i, j in zip(bounds[hit].tolist(), bounds[hit + 1].tolist(),
                              index[hit].tolist(), index[hit + 1].tolist()):
            out += ids[done:i]
            out += self._piece_ids(raw[a:b])
            done = j
        out += ids[done:]
        return np.asarray(out, dtype=np.uint32)

    def _by_hf_pieces(self, text: str) -> np.ndarray:
        """`text` split by `tokenizers`' own pre-tokenizer, each piece merged as `merge_word` does."""
        out: list[int] = []
        for piece, _ in self.hf.pre_tokenizer.pre_tokenize_str(text):
            out.extend(self._piece_ids(piece.translate(TO_LATIN1).encode("latin-1")))
        return np.asarray(out, dtype=np.uint32)

    def _piece_ids(self, raw: bytes) -> list[int]:
        """One piece's ids as `BPE.merge_word` makes them, unknown bytes included."""
        missing, fallback, unk, fuse = self.missing, self.fallback, self.unk_id, self.fuse_unk
        if not fallback and unk is None:  # unknown bytes are skipped: the rest is one run
            raw = raw.translate(None, missing)
            return self._id_list(self.core.encode_single_piece(raw)) if raw else []
        if len(raw.translate(None, missing)) == len(raw):
            return self._id_list(self.core.encode_single_piece(raw))
        # symbols: runs of known bytes (merged among themselves) and fixed ids between them
        symbols: list = []
        run = bytearray()
        pending = None  # an unk waiting for the next known byte (tokenizers adds it only then)
        for byte in raw:
            if byte not in missing:
                if pending is not None:
                    symbols.append(pending)
                    pending = None
                run.append(byte)
                continue
            if run and (byte in fallback or unk is not None):
                symbols.append(bytes(run))
                run = bytearray()
            if byte in fallback:
                symbols += fallback[byte]
            elif unk is not None:
                if pending is not None and not fuse:
                    symbols.append(pending)
                pending = unk
            # else: skipped, and the bytes around it stay one run
        if run:
            symbols.append(bytes(run))
        if pending is not None:
            symbols.append(pending)
        out: list[int] = []
        for sym in symbols:
            if isinstance(sym, bytes):
                out.extend(self._id_list(self.core.encode_single_piece(sym)))
            else:
                out.append(sym)
        return out
