"""`dedupe_fuzzy`: MinHash-LSH near-duplicate removal, corpus-wide on Dask.

fit() runs five phases, each a map over shards or a Dask DataFrame shuffle, spilling to
Parquet / .npy under the step's state folder, so memory per worker does not grow with
the corpus. The shuffles are why this stage touches Dask: their graphs are built with
dask.dataframe and run through the fit context (`ctx.compute`, the step's cluster), never
on an implicit global client:

1. sign (map over shards): word `shingle_size`-grams of the normalised text (see
   shingles.py) -> `bands * rows` MinHash values per document -> one bucket key per band.
2. candidates (shuffle on bucket key): the documents of a bucket become star edges
   (smallest key -> each other member): linear in bucket size, enough for connectivity.
3. verify (shuffle on edge): a candidate pair survives if its similarity is >= `threshold`:
   by default the exact Jaccard of the two shingle sets (kept per shard as sorted 32-bit
   hashes in memory-mapped .npy files, as NeMo Curator's false-positive check does), or with
   verify="minhash" the fraction of equal MinHash values. LSH alone admits pairs well below
   the threshold and misses some above it (the S-curve in the README); this removes the former.
4. clusters: connected components of the surviving pairs (components.py).
5. decide (shuffle on cluster): one kept document per cluster by the `keep` rule
   ("longest" by default, "earliest", or "score_<name>": highest score); the others are
   dropped naming it (`duplicate_of`), reason `exact_duplicate` if their normalised text
   equals the kept one's, else `near_duplicate`; detail gives the cluster size and the
   similarity to the kept document.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.filters.dedupe import shingles
from gristmill.filters.dedupe.components import connected_components
from gristmill.filters.dedupe.state import DECISION_ROWS, DedupeStage, decision_rows, doc_info, \
    empty_decision_rows, group_decisions, partitions_for, reset, shuffle_config, worker_memory, \
    write_decisions_by_shard
from gristmill.pipeline.layout import PART
from gristmill.pipeline.params import param
from gristmill.pipeline.shards import write_parquet_atomic

BATCH_DOCS = 2048
EXACT_SALT = np.uint64(0xE4AC7)
_I64 = pd.Series(dtype="int64")


def _save_npy(arr: np.ndarray, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp.npy"
    np.save(tmp, arr)
    os.replace(tmp, path)


def sign_shard(task: tuple[int, str], state_dir: str, cfg: dict) -> int:
    """Phase 1 for one shard: docs/, bands/ and sets/ (verify="jaccard") or sigs/ ("minhash") files for it."""
    shard, path = task
    shingles.tune_allocator()
    keep = cfg["keep"]
    names = pq.read_schema(path).names
    table = pq.read_table(path, columns=["id", "text"] + [c for c in ("fetched_at", keep) if c in names])
    num_hashes = cfg["bands"] * cfg["rows"]
    sigs, has, h1s, sets, counts = [], [], [], [], []
    for lo in range(0, table.num_rows, BATCH_DOCS):
        text = table.column("text").slice(lo, BATCH_DOCS)
        w, offsets = shingles.word_hashes(text)
        (h1,) = shingles.exact_keys(w, offsets, n_keys=1)  # only labels the drop reason
        sh, doc = shingles.shingle_hashes(w, offsets, cfg["shingle_size"])
        sigs.append(shingles.minhash(sh, doc, len(text), num_hashes, cfg["seed"]))
        if cfg["verify"] == "jaccard":  # each document's set of shingles, 32-bit, sorted
            both = np.sort((doc.astype(np.uint64) << np.uint64(32)) | (sh >> np.uint64(32)), kind="stable")
            both = both[np.r_[True, both[1:] != both[:-1]]]  # (np.unique is slow on doc-major input)
            sets.append((both & np.uint64(0xFFFFFFFF)).astype(np.uint32))
            counts.append(np.bincount((both >> np.uint64(32)).astype(np.int64), minlength=len(text)))
        has.append(np.diff(offsets) > 0)
        h1s.append(h1)
    n = table.num_rows
    sig = np.concatenate(sigs) if sigs else np.zeros((0, num_hashes), np.uint32)
    has_sh = np.concatenate(has) if has else np.zeros(0, bool)
    h1 = np.concatenate(h1s) if h1s else np.zeros(0, np.uint64)
    if cfg["verify"] == "minhash":  # only the MinHash estimate reads signatures back (400 bytes a
        # document at 20 x 5: 4 GB at 10M documents that verify="jaccard" never read)
        _save_npy(sig, os.path.join(state_dir, "sigs", f"part-{shard:05d}.npy"))
    else:
        _save_npy(np.concatenate(sets) if sets else np.zeros(0, np.uint32),
                  os.path.join(state_dir, "sets", f"part-{shard:05d}.npy"))
        _save_npy(np.r_[0, np.cumsum(np.concatenate(counts))].astype(np.int64) if counts else np.zeros(1, np.int64),
                  os.path.join(state_dir, "sets", f"offsets-{shard:05d}.npy"))
    info = doc_info(table, shard, keep)
    info["h1"] = h1.view(np.int64)
    write_parquet_atomic(pa.table(info), os.path.join(state_dir, "docs", PART.format(shard)))
    keys = info["key"]
    bkeys = shingles.band_keys(sig[has_sh], cfg["bands"], cfg["rows"])
    bkey = [bkeys.ravel()]
    key = [np.repeat(keys[has_sh], cfg["bands"])]
    if cfg["exact"]:
        bkey.append(shingles.mix64(h1 ^ EXACT_SALT))
        key.append(keys)
    bands = pa.table({"bkey": np.concatenate(bkey).view(np.int64), "key": np.concatenate(key)})
    write_parquet_atomic(bands, os.path.join(state_dir, "bands", PART.format(shard)))
    return n


def star_edges(df: pd.DataFrame) -> pd.DataFrame:
    """Phase 2 for one bucket partition: (smallest member, member) for each bucket."""
    if df.empty:
        return pd.DataFrame({"a": _I64, "b": _I64})
    first = df.groupby("bkey", sort=False)["key"].transform("min")
    edges = pd.DataFrame({"a": first.to_numpy(), "b": df["key"].to_numpy()})
    return edges[edges["a"] != edges["b"]].drop_duplicates()


def _npy_data(path: str):
    """(open file, byte offset of the data, shape) of a .npy file, for positioned reads."""
    f = open(path, "rb")
    major, _ = np.lib.format.read_magic(f)
    read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, _, _ = read_header(f)
    return f, f.tell(), shape


class NpyFiles:
    """Per-shard .npy files opened for positioned reads (os.pread), not memory maps: mapped
    pages stay resident and made a worker's memory grow with the pairs it checked (measured:
    1.5 GiB at 1M documents). At most `max_open` stay open (least recently used closed first)
    so open files do not grow with the number of shards either."""

    def __init__(self, folder: str, name: str, max_open: int = 64):
        self.folder, self.name, self.max_open = folder, name, max_open
        self.open: OrderedDict[int, tuple] = OrderedDict()

    def get(self, shard: int) -> tuple:
        """(file descriptor, byte offset of the data, shape)."""
        entry = self.open.get(shard)
        if entry is None:
            if len(self.open) >= self.max_open:
                self.open.popitem(last=False)[1][0].close()
            f, start, shape = _npy_data(os.path.join(self.folder, self.name.format(shard)))
            entry = self.open[shard] = (f, start, shape)
        self.open.move_to_end(shard)
        return entry[0].fileno(), entry[1], entry[2]

    def close(self) -> None:
        for f, _, _ in self.open.values():
            f.close()
        self.open.clear()


class SignatureReader:
    """MinHash rows by document key, by positioned reads; buffers are freed pair by pair."""

    def __init__(self, state_dir: str):
        self.sigs = NpyFiles(os.path.join(state_dir, "sigs"), "part-{:05d}.npy")

    def rows(self, keys: np.ndarray) -> np.ndarray:
        out = None
        for i, key in enumerate(keys.tolist()):
            fd, start, shape = self.sigs.get(key >> 32)
            row = key & 0xFFFFFFFF
            if out is None:
                out = np.empty((len(keys), shape[1]), np.uint32)
            out[i] = np.frombuffer(os.pread(fd, 4 * shape[1], start + 4 * shape[1] * row), np.uint32)
        return out if out is not None else np.zeros((0, 0), np.uint32)


class ShingleSetReader:
    """Each document's sorted shingle set by key (verify="jaccard"), by positioned reads of
    its two offsets and then its hashes: nothing per shard is loaded whole (loading each
    shard's offsets made a reader's memory grow with the corpus, 8 bytes a document)."""

    def __init__(self, state_dir: str):
        folder = os.path.join(state_dir, "sets")
        self.sets, self.offsets = NpyFiles(folder, "part-{:05d}.npy"), NpyFiles(folder, "offsets-{:05d}.npy")

    def get(self, key: int) -> np.ndarray:
        shard, row = key >> 32, key & 0xFFFFFFFF
        fd, start, _ = self.sets.get(shard)
        off_fd, off_start, _ = self.offsets.get(shard)
        lo, hi = np.frombuffer(os.pread(off_fd, 16, off_start + 8 * row), np.int64).tolist()
        return np.frombuffer(os.pread(fd, 4 * (hi - lo), start + 4 * lo), np.uint32)


def similarity(state_dir: str, how: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pair: exact Jaccard of the shingle sets ("jaccard") or the fraction of equal
    MinHash values ("minhash", the signature's estimate of it)."""
    if len(a) == 0:
        return np.zeros(0, np.float32)
    if how == "minhash":
        reader = SignatureReader(state_dir)
        return (reader.rows(a) == reader.rows(b)).mean(axis=1).astype(np.float32)
    sets = ShingleSetReader(state_dir)
    out = np.empty(len(a), np.float32)
    for i, (ka, kb) in enumerate(zip(a.tolist(), b.tolist())):  # one numpy intersection per pair
        x, y = sets.get(ka), sets.get(kb)
        if len(x) > len(y):
            x, y = y, x
        if len(x) == 0:
            out[i] = 1.0 if len(y) == 0 else 0.0
            continue
        pos = np.minimum(np.searchsorted(y, x), len(y) - 1)
        inter = int(np.count_nonzero(y[pos] == x))
        out[i] = inter / (len(x) + len(y) - inter)
    return out


