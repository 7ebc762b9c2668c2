"""Where a run's time goes: phase seconds in markers and stats.json, and the timestamped
events a command writes with GRISTMILL_TIMINGS set."""

import json
import time

from gristmill.pipeline import timing
from gristmill.pipeline.cli import main
from tests.support.paths import copy_sample


def test_phases_sum_and_events_only_when_asked(tmp_path, monkeypatch):
    p = timing.Phases()
    with p.timed("a"):
        time.sleep(0.01)
    with p.timed("a"):
        pass
    p.add("b", 0.5)
    assert 0.01 <= p["a"] < 0.5 and p.rounded() == {"a": round(p["a"], 4), "b": 0.5}
    log = tmp_path / "events.jsonl"
    monkeypatch.delenv(timing.ENV, raising=False)
    timing.mark("nothing")
    assert not log.exists()
    monkeypatch.setenv(timing.ENV, str(log))
    timing.mark("one", step="x")
    (event,) = timing.read_events(str(log))
    assert event["event"] == "one" and event["step"] == "x" and abs(event["t"] - time.time()) < 5


def test_one_worker_command_logs_its_phases_and_starts_no_cluster(tmp_path, monkeypatch, capsys):
    log = tmp_path / "events.jsonl"
    monkeypatch.setenv(timing.ENV, str(log))
    inputs = copy_sample(tmp_path / "in", n_files=2)
    assert main(["read", str(inputs), "--out", str(tmp_path / "out"), "--workers", "1", "--quiet"]) == 0
    events = timing.read_events(str(log))
    names = [e["event"] for e in events]
    assert names == ["cli", "run_start", "shards_done", "phases", "run_done"]  # no cluster_up / cluster_down
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)
    stats = json.load(open(tmp_path / "out" / "stats.json"))
    assert set(stats["phases"]) == {"setup", "process", "write"} and stats["phases"]["process"] > 0
    assert events[3]["step"] == "read_documents" and events[3]["seconds"] == stats["phases"]
    assert all(w.split(":")[-1].isdigit() and not w.startswith("tcp://") for w in stats["workers"])
