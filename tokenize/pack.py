"""Tokenized documents -> shuffled, mixture-weighted token shards + index + manifest.

A reduce in three phases, each a fan-out over the cluster through `mapper` (FitContext.map):

1. count: every tokenized part returns its documents' domains and token counts (no tokens);
   the driver splits off validation documents, checks the mixture (failing before anything is
   written) and plans every copy's output shard and position from these counts alone.
2. scatter: every part sends its selected documents' tokens to per-shard bucket files.
3. gather: every output shard reads its buckets, puts copies in planned order, writes the flat
   `.bin` (EOS after each document) and its index.

No process ever holds more than one part or one output shard of tokens.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from gristmill.pipeline.shards import write_json_atomic
from gristmill.tokenize import shard_format as sf
from gristmill.mixing.mixture import (MixtureSpec, assign_shards, sample_copies, split_validation,
                                     targets)

META_COLUMNS = ("id", "source", "topic", "license", "url", "origin_file")
# synthetic rows' lineage (rephrase@1); they reach the index only of shards that hold such rows
LINEAGE_COLUMNS = tuple(n for n, _ in sf.LINEAGE_FIELDS)


def _column(table: pa.Table, name: str) -> pa.Array:
    if name in table.column_names:
        return table.column(name).combine_chunks().cast(pa.string())
    return pa.nulls(table.num_rows, pa.string())


def count_part(path: str, by: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Phase 1 for one tokenized part: its domain names, each document's domain (a code into
    those names) and its tokens including EOS. No text, no tokens: ~12 bytes per document."""
    names = pq.read_schema(path).names
    if "n_tokens" not in names:  # a shard that had no documents is written without stage columns
        return [], np.zeros(0, np.int32), np.zeros(0, np.int64)
    table = pq.read_table(path, columns=[c for c in (by, "n_tokens") if c in names])
    encoded = pc.dictionary_encode(pc.fill_null(_column(table, by), "unknown"))
    return (encoded.dictionary.to_pylist(), encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32),
            table.column("n_tokens").to_numpy().astype(np.int64) + 1)


def scatter_part(path: str, rows: np.ndarray, split: np.ndarray, shard: np.ndarray, order: np.ndarray,
                 epoch: np.ndarray, bucket_root: str, part: int) -> int:
    """Phase 2: write the selected copies of one part into bucket files, one per output shard."""
    names = pq.read_schema(path).names
    table = pq.read_table(path, columns=[c for c in (*META_COLUMNS, *LINEAGE_COLUMNS, "tokens") if c in names])
    picked = table.take(pa.array(rows))
    cols = {"order": pa.array(order, pa.int64()), "epoch": pa.array(epoch, pa.int32())}
    for c in (*META_COLUMNS, *LINEAGE_COLUMNS):
        cols["doc_id" if c == "id" else c] = _column(picked, c)
    cols["tokens"] = picked.column("tokens").combine_chunks()
    bucket = pa.table(cols)
    keys = np.char.add(split.astype(str), np.char.mod("-%05d", shard))
    for key in np.unique(keys):
        folder = os.path.join(bucket_root, str(key))
        os.makedirs(folder, exist_ok=True)
        sel = bucket.filter(pa.array(keys == key))
        tmp = os.path.join(folder, f".tmp-{part:05d}.arrow")
        with pa.OSFile(tmp, "wb") as sink, ipc.new_file(sink, sel.schema) as w:
            w.write_table(sel)
        os.replace(tmp, os.path.join(folder, f"from-{part:05d}.arrow"))
    return len(rows)


def join_with_eos(values: np.ndarray, lengths: np.ndarray, eos_id: int, dtype: str) -> np.ndarray:
    """The documents' tokens (`values`, `lengths` per document) each followed by one EOS.
    np.insert needs one index per document and a byte-wide mask per token; scattering each
    token to its position needed three int64 arrays per token (24 bytes: a worker peaked at
    2.4 GiB gathering a 50M-token shard, README Scale)."""
    return np.insert(values.astype(np.dtype(dtype), copy=False), np.cumsum(lengths), np.dtype(dtype).type(eos_id))


