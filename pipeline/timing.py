"""Where a run's time goes: seconds per phase inside each shard, and timestamps of a
command's phases for whoever times it from outside.

Inside a shard, `Phases` sums the seconds of named phases. `run_shard` times `setup`
(building the stage's models, first shard of a worker only), `process` (the stage's work)
and `write` (parts, drop log, checksums, marker); a stage may time its own parts of
`process` (ingest: `extract`, `language_id`, `signals`, `decode`) into `StageOutput.phases`.
Each shard's phases go into its marker, and `stats.json` holds their sums (`phases`).

With the environment variable `GRISTMILL_TIMINGS=FILE`, a command also appends one JSON
line per event to FILE: `{"event": NAME, "t": time.time(), ...}`. Events: `cli` (the
command line is parsed: before it lies Python's start-up and the imports), `run_start`,
`cluster_up` and `cluster_down` (a LocalCluster started and closed; absent on the in-process
path), `shards_done`, `phases` (one per step: `step` and the summed `seconds`) and
`run_done`. Without the variable nothing is written.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager

ENV = "GRISTMILL_TIMINGS"


class Phases(dict):
    """phase name -> seconds, summed over every `timed` block of that name."""

    @contextmanager
    def timed(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0)

    def add(self, name: str, seconds: float) -> None:
        self[name] = self.get(name, 0.0) + seconds

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in sorted(self.items())}


def mark(event: str, **fields) -> None:
    """Append one timestamped event to $GRISTMILL_TIMINGS (nothing when it is unset)."""
    path = os.environ.get(ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"event": event, "t": time.time(), **fields}, sort_keys=True) + "\n")


def read_events(path: str) -> list[dict]:
    """The events a command appended to `path`, in order."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