def verify(df: pd.DataFrame, state_dir: str, threshold: float, how: str) -> pd.DataFrame:
    """Phase 3 for one edge partition: dedupe edges, keep those with similarity >= threshold."""
    df = df.drop_duplicates()
    est = similarity(state_dir, how, df["a"].to_numpy(), df["b"].to_numpy())
    keep = est >= threshold  # exact-bucket pairs too: equal text scores 1.0, a hash collision does not
    return pd.DataFrame({"a": df["a"].to_numpy()[keep], "b": df["b"].to_numpy()[keep], "est": est[keep]})


def decide(df: pd.DataFrame, state_dir: str, keep: str, how: str) -> pd.DataFrame:
    """Phase 5 for one cluster partition: pick kept documents -> their decision rows."""
    dec = group_decisions(df, "label", keep, prefix="fuzzy:")
    if dec.empty:
        return decision_rows(dec)
    kept = dec[dec["key"] == dec["kept_key"]].set_index("label")["h1"]
    same_text = dec["h1"].to_numpy() == kept.loc[dec["label"]].to_numpy()
    dropped = dec["key"] != dec["kept_key"]
    est = similarity(state_dir, how, dec["key"].to_numpy(), dec["kept_key"].to_numpy())
    dec["duplicate_of"] = dec["kept_id"].where(dropped, None)
    dec["reason"] = pd.Series(np.where(same_text, "exact_duplicate", "near_duplicate"),
                              index=dec.index).where(dropped, None)
    detail = "cluster_size=" + dec["size"].astype(str) + f" {how}_to_kept=" + pd.Series(est, index=dec.index).round(3)\
        .astype(str)
    dec["detail"] = detail.where(dropped, None)
    return decision_rows(dec)


