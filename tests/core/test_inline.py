"""The runner's in-process path (one worker, shard-by-shard steps): same files as the
cluster path, resumes across the two, and keeps the cluster's task semantics."""

import filecmp
import json
import os
import shutil

import pytest

from gristmill.pipeline import runner
from gristmill.pipeline.context import ShardContext, StepContext
from gristmill.pipeline.inline import InlineClient
from gristmill.pipeline.workflow import build
from tests.support.paths import copy_sample


def _workflow(inputs: str, *extra, min_words: int = 200):
    return build({"name": "inline", "inputs": [inputs], "steps": [
        {"name": "read", "stage": "read_documents@1"},
        {"name": "length", "stage": "length_filter@1", "params": {"min_words": min_words}},
        *extra]})


def _document_files(step_dir: str) -> list[str]:
    """Parts and drop-log parts of a step folder (markers hold times and hosts: not compared)."""
    out = sorted(f for f in os.listdir(step_dir) if f.startswith("part-"))
    return out + sorted(os.path.join("dropped", f) for f in os.listdir(os.path.join(step_dir, "dropped")))


def _same_files(a: str, b: str) -> list[str]:
    files = _document_files(a)
    assert files == _document_files(b) and files
    assert all(filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False) for f in files), files
    return files


def test_which_runs_go_in_process(tmp_path):
    wf = _workflow(copy_sample(tmp_path / "in", n_files=1))
    assert runner.runs_in_process(wf, None, 1)
    assert not runner.runs_in_process(wf, None, 2)
    assert not runner.runs_in_process(wf, "tcp://127.0.0.1:8786", 1)
    corpus = _workflow(str(tmp_path / "in"), {"stage": "dedupe_exact@1"})
    assert not runner.runs_in_process(corpus, None, 1)  # corpus-wide fits compute on a cluster
    with pytest.raises(ValueError, match="needs a cluster"):
        runner.run(corpus, workdir=str(tmp_path / "w"), in_process=True, quiet=True)


def test_in_process_files_match_the_cluster_and_resume_either_way(tmp_path, dask_client):
    inputs = copy_sample(tmp_path / "in", n_files=3)
    wf = _workflow(inputs)
    inline, cluster = str(tmp_path / "inline"), str(tmp_path / "cluster")
    runner.run(wf, workdir=inline, workers=1, quiet=True)  # the default for one worker: in process
    assert wf.steps[0].stage._ready is False  # tasks got copies, as Dask workers do
    marker = json.load(open(os.path.join(inline, "length", "_done", "part-00000.json")))
    assert not marker["worker"].startswith("tcp://") and set(marker["phases"]) >= {"setup", "process", "write"}
    runner.run(_workflow(inputs), workdir=cluster, client=dask_client, quiet=True)
    for step in ("read", "length"):
        _same_files(os.path.join(inline, step), os.path.join(cluster, step))
    # a shard lost from the cluster's output is redone in process, byte for byte
    os.remove(os.path.join(cluster, "length", "part-00001.parquet"))
    results = runner.run(_workflow(inputs), workdir=cluster, workers=1, quiet=True)
    length = next(r for r in results if r.name == "length")
    assert length.stats["redone_by_reason"] == {"part_missing": 1} and length.stats["complete"]
    _same_files(os.path.join(inline, "length"), os.path.join(cluster, "length"))
    # and one lost in process is redone on the cluster
    os.remove(os.path.join(inline, "read", "part-00002.parquet"))
    runner.run(_workflow(inputs), workdir=inline, client=dask_client, quiet=True)
    _same_files(os.path.join(inline, "read"), os.path.join(cluster, "read"))


def test_in_process_failures_are_reported_like_the_cluster_does(tmp_path):
    inputs = copy_sample(tmp_path / "in", n_files=2)
    wf = _workflow(inputs, {"name": "broken", "stage": "tests.support.stages:AlwaysBroken"}, min_words=1)
    with pytest.raises(runner.RunFailed, match="failed on every document: ImportError: missing package xyz"):
        runner.run(wf, workdir=str(tmp_path / "w"), workers=1, quiet=True)
    assert sorted(os.listdir(tmp_path / "w" / "length" / "_done")) == ["part-00000.json", "part-00001.json"]
    assert not os.path.exists(tmp_path / "w" / "broken" / "_done") or not os.listdir(tmp_path / "w" / "broken" / "_done")


def test_inline_client_order_retries_and_upstream_errors(tmp_path):
    ran: list[tuple[str, int]] = []
    step = StepContext.local(str(tmp_path / "s"))
    flaky = {"left": 1}

    def task(name, ctx, *upstream):
        ran.append((name, ctx.index))
        if name == "flaky" and flaky["left"]:
            flaky["left"] -= 1
            raise OSError("first try fails")
        if name == "bad" and ctx.index == 1:
            raise ValueError("shard 1 is bad")
        return name

    client = InlineClient()
    futures = []
    for depth, name in enumerate(("bad", "flaky")):
        ups = futures[-2:] if futures else [None, None]
        for i in range(2):
            deps = [ups[i]] if ups[i] is not None else []
            futures.append(client.submit(task, name, ShardContext(step, i, "x"), *deps, priority=depth, retries=1))
    outcomes = []
    for fut in client.as_completed(futures):
        try:
            outcomes.append(fut.result())
        except Exception as e:  # noqa: BLE001
            outcomes.append(f"{type(e).__name__}: {e}")
    # depth-first: shard 0 through both steps, then shard 1; flaky's first try is retried
    assert ran == [("bad", 0), ("flaky", 0), ("flaky", 0), ("bad", 1), ("bad", 1)]
    # shard 1: bad fails twice (retried once), its dependent fails with the same error unrun
    assert outcomes == ["bad", "flaky", "ValueError: shard 1 is bad", "ValueError: shard 1 is bad"]
    assert client.scheduler_info()["workers"] == {}


def test_each_in_process_run_sets_its_stages_up_afresh(tmp_path):
    from gristmill.pipeline import shard_task

    inputs = copy_sample(tmp_path / "in", n_files=1)
    before = dict(shard_task._STAGES)
    seen = []
    real = shard_task._cached

    def spy(stage, step):
        ready = real(stage, step)
        seen.append(ready)  # kept alive, so ids are not reused
        return ready

    shard_task._cached = spy
    try:
        for run in ("a", "b"):
            runner.run(_workflow(inputs), workdir=str(tmp_path / "w"), workers=1, quiet=True)
            shutil.rmtree(tmp_path / "w")
    finally:
        shard_task._cached = real
    assert len(seen) == 4 and len({id(s) for s in seen}) == 4  # 2 steps x 2 runs, none reused across runs
    assert shard_task._STAGES == before  # the run's stages went with it


def test_tasks_see_a_workers_thread_settings(monkeypatch):
    from gristmill.pipeline.inline import WORKER_ENVIRON, worker_environ

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "4")  # the user's choice stays
    with worker_environ():
        assert os.environ["OMP_NUM_THREADS"] == WORKER_ENVIRON["OMP_NUM_THREADS"] == "1"
        assert os.environ["MKL_NUM_THREADS"] == "4"
    assert "OMP_NUM_THREADS" not in os.environ and os.environ["MKL_NUM_THREADS"] == "4"
