"""The token shard format, shared by the packer, the exporters, the lookup and the trainer.

A token folder (what `gristmill tokenize` writes) holds:

    manifest.json                     what is in it (see README, "Token shards")
    tokenizer.json                    the tokenizer that made the ids
    tokens/train-00000.bin            flat little-endian uint16 (vocab <= 65536) or uint32 ids;
    tokens/train-00000.index.arrow    every document is its tokens followed by one EOS id
    tokens/val-00000.bin, ...         held-out documents (validation loss per domain)

The index (Arrow IPC, one row per document copy, in file order) has `offset` (int64, first
token), `length` (int64, tokens of the text, EOS not counted: the EOS sits at offset+length),
`doc_id`, `source`, `topic`, `license`, `url`, `origin_file` and `epoch` (0 for a document's
first copy in the mix, 1 for its second...). A shard that holds synthetic rows (written by
`rephrase@1`) has four more columns, `parent_id`, `generator`, `parent_url` and
`parent_license`, so a token of a rewrite leads to the document it was generated from; a
shard without synthetic rows is written with the nine columns alone, byte for byte as before.
`.bin` files have no header, so `np.memmap` (or any language) reads them directly.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

FORMAT = "gristmill-tokens/1"
MANIFEST = "manifest.json"
TOKENIZER = "tokenizer.json"
TOKENS_DIR = "tokens"
INDEX_SUFFIX = ".index.arrow"

INDEX_SCHEMA = pa.schema([
    ("offset", pa.int64()), ("length", pa.int64()), ("doc_id", pa.string()), ("source", pa.string()),
    ("topic", pa.string()), ("license", pa.string()), ("url", pa.string()), ("origin_file", pa.string()),
    ("epoch", pa.int32()),
])
# lineage of synthetic rows; only in the index of a shard that has at least one
LINEAGE_FIELDS = [("parent_id", pa.string()), ("generator", pa.string()), ("parent_url", pa.string()),
                  ("parent_license", pa.string())]
LINEAGE_SCHEMA = pa.schema(list(INDEX_SCHEMA) + [pa.field(n, t) for n, t in LINEAGE_FIELDS])


def token_dtype(vocab_size: int) -> np.dtype:
    """Smallest unsigned dtype that holds every id of a `vocab_size` vocabulary."""
    if vocab_size <= 0:
        raise ValueError("vocab_size must be positive")
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


def shard_name(split: str, index: int) -> str:
    return f"{split}-{index:05d}"


def bin_path(folder: str, split: str, index: int) -> str:
    return os.path.join(folder, TOKENS_DIR, shard_name(split, index) + ".bin")


def index_path(folder: str, split: str, index: int) -> str:
    return os.path.join(folder, TOKENS_DIR, shard_name(split, index) + INDEX_SUFFIX)


def has_lineage(table: pa.Table) -> bool:
    """True if any row of `table` is synthetic (has a parent)."""
    return "parent_id" in table.column_names and table.column("parent_id").null_count < table.num_rows


def write_index(table: pa.Table, path: str) -> None:
    schema = LINEAGE_SCHEMA if has_lineage(table) else INDEX_SCHEMA
    tmp = path + ".tmp"
    with pa.OSFile(tmp, "wb") as sink, ipc.new_file(sink, schema) as writer:
        writer.write_table(table.select(schema.names).cast(schema))
    os.replace(tmp, path)


def read_index(path: str) -> pa.Table:
    with pa.memory_map(path) as source:
        return ipc.open_file(source).read_all()


def write_tokens(tokens: np.ndarray, path: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(np.ascontiguousarray(tokens).astype(tokens.dtype.newbyteorder("<"), copy=False).tobytes())
    os.replace(tmp, path)


def read_manifest(folder: str) -> dict:
    path = os.path.join(folder, MANIFEST)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{folder} is not a token folder: no {MANIFEST} (run `gristmill tokenize` first)")
    with open(path) as f:
        return json.load(f)


def open_tokens(folder: str, split: str, index: int, dtype) -> np.memmap:
    """A read-only memory map of one shard's ids (nothing is read until it is sliced)."""
    path = bin_path(folder, split, index)
    if os.path.getsize(path) == 0:
        return np.zeros(0, dtype)
    return np.memmap(path, dtype=np.dtype(dtype).newbyteorder("<"), mode="r")


@dataclass
class Origin:
    """Where the token at (split, shard, offset) came from."""

    doc_id: str
    url: str | None
    license: str | None
    source: str | None
    topic: str | None
    origin_file: str | None
    doc_offset: int    # first token of that document in the shard
    position: int      # the token's position inside the document (== length for its EOS)
    epoch: int
    # synthetic rows only (null for an original document): what it was generated from, and how
    parent_id: str | None = None
    generator: str | None = None
    parent_url: str | None = None
    parent_license: str | None = None


def locate(folder: str, shard: int, offset: int, split: str = "train") -> Origin:
    """Which document (and its URL and license) the token at `offset` of a shard belongs to."""
    index = read_index(index_path(folder, split, shard))
    starts = index.column("offset").to_numpy()
    ends = starts + index.column("length").to_numpy() + 1  # + its EOS
    total = int(ends[-1]) if len(ends) else 0
    if not 0 <= offset < total:
        raise IndexError(f"offset {offset} is outside {shard_name(split, shard)} (0..{total - 1})")
    row = int(np.searchsorted(starts, offset, side="right") - 1)
    rec = index.slice(row, 1).to_pylist()[0]
    return Origin(doc_id=rec["doc_id"], url=rec["url"], license=rec["license"], source=rec["source"],
                  topic=rec["topic"], origin_file=rec["origin_file"], doc_offset=int(starts[row]),
                  position=int(offset - starts[row]), epoch=int(rec["epoch"]),
                  **{n: rec.get(n) for n, _ in LINEAGE_FIELDS})