class FuzzyDedupe(DedupeStage):
    """MinHash-LSH near-duplicate removal, corpus-wide."""

    name = "dedupe_fuzzy"

    @dataclass(frozen=True)
    class Params:
        threshold: float = param(0.8, "Jaccard of word shingles at or above which two documents are duplicates",
                                 gt=0.0, le=1.0)
        shingle_size: int = param(5, "words per shingle", ge=1)
        bands: int = param(20, "LSH bands", ge=1)
        rows: int = param(5, "MinHash values per band", ge=1)
        seed: int = param(1, "seed of the MinHash permutations")
        keep: str = param("longest", "kept copy per cluster: longest, earliest (oldest fetched_at), "
                                     "or score_<name> (highest)")
        verify: str = param("jaccard", "check LSH candidates by exact shingle Jaccard or the MinHash estimate",
                            choices=("jaccard", "minhash"))
        exact: bool = param(False, "also join documents with equal normalised text even when they have no "
                                   "shingles (e.g. empty ones)")

    def config(self) -> dict:
        c = self.cfg
        return {"threshold": c.threshold, "shingle_size": c.shingle_size, "bands": c.bands, "rows": c.rows,
                "seed": c.seed, "keep": self.keep, "exact": c.exact, "verify": c.verify}

    def fit(self, ctx) -> dict:
        cfg = self.config()
        sd = ctx.state_dir
        reset(sd, "docs", "sigs", "sets", "bands", "edges", "decisions", "components", DECISION_ROWS)
        clock, phases, memory = time.perf_counter(), {}, {}
        worker_memory(ctx)  # start each worker's peak from here

        def lap(name):
            nonlocal clock
            now = time.perf_counter()
            phases[name] = round(now - clock, 2)
            memory[name] = worker_memory(ctx)  # peak/now per worker during this phase
            clock = now

        n_docs = sum(ctx.map(sign_shard, list(enumerate(ctx.inputs)), state_dir=sd, cfg=cfg))
        lap("sign")
        return self._reduce(ctx, cfg, n_docs, lap, phases, memory)

    def _reduce(self, ctx, cfg: dict, n_docs: int, lap, phases: dict, memory: dict) -> dict:
        import dask.dataframe as dd

        sd = ctx.state_dir
        # each phase picks its shuffle (in-memory tasks / disk-backed p2p) and partition count
        # from its own row count: the band rows are ~bands x documents, the edges far fewer
        band_rows = n_docs * (cfg["bands"] + cfg["exact"])
        with shuffle_config(band_rows):
            bands = dd.read_parquet(os.path.join(sd, "bands"))
            parts = partitions_for(band_rows)
            edge_meta = pd.DataFrame({"a": _I64, "b": _I64})
            cand = bands.shuffle("bkey", npartitions=parts).map_partitions(star_edges, meta=edge_meta)
            ver_meta = pd.DataFrame({"a": _I64, "b": _I64, "est": pd.Series(dtype="float32")})
            edges = cand.shuffle("a", npartitions=parts).map_partitions(
                verify, sd, cfg["threshold"], cfg["verify"], meta=ver_meta)
            ctx.compute(edges.to_parquet(os.path.join(sd, "edges"), write_index=False, compute=False))
        (n_edges,) = ctx.compute(dd.read_parquet(os.path.join(sd, "edges"), columns=["a"]).shape[0])
        n_edges = int(n_edges)
        lap("candidates_and_verify")
        if n_edges == 0:
            return {"documents": n_docs, "verified_pairs": 0, "clusters": 0, "documents_in_clusters": 0,
                    "phase_seconds": phases, "phase_worker_mib": memory}
        with shuffle_config(2 * n_edges):
            labels_dir, rounds = connected_components(ctx, os.path.join(sd, "edges"), os.path.join(sd, "components"),
                                                      npartitions=partitions_for(2 * n_edges))
        lap("components")
        with shuffle_config(n_docs + 2 * n_edges):  # the merge shuffles every document's row
            docs = dd.read_parquet(os.path.join(sd, "docs"))
            members = dd.read_parquet(labels_dir).merge(docs, left_on="v", right_on="key")
            rows = members.shuffle("label", npartitions=partitions_for(2 * n_edges)).map_partitions(
                decide, sd, cfg["keep"], cfg["verify"], meta=empty_decision_rows())
            res = write_decisions_by_shard(ctx, rows, sd)
        lap("decide")
        return {"documents": n_docs, "verified_pairs": n_edges, "cc_rounds": rounds, "phase_seconds": phases,
                "phase_worker_mib": memory, "clusters": res["kept"], "documents_in_clusters": res["rows"]}
