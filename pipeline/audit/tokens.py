"""Token counts recounted from the token folder itself (never copied from the manifest), and
the tokens a run of the bundled trainer actually read.

* Mixture: every row of the train index is one document copy of `length + 1` tokens (its EOS
  included), so grouping the index by licence gives tokens per licence; their sum is checked
  against the `.bin` files' sizes.
* Trained on: the bundled trainer draws random windows from a numpy generator seeded with
  its config's seed (tokenize/train.py, `TokenData.batch`). Replaying the same draws with the
  same seed, steps, batch size and block size gives the exact token positions it trained on,
  which the index maps to documents and licences. A test checks the replay against
  `TokenData.batch`.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gristmill.tokenize import shard_format as sf


def index_table(token_dir: str, split: str = "train") -> pa.Table:
    """The split's index, all shards, with a `shard` column and `tokens` (= length + 1)."""
    manifest = sf.read_manifest(token_dir)
    tables = []
    for i, _ in enumerate(manifest["splits"][split]["shards"]):
        t = sf.read_index(sf.index_path(token_dir, split, i))
        t = t.append_column("shard", pa.array(np.full(t.num_rows, i, np.int32)))
        tables.append(t)
    if not tables:
        return sf.INDEX_SCHEMA.empty_table().append_column("shard", pa.array([], pa.int32())) \
            .append_column("tokens", pa.array([], pa.int64()))
    t = pa.concat_tables(tables)
    return t.append_column("tokens", pc.add(t.column("length"), 1))


def bin_tokens(token_dir: str, split: str = "train") -> int:
    """Tokens in the split's .bin files, from their sizes."""
    manifest = sf.read_manifest(token_dir)
    width = np.dtype(manifest["dtype"]).itemsize
    return sum(os.path.getsize(sf.bin_path(token_dir, split, i)) // width
               for i, _ in enumerate(manifest["splits"][split]["shards"]))


def replay_windows(shard_lengths: list[int], seed: int, steps: int, batch_size: int, block_size: int):
    """(shard, start) of every window the bundled trainer drew, in order: the same numpy calls
    as `TokenData.batch`, with the same generator."""
    room = np.array([max(n - block_size - 1, 0) for n in shard_lengths], dtype=np.float64)
    if room.sum() <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    p = room / room.sum()
    rng = np.random.default_rng(seed)
    shards_out, starts_out = [], []
    for _ in range(steps):
        shards = rng.choice(len(shard_lengths), size=batch_size, p=p)
        for s in shards:
            shards_out.append(int(s))
            starts_out.append(int(rng.integers(0, shard_lengths[s] - block_size - 1 + 1)))
    return np.array(shards_out, np.int64), np.array(starts_out, np.int64)


def trained_tokens(token_dir: str, index: pa.Table, train_cfg: dict, steps: int) -> np.ndarray:
    """Tokens of each index row (document copy) the trainer's input windows covered."""
    manifest = sf.read_manifest(token_dir)
    lengths = [s["tokens"] for s in manifest["splits"]["train"]["shards"]]
    block = int(train_cfg["block_size"])
    shards, starts = replay_windows(lengths, int(train_cfg["seed"]), steps, int(train_cfg["batch_size"]), block)
    out = np.zeros(index.num_rows, np.int64)
    shard_col = index.column("shard").to_numpy()
    offsets = index.column("offset").to_numpy()
    ends = offsets + index.column("tokens").to_numpy()
    for s in np.unique(shards):
        rows = np.nonzero(shard_col == s)[0]
        if not len(rows):
            continue
        # tokens read per position: a difference array over the shard, one +1/-1 per window
        diff = np.zeros(lengths[s] + 1, np.int64)
        st = starts[shards == s]
        np.add.at(diff, st, 1)
        np.add.at(diff, st + block, -1)   # the model reads block_size inputs per window
        covered = np.cumsum(diff)[:-1]
        cum = np.concatenate([[0], np.cumsum(covered)])
        out[rows] = cum[ends[rows]] - cum[offsets[rows]]
    return out
