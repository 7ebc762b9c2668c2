"""Shard I/O: zstd Parquet written atomically, input discovery through fsspec."""

from __future__ import annotations

import json
import os
import tempfile
from functools import partial

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.pipeline.layout import hidden_part, list_parts  # noqa: F401 - list_parts: re-exported
from gristmill.pipeline.transient import reach

# Fixed writer settings: byte-identical output for identical tables is what makes
# resumed runs identical to uninterrupted ones.
WRITE_OPTIONS = dict(compression="zstd", compression_level=3, use_dictionary=True,
                     write_statistics=True, row_group_size=64 * 1024)
# A write in progress: the temp file beside its target, `.tmp-<target name>-<random>`. One that
# stays was being written by a process that died (a worker killed mid-task); the rescheduled
# task writes its own. It must not end in `.parquet`: Dask's read_parquet of a folder reads
# every file with that extension, hidden or not, and would fail on the cut-off file.
TEMP_PREFIX = ".tmp-"


def _temp_file(path: str) -> str:
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.path.basename(path)}-", dir=folder)
    os.close(fd)
    return tmp


def write_parquet_atomic(table: pa.Table, path: str) -> None:
    """Write `table` to `path` via a temp file in the same folder and a rename."""
    tmp = _temp_file(path)
    try:
        pq.write_table(table, tmp, **WRITE_OPTIONS)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(obj, path: str, sort_keys: bool = True, default=str) -> None:
    """Write `obj` as JSON via a temp file in the same folder and a rename. `default` turns
    what JSON lacks into something it has (str by default; float keeps numpy numbers numbers)."""
    tmp = _temp_file(path)
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=sort_keys, default=default)
        f.write("\n")
    os.replace(tmp, path)


def remove_temp_files(folder: str) -> int:
    """Delete the temp files that writers killed mid-write left in `folder` (not below it);
    how many. Only while no writer of that folder is running."""
    if not os.path.isdir(folder):
        return 0
    removed = 0
    for name in os.listdir(folder):
        if name.startswith(TEMP_PREFIX):
            try:
                os.unlink(os.path.join(folder, name))
                removed += 1
            except FileNotFoundError:
                pass
    return removed


PATHS_LISTS = (".paths", ".paths.gz")  # a file of paths, one per line (warc.paths.gz): inputs it names
# Endings that name a file, not a folder (WARC/ARC/WET, their compressions, document files)
FILE_SUFFIXES = (".warc", ".arc", ".gz", ".lz4", ".zst", ".bz2", ".xz", ".parquet", ".jsonl", ".txt", ".pdf",
                 ".json", ".ndjson")


def expand_inputs(paths: list[str], suffixes: tuple[str, ...] | None = None) -> list[str]:
    """Files named by `paths`: files, directories (recursively) and globs, local or remote.

    Directories are searched for files ending in `suffixes` (all files if None). Hidden
    files and folders (`.tmp-*`, `_done/`) and drop logs are skipped. Sorted, so shard
    numbering is stable across runs. Without `suffixes` (archive sources), a URL whose name
    ends like a file is taken as given, without a request: a crawl lists thousands, one
    request each made planning take minutes and stop at the first missing file or transient
    error; the ingest stage counts a file it cannot read (`unreadable_file`) and goes on.
    """
    out: list[str] = []
    for p in paths:
        globbed = any(ch in p for ch in "*?[")
        if "://" in p and not globbed and suffixes is None and p.endswith(FILE_SUFFIXES):
            out.append(p)
            continue
        fs, _, _ = fsspec.get_fs_token_paths(p)
        proto = p.split("://")[0] + "://" if "://" in p else ""
        found = reach(partial(_find, fs, p, globbed, suffixes), f"list input {p}")  # 503s tried again
        out.extend(f if "://" in f or not proto else proto + f for f in found)
    seen, unique = set(), []
    for f in out:
        if f not in seen:
            seen.add(f)
            unique.append(f)
    return unique


def _find(fs, p: str, globbed: bool, suffixes: tuple[str, ...] | None) -> list[str]:
    """The files one input names (a 503 or a reset here is tried again by `reach`)."""
    if globbed:
        return sorted(fs.glob(p))
    if fs.isdir(p):
        found = sorted(fs.find(p))
        return [f for f in found if _visible(f, p) and (suffixes is None or f.endswith(suffixes))]
    if fs.exists(p):
        return [p]
    raise FileNotFoundError(f"input not found: {p}")


def _visible(path: str, root: str) -> bool:
    rel = os.path.relpath(path, root) if not root.startswith(("s3://", "http")) else path
    parts = rel.replace("\\", "/").split("/")
    return not any(hidden_part(x) for x in parts)
