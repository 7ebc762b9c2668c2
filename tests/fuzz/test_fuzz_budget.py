"""A short, seeded fuzzing budget per target (the full budget: python -m tests.fuzz.run_budget)."""

from __future__ import annotations

import random

import pytest

from tests.fuzz.engine import fuzz, run_forked
from tests.fuzz.mutate import mutate
from tests.fuzz.targets import TARGETS, Target

# Seconds per target in the test run (< 90 s in all with the bomb and corpus tests).
BUDGET_S = {"warc": 3, "http": 2, "html": 2, "robots": 1, "pdf": 3, "jsonl": 1, "parquet": 1}


@pytest.mark.parametrize("name", list(TARGETS))
def test_short_budget_finds_nothing(name, shared_data):
    seeds = TARGETS[name].seeds()
    seeds = seeds[::max(1, len(seeds) // 10)]  # a spread of the seeds: the budget goes to mutations
    report = fuzz(TARGETS[name], BUDGET_S[name], seed=0, seeds=seeds, min_execs=len(seeds) + 10)
    assert report.executions > len(seeds)  # it really ran mutations, not only the seeds
    assert not report.crashes, {s: c["detail"] for s, c in report.crashes.items()}


def test_mutations_are_seeded_and_change_the_input():
    seed = b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 12\r\n\r\nHTTP/1.1 200\r\n"
    a = [mutate(random.Random(7), seed, [seed]) for _ in range(20)]
    b = [mutate(random.Random(7), seed, [seed]) for _ in range(20)]
    assert a == b and sum(x != seed for x in a) >= 15


def _explode(data: bytes) -> str:
    if data == b"segv":
        import ctypes
        ctypes.string_at(0)
    if data == b"hang":
        while True:
            pass
    raise ValueError("bad input")


def test_engine_catches_crashes_hangs_and_exceptions(monkeypatch):
    from tests.fuzz import engine

    monkeypatch.setattr(engine, "TIMEOUT_S", 1)
    t = Target("explode", "test double: a parser that crashes, hangs or raises", list, _explode)
    assert run_forked(t, b"segv").signature == "crash: SIGSEGV"
    assert run_forked(t, b"hang", timeout_s=1).signature == "timeout: SIGALRM"
    out = run_forked(t, b"x")
    assert not out.ok and out.signature.startswith("ValueError @ ")