def gather_shard(bucket_dir: str, out_dir: str, split: str, shard: int, dtype: str, eos_id: int) -> dict:
    """Phase 3: one output shard from its buckets; returns its token tallies."""
    tables = []
    for name in sorted(os.listdir(bucket_dir)):
        with pa.memory_map(os.path.join(bucket_dir, name)) as src:
            tables.append(ipc.open_file(src).read_all())
    table = pa.concat_tables(tables)
    table = table.take(pc.sort_indices(table.column("order")))
    tokens = table.column("tokens").combine_chunks()
    values = tokens.flatten().to_numpy(zero_copy_only=False)
    lengths = pc.list_value_length(tokens).to_numpy(zero_copy_only=False).astype(np.int64)
    n = len(lengths)
    out = join_with_eos(values, lengths, eos_id, dtype)
    offsets = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64) if n else np.zeros(0, np.int64)
    os.makedirs(os.path.join(out_dir, sf.TOKENS_DIR), exist_ok=True)
    sf.write_tokens(out, sf.bin_path(out_dir, split, shard))
    index = table.drop_columns(["tokens", "order"]).append_column("offset", pa.array(offsets)) \
        .append_column("length", pa.array(lengths))
    sf.write_index(index, sf.index_path(out_dir, split, shard))
    tally = {}
    for col in ("source", "topic", "license"):
        sums = pa.table({"k": pc.fill_null(table.column(col), "unknown"), "n": pa.array(lengths + 1)}) \
            .group_by("k").aggregate([("n", "sum")])
        tally[col] = dict(zip(sums.column("k").to_pylist(), sums.column("n_sum").to_pylist()))
    return {"split": split, "shard": shard, "tokens": int(len(out)), "documents": n, "by": tally}


def pack(parts: list[str], out_dir: str, mapper, tokenizer_path: str, spec: MixtureSpec | None = None,
         val_fraction: float = 0.02, shard_tokens: int = 50_000_000, eos_id: int | None = None,
         vocab_size: int | None = None, encoder_backend: str | None = None, val_seed: int = 0) -> dict:
    """Write token shards, index and manifest.json for the tokenized `parts` into `out_dir`.

    The held-out set depends on `val_seed` only, not on the mixture's seed, so mixtures drawn
    with different seeds are evaluated on the same documents."""
    from gristmill.tokenize.tokenizer import Encoder

    t0 = time.time()
    spec = spec or MixtureSpec()
    if eos_id is None or vocab_size is None:
        enc = Encoder(tokenizer_path, fast=False)
        eos_id, vocab_size = enc.eos_id, enc.vocab_size
    dtype = sf.token_dtype(vocab_size)

    counted = mapper(count_part, parts, by=spec.by)
    part_of = np.concatenate([np.full(len(t), i, np.int64) for i, (_, _, t) in enumerate(counted)] or [np.zeros(0, np.int64)])
    row_of = np.concatenate([np.arange(len(t), dtype=np.int64) for _, _, t in counted] or [np.zeros(0, np.int64)])
    names = sorted({n for ns, _, _ in counted for n in ns})
    code_of = {n: i for i, n in enumerate(names)}
    domain = np.concatenate([np.array([code_of[n] for n in ns], np.int32)[c] if len(c) else c
                             for ns, c, _ in counted] or [np.zeros(0, np.int32)])  # code per document
    tokens = np.concatenate([t for _, _, t in counted] or [np.zeros(0, np.int64)])
    held = split_validation(domain, tokens, val_fraction, val_seed)
    train = ~held
    per_domain = np.bincount(domain[train], weights=tokens[train], minlength=len(names)).astype(np.int64)
    available = {n: int(per_domain[i]) for i, n in enumerate(names)}
    tgt = targets(spec, available)  # raises InfeasibleMixture: nothing written yet

    train_docs, train_epoch = sample_copies(domain, tokens, train, spec, {code_of[n]: t for n, t in tgt.tokens.items()})
    val_docs = np.flatnonzero(held)
    plan = []
    for split, docs, epoch in (("train", train_docs, train_epoch), ("val", val_docs, np.zeros(len(val_docs), np.int32))):
        shard, _ = assign_shards(tokens[docs], shard_tokens)
        plan.append((np.full(len(docs), split), docs, shard, np.arange(len(docs), dtype=np.int64), epoch))
    split_all, docs_all, shard_all, order_all, epoch_all = (np.concatenate(x) for x in zip(*plan))

    if os.path.exists(os.path.join(out_dir, sf.MANIFEST)):  # a folder with a manifest is complete
        os.unlink(os.path.join(out_dir, sf.MANIFEST))
    if os.path.isdir(os.path.join(out_dir, sf.TOKENS_DIR)):
        shutil.rmtree(os.path.join(out_dir, sf.TOKENS_DIR))
    bucket_root = os.path.join(out_dir, "_buckets")
    shutil.rmtree(bucket_root, ignore_errors=True)
    by_part = np.argsort(part_of[docs_all], kind="stable")
    bounds = np.searchsorted(part_of[docs_all][by_part], np.arange(len(parts) + 1))
    jobs = []
    for p in range(len(parts)):
        sel = by_part[bounds[p]:bounds[p + 1]]
        if len(sel):
            jobs.append((p, sel))
    _scatter_all(mapper, parts, jobs, row_of, docs_all, split_all, shard_all, order_all, epoch_all, bucket_root)
    shards = sorted({(s, int(k)) for s, k in zip(split_all.tolist(), shard_all.tolist())})
    results = mapper(_gather_job, shards, bucket_root=bucket_root, out_dir=out_dir, dtype=dtype.name, eos_id=eos_id)
    shutil.rmtree(bucket_root, ignore_errors=True)

    if os.path.abspath(tokenizer_path) != os.path.abspath(os.path.join(out_dir, sf.TOKENIZER)):
        shutil.copyfile(tokenizer_path, os.path.join(out_dir, sf.TOKENIZER))
    manifest = _manifest(results, spec, tgt, tokenizer_path, dtype, eos_id, vocab_size, val_fraction,
                         shard_tokens, encoder_backend, dict(zip(names, np.bincount(domain[train_docs], minlength=len(names)).tolist())), tokens,
                         len(parts), time.time() - t0)
    write_json_atomic(manifest, os.path.join(out_dir, sf.MANIFEST))
    return manifest


