"""Every name of a step's folder layout, in one place.

    OUT/part-00000.parquet          kept documents of shard 0 (document steps only)
    OUT/dropped/part-00000.parquet  its drop log
    OUT/_done/part-00000.json       its marker: written last, so a shard with one is finished
    OUT/_state/                     a corpus or sink step's state (models, decisions, tokenizer)
    OUT/_state/_fitted              the corpus-wide phase's result; present once it finished
    OUT/stats.json                  the step's totals
    OUT/pdfs/part-00000.parquet     ingest's PDF queue (a side output), read by `gristmill ocr`

Two steps may share one folder (`gristmill tokenize` writes the tokenized documents and the
token shards into one --out): the later one then keeps its state in `_state-<step>/` and its
totals in `stats-<step>.json`, so neither overwrites the other's.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

PART = "part-{:05d}.parquet"
MARKER_DIR = "_done"
DROPPED_DIR = "dropped"
STATE_DIR = "_state"
FIT_MARKER = "_fitted"
STATS = "stats.json"
PDF_QUEUE_DIR = "pdfs"
RUN_SUMMARY = "run_summary.json"


@dataclass(frozen=True)
class StepLayout:
    """Paths of one step's outputs. `owner` is False for a step that shares the folder of an
    earlier step (its state and stats get the step's name)."""

    out_dir: str
    step: str = ""
    owner: bool = True

    @property
    def state_dir(self) -> str:
        return os.path.join(self.out_dir, STATE_DIR if self.owner else f"{STATE_DIR}-{self.step}")

    @property
    def fit_marker(self) -> str:
        return os.path.join(self.state_dir, FIT_MARKER)

    @property
    def stats_path(self) -> str:
        return os.path.join(self.out_dir, STATS if self.owner else f"stats-{self.step}.json")

    @property
    def pdf_queue_dir(self) -> str:
        return os.path.join(self.out_dir, PDF_QUEUE_DIR)

    def part(self, index: int) -> str:
        return part_path(self.out_dir, index)

    def dropped(self, index: int) -> str:
        return os.path.join(self.out_dir, DROPPED_DIR, PART.format(index))

    def marker(self, index: int) -> str:
        return os.path.join(self.out_dir, MARKER_DIR, PART.format(index).replace(".parquet", ".json"))

    def read_marker(self, index: int) -> dict | None:
        return read_json(self.marker(index))

    def shard_files(self, index: int) -> dict[str, str]:
        """The files a finished shard consists of, by their name relative to the step folder."""
        return {PART.format(index): self.part(index), f"{DROPPED_DIR}/{PART.format(index)}": self.dropped(index)}

    def shard_folders(self) -> tuple[str, str, str]:
        """The folders a shard task writes into: parts, drop logs, markers."""
        return self.out_dir, os.path.join(self.out_dir, DROPPED_DIR), os.path.join(self.out_dir, MARKER_DIR)

    def checksums(self, index: int) -> dict[str, dict]:
        """Size and SHA-256 of each of the shard's files (written into its marker)."""
        return {name: file_checksum(path) for name, path in self.shard_files(index).items()}

    def verify(self, index: int, marker: dict) -> str | None:
        """Why the shard a marker vouches for cannot be trusted, or None if it can: a file
        missing (`part_missing`), or of another size or content than when it was written
        (`part_changed`). Markers from before checksums only need their files to exist."""
        files = self.shard_files(index)
        if any(not os.path.exists(p) for p in files.values()):
            return "part_missing"
        recorded = marker.get("files")
        if recorded is None:
            return None
        for name, want in recorded.items():
            path = files.get(name)
            if path is None or os.path.getsize(path) != want.get("bytes") or file_checksum(path) != want:
                return "part_changed"
        return None

    def read_fit(self) -> dict | None:
        return read_json(self.fit_marker)


def file_checksum(path: str) -> dict:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return {"bytes": os.path.getsize(path), "sha256": h.hexdigest()}


def part_path(out_dir: str, index: int) -> str:
    return os.path.join(out_dir, PART.format(index))


def is_part_name(name: str) -> bool:
    return name.startswith("part-") and name.endswith(".parquet")


def list_parts(folder: str) -> list[str]:
    """The kept-document shards of a step's folder."""
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if is_part_name(f))


def hidden_part(name: str) -> bool:
    """Folders and files inside a step's folder that hold no documents (markers, state, drop
    logs, the PDF queue, temp files): input discovery skips them."""
    return name.startswith((".", "_")) or name in (DROPPED_DIR, PDF_QUEUE_DIR)


def read_json(path: str) -> dict | None:
    """A JSON file's content, or None if it is absent or half-written."""
    try:
        with open(path) as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None
