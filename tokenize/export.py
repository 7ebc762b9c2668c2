"""Export a token folder to the formats other trainers read (written here, read back in tests
with each ecosystem's own reader where it installs):

* `nanogpt`: `export/nanogpt/{train,val}.bin`, flat uint16 as nanoGPT's `get_batch` memory-maps
  them, plus `meta.pkl` with `vocab_size` (what nanoGPT's train.py reads for the model size).
* `megatron`: `export/megatron/{train,val}_text_document.{bin,idx}`, Megatron-LM's indexed
  dataset (MMIDIDX v1): one sequence per document, EOS included, as `--append-eod` makes them.
* `olmo`: `export/olmo/{train,val}/part-NNNNN.npy`, raw token arrays (no header) that OLMo-core's
  `NumpyFSLDataset` memory-maps, with dolma-style `.csv.gz` document spans beside them.

Data is streamed shard by shard, never held whole.
"""

from __future__ import annotations

import csv
import gzip
import os
import pickle
import shutil
import struct

import numpy as np

from gristmill.tokenize import shard_format as sf

MEGATRON_HEADER = b"MMIDIDX\x00\x00"
MEGATRON_CODES = {"uint16": 8, "int32": 4}  # Megatron has no uint32; ids < 2**31 fit int32
CHUNK = 1 << 24
FORMATS = ("nanogpt", "megatron", "olmo")  # what `export()` writes; `--export` / `--format` choices


def _shards(folder: str, manifest: dict, split: str) -> list[int]:
    return list(range(len(manifest["splits"][split]["shards"])))


def export(folder: str, fmt: str) -> dict:
    manifest = sf.read_manifest(folder)
    out = os.path.join(folder, "export", fmt)
    os.makedirs(out, exist_ok=True)
    written = {"nanogpt": export_nanogpt, "megatron": export_megatron, "olmo": export_olmo}[fmt](folder, manifest, out)
    return {"format": fmt, "files": written}


def export_nanogpt(folder: str, manifest: dict, out: str) -> list[str]:
    if manifest["vocab_size"] > 2**16:
        raise ValueError("nanoGPT reads uint16 ids; this vocabulary needs uint32")
    files = []
    for split in ("train", "val"):
        path = os.path.join(out, f"{split}.bin")
        with open(path + ".tmp", "wb") as f:
            for i in _shards(folder, manifest, split):
                shutil.copyfileobj(open(sf.bin_path(folder, split, i), "rb"), f, CHUNK)
        os.replace(path + ".tmp", path)
        files.append(path)
    with open(os.path.join(out, "meta.pkl"), "wb") as f:
        pickle.dump({"vocab_size": manifest["vocab_size"], "eos_id": manifest["eos_id"],
                     "tokenizer": os.path.abspath(os.path.join(folder, sf.TOKENIZER))}, f)
    return files + [os.path.join(out, "meta.pkl")]


def export_megatron(folder: str, manifest: dict, out: str) -> list[str]:
    src_dtype = np.dtype(manifest["dtype"])
    dst_dtype = np.dtype(np.uint16) if src_dtype == np.uint16 else np.dtype(np.int32)
    files = []
    for split in ("train", "val"):
        prefix = os.path.join(out, f"{split}_text_document")
        lengths = []
        with open(prefix + ".bin.tmp", "wb") as f:
            for i in _shards(folder, manifest, split):
                index = sf.read_index(sf.index_path(folder, split, i))
                lengths.append(index.column("length").to_numpy() + 1)  # the EOS is part of the document
                tokens = sf.open_tokens(folder, split, i, src_dtype)
                for start in range(0, len(tokens), CHUNK):
                    f.write(np.asarray(tokens[start:start + CHUNK]).astype(dst_dtype).tobytes())
        seq_lengths = np.concatenate(lengths).astype(np.int32) if lengths else np.zeros(0, np.int32)
        pointers = (np.concatenate([[0], np.cumsum(seq_lengths, dtype=np.int64)[:-1]]) * dst_dtype.itemsize
                    if len(seq_lengths) else np.zeros(0, np.int64)).astype(np.int64)
        doc_index = np.arange(len(seq_lengths) + 1, dtype=np.int64)  # one sequence per document
        with open(prefix + ".idx.tmp", "wb") as f:
            f.write(MEGATRON_HEADER)
            f.write(struct.pack("<Q", 1))
            f.write(struct.pack("<B", MEGATRON_CODES[dst_dtype.name]))
            f.write(struct.pack("<Q", len(seq_lengths)))
            f.write(struct.pack("<Q", len(doc_index)))
            f.write(seq_lengths.tobytes() + pointers.tobytes() + doc_index.tobytes())
        os.replace(prefix + ".bin.tmp", prefix + ".bin")
        os.replace(prefix + ".idx.tmp", prefix + ".idx")
        files += [prefix + ".bin", prefix + ".idx"]
    return files


def export_olmo(folder: str, manifest: dict, out: str) -> list[str]:
    files = []
    for split in ("train", "val"):
        os.makedirs(os.path.join(out, split), exist_ok=True)
        for i in _shards(folder, manifest, split):
            path = os.path.join(out, split, f"part-{i:05d}.npy")
            shutil.copyfile(sf.bin_path(folder, split, i), path)  # already raw little-endian ids
            index = sf.read_index(sf.index_path(folder, split, i))
            starts = index.column("offset").to_numpy()
            ends = starts + index.column("length").to_numpy() + 1
            with gzip.open(path[:-4] + ".csv.gz", "wt", newline="") as f:  # dolma's start,end,id,src,loc
                csv.writer(f).writerows(zip(starts.tolist(), ends.tolist(), index.column("doc_id").to_pylist(),
                                            index.column("source").to_pylist(), [0] * len(starts)))
            files += [path, path[:-4] + ".csv.gz"]
    return files