def _scatter_all(mapper, parts, jobs, row_of, docs, split, shard, order, epoch, bucket_root):
    # each job gets only its own slice of the plan
    sliced = [(p, row_of[docs[sel]], split[sel], shard[sel], order[sel], epoch[sel]) for p, sel in jobs]
    mapper(_scatter_slice, sliced, parts=parts, bucket_root=bucket_root)


def _scatter_slice(item, parts, bucket_root):
    p, rows, split, shard, order, epoch = item
    return scatter_part(parts[p], rows, split, shard, order, epoch, bucket_root, p)


def _gather_job(key, bucket_root, out_dir, dtype, eos_id):
    split, shard = key
    return gather_shard(os.path.join(bucket_root, f"{split}-{shard:05d}"), out_dir, split, shard, dtype, eos_id)


def _sum(results, split, col) -> dict:
    c: Counter = Counter()
    for r in results:
        if r["split"] == split:
            c.update(r["by"][col])
    return dict(sorted(c.items()))


def _manifest(results, spec, tgt, tokenizer_path, dtype, eos_id, vocab_size, val_fraction, shard_tokens,
              backend, picked_docs, tokens, n_parts, seconds) -> dict:
    from gristmill.tokenize.tokenizer import tokenizer_hash

    splits = {}
    for split in ("train", "val"):
        rs = sorted((r for r in results if r["split"] == split), key=lambda r: r["shard"])
        splits[split] = {
            "tokens": sum(r["tokens"] for r in rs), "documents": sum(r["documents"] for r in rs),
            "shards": [{"bin": os.path.relpath(sf.bin_path("", split, r["shard"])),
                        "index": os.path.relpath(sf.index_path("", split, r["shard"])),
                        "tokens": r["tokens"], "documents": r["documents"]} for r in rs],
            f"tokens_by_{spec.by}": _sum(results, split, spec.by),
        }
    realised = _sum(results, "train", spec.by)
    total = sum(realised.values()) or 1
    mixture = {
        "by": spec.by, "requested_weights": spec.normalized() if spec.weights else None,
        "budget_tokens": tgt.budget, "max_epochs": spec.max_epochs, "excluded_domains": tgt.excluded,
        "realised": {d: {"tokens": t, "fraction": round(t / total, 6), "available_tokens": tgt.available.get(d, 0),
                         "epochs": round(t / max(tgt.available.get(d, 1), 1), 4), "copies": picked_docs.get(d, 0)}
                     for d, t in realised.items()},
    }
    return {
        "format": sf.FORMAT, "dtype": dtype.name, "eos_id": int(eos_id), "vocab_size": int(vocab_size),
        "tokenizer": {"file": sf.TOKENIZER, "hash": tokenizer_hash(tokenizer_path), "encoder": backend},
        "seed": spec.seed, "total_tokens": splits["train"]["tokens"], "total_documents": splits["train"]["documents"],
        "tokens_by_source": _sum(results, "train", "source"), "tokens_by_topic": _sum(results, "train", "topic"),
        "tokens_by_license": _sum(results, "train", "license"),
        "val_fraction": val_fraction, "shard_tokens": shard_tokens, "splits": splits, "mixture": mixture,
        "input_parts": n_parts, "input_documents": int(len(tokens)), "input_tokens": int(tokens.sum()),
        "seconds": round(seconds, 2),
        "notes": "token counts include one EOS per document; tokens_by_* count the train split",
    }
