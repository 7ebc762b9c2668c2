"""The runner on a real LocalCluster: accounting, resume, isolation of failures."""

import filecmp
import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
import yaml

from gristmill.pipeline import runner
from gristmill.pipeline.layout import StepLayout
from gristmill.pipeline.shards import TEMP_PREFIX
from gristmill.pipeline.workflow import build, load
from tests.support.paths import QUICKSTART, REPO, copy_sample


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory, dask_client):
    """The quickstart, run once for this module (it is the slowest thing here)."""
    import contextlib
    import io

    workdir = tmp_path_factory.mktemp("quickstart")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        results = runner.run(load(QUICKSTART), workdir=str(workdir), client=dask_client)
    return workdir, results, printed.getvalue()


def test_quickstart_every_step_balances(quickstart_run):
    tmp_path, results, out = quickstart_run
    wf = load(QUICKSTART)
    assert "dropped by reason" in out and wf.steps[0].stage.versioned_name in out
    sinks = [r for r in results if r.stats.get("kind") == "sink"]
    # token shards, the model, the audit and the report: no documents copied
    assert [r.name for r in sinks] == ["shards", "train", "audit", "report"]
    for r in sinks:
        assert not [f for f in os.listdir(r.out_dir) if f.startswith("part-")] and r.stats["complete"]
        assert not os.path.exists(os.path.join(r.out_dir, "dropped"))
    assert os.path.exists(os.path.join(sinks[0].out_dir, "manifest.json"))
    assert os.path.exists(os.path.join(sinks[1].out_dir, "run", "train_log.jsonl"))
    assert os.path.exists(os.path.join(sinks[2].out_dir, "audit.json")) and not sinks[2].stats["product"]["checks_failed"]
    assert os.path.exists(os.path.join(sinks[3].out_dir, "report.html"))
    results = [r for r in results if r not in sinks]
    for r in results:
        with open(os.path.join(r.out_dir, "stats.json")) as f:
            s = json.load(f)
        # a generating step (rephrase@1) adds rows: in + generated = out + dropped
        assert s["docs_in"] + s.get("generated", 0) == s["docs_out"] + s["docs_dropped"], r.name
        assert sum(s["dropped_by_reason"].values()) == s["docs_dropped"]
        assert s["complete"]
        kept = sum(pq.read_metadata(os.path.join(r.out_dir, f)).num_rows
                   for f in os.listdir(r.out_dir) if f.startswith("part-"))
        dropped_dir = os.path.join(r.out_dir, "dropped")
        dropped = sum(pq.read_metadata(os.path.join(dropped_dir, f)).num_rows for f in os.listdir(dropped_dir))
        assert (kept, dropped) == (s["docs_out"], s["docs_dropped"])
    # chained: each step reads exactly what the previous one kept
    for prev, cur in zip(results, results[1:]):
        assert cur.stats["docs_in"] == prev.stats["docs_out"]
    assert results[0].stats["docs_in"] > 1000
    assert results[1].stats["dropped_by_reason"].get("too_few_words", 0) > 0
    summary = json.load(open(tmp_path / "run_summary.json"))
    assert summary["order"] == [s.name for s in wf.steps]


def test_quickstart_shards_of_a_step_share_one_schema(quickstart_run):
    """WARC, PDF and JSONL shards of the mixed read step (and every later step) carry the same
    columns in the same order, so a step's folder reads as one table."""
    import polars as pl

    _, results, _ = quickstart_run
    for r in [r for r in results if r.stats.get("kind") != "sink"]:  # sinks write no documents
        parts = sorted(f for f in os.listdir(r.out_dir) if f.startswith("part-"))
        schemas = {tuple(pq.read_schema(os.path.join(r.out_dir, f)).names) for f in parts}
        assert len(schemas) == 1, (r.name, schemas)
    read = results[0].out_dir
    docs = pl.read_parquet(os.path.join(read, "part-*.parquet"))
    assert docs.height == results[0].stats["docs_out"]
    assert docs.filter(pl.col("source") == "pdf")["pdf_pages"].null_count() == 0


def _slow_workflow(tmp_path, seconds):
    inputs = copy_sample(tmp_path / "in")
    spec = {"name": "slow", "inputs": [str(inputs)], "steps": [
        {"name": "read", "stage": "read_documents"},
        {"name": "slow", "stage": "tests.support.stages:SlowPass", "params": {"seconds": seconds}},
        {"name": "length", "stage": "length_filter", "params": {"min_words": 50}}]}
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _data_files(workdir):
    out = {}
    for root, _, files in os.walk(workdir):
        for f in files:
            if f.endswith(".parquet") and not f.startswith("."):
                out[os.path.relpath(os.path.join(root, f), workdir)] = os.path.join(root, f)
    return out


def test_killed_run_resumes_to_byte_identical_output(tmp_path):
    wf_path = _slow_workflow(tmp_path, seconds=0.6)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "gristmill.pipeline.cli", "run", str(wf_path), "--workers", "2", "--quiet"]

    killed = tmp_path / "killed"
    proc = subprocess.Popen(cmd + ["--workdir", str(killed)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    markers = killed / "length" / "_done"

    def finished():  # a kill can land while a marker is still a temp file: that shard did not finish
        return [f for f in os.listdir(markers) if not f.startswith(TEMP_PREFIX)] if markers.exists() else []

    deadline = time.time() + 120
    while time.time() < deadline and len(finished()) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole run: client, scheduler and workers
    proc.wait()
    done_at_kill = {f: os.path.getmtime(markers / f) for f in finished()}
    n_shards = len(os.listdir(tmp_path / "in"))
    assert 2 <= len(done_at_kill) < n_shards, "the kill must land mid-run for this test to mean anything"

    resumed = subprocess.run(cmd + ["--workdir", str(killed)], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    clean = tmp_path / "clean"
    subprocess.run(cmd + ["--workdir", str(clean)], env=env, check=True, capture_output=True)

    a, b = _data_files(killed), _data_files(clean)
    assert set(a) == set(b) and len(a) == 3 * n_shards * 2
    mismatched = [k for k in a if not filecmp.cmp(a[k], b[k], shallow=False)]
    assert mismatched == []
    # the resumed run skipped what was finished: those shards' markers were not rewritten
    assert {f: os.path.getmtime(markers / f) for f in done_at_kill} == done_at_kill
    assert not [f for f in os.listdir(markers) if f.startswith(TEMP_PREFIX)]  # cut-off temp files removed
    stats = json.load(open(killed / "slow" / "stats.json"))
    assert stats["complete"] and stats["docs_in"] == stats["docs_out"]


def test_rerun_of_finished_workflow_skips_everything(quickstart_run, dask_client):
    tmp_path, _, _ = quickstart_run
    wf = load(QUICKSTART)
    before = {k: os.path.getmtime(v) for k, v in _data_files(tmp_path).items()}
    runner.run(wf, workdir=str(tmp_path), client=dask_client, quiet=True)
    after = {k: os.path.getmtime(v) for k, v in _data_files(tmp_path).items()}
    assert before == after


def test_stage_error_is_isolated_to_the_offending_documents(tmp_path, dask_client):
    import gzip

    src = tmp_path / "in"
    src.mkdir()
    with gzip.open(src / "a.jsonl.gz", "wt") as f:
        for i in range(40):
            f.write(json.dumps({"id": f"d{i}", "text": "BOOM here" if i in (3, 17) else f"fine {i}"}) + "\n")
    wf = build({"inputs": [str(src)], "steps": [{"stage": "read_documents"},
                                                 {"name": "boom", "stage": "tests.support.stages:ExplodesOnBoom"}]})
    results = runner.run(wf, workdir=str(tmp_path / "w"), client=dask_client, quiet=True)
    s = results[1].stats
    assert (s["docs_in"], s["docs_out"], s["dropped_by_reason"]) == (40, 38, {"stage_error": 2})
    drops = pq.read_table(tmp_path / "w" / "boom" / "dropped" / "part-00000.parquet").to_pylist()
    assert sorted(d["id"] for d in drops) == ["d17", "d3"]
    assert "cannot handle BOOM" in drops[0]["detail"]


def test_a_stage_that_fails_on_everything_fails_the_run_loudly(tmp_path, dask_client):
    copy_sample(tmp_path / "in", n_files=2)
    wf = build({"inputs": [str(tmp_path / "in")], "steps": [
        {"stage": "read_documents"}, {"name": "broken", "stage": "tests.support.stages:AlwaysBroken"}]})
    with pytest.raises(runner.RunFailed, match="missing package xyz"):
        runner.run(wf, workdir=str(tmp_path / "w"), client=dask_client, quiet=True)
    assert os.listdir(tmp_path / "w" / "read_documents" / "_done")  # finished work is kept for the re-run
    assert not (tmp_path / "w" / "broken" / "_done").exists()


def test_unreadable_file_is_reported_by_name(tmp_path, dask_client):
    src = tmp_path / "in"
    src.mkdir()
    (src / "bad.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00garbage, not gzip")
    (src / "good.jsonl").write_text(json.dumps({"id": "x", "text": "ok"}) + "\n")
    wf = build({"inputs": [str(src)], "steps": [{"stage": "read_documents"}]})
    r = runner.run(wf, workdir=str(tmp_path / "w"), client=dask_client, quiet=True)[0]
    assert r.stats["dropped_by_reason"] == {"unreadable_file": 1}
    assert (r.stats["docs_in"], r.stats["docs_out"]) == (2, 1)
    drops = pq.read_table(tmp_path / "w" / "read_documents" / "dropped" / "part-00000.parquet").to_pylist()
    assert drops[0]["origin_file"].endswith("bad.jsonl.gz")


def test_gpu_stage_falls_back_to_cpu_workers(tmp_path, dask_client):
    copy_sample(tmp_path / "in", n_files=2)
    wf = build({"inputs": [str(tmp_path / "in")], "steps": [
        {"stage": "read_documents"}, {"stage": "tests.support.stages:NeedsGPU"}]})
    r = runner.run(wf, workdir=str(tmp_path / "w"), client=dask_client, quiet=True)
    assert r[1].stats["complete"] and r[1].stats["docs_out"] == r[0].stats["docs_out"]


def test_empty_shard_still_gets_the_stages_columns(tmp_path, dask_client):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jsonl").write_text(json.dumps({"id": "x", "text": "one"}) + "\n")
    (src / "b.jsonl").write_text(json.dumps({"id": "y", "text": None}) + "\n")  # shard b ends up empty
    wf = build({"inputs": [str(src)], "steps": [{"stage": "read_documents"},
                                                 {"name": "score", "stage": "tests.support.stages:AddsScore"}]})
    runner.run(wf, workdir=str(tmp_path / "w"), client=dask_client, quiet=True)
    schemas = [pq.read_schema(tmp_path / "w" / "score" / f"part-0000{i}.parquet") for i in (0, 1)]
    assert all("score_quality" in s.names for s in schemas)


def test_default_worker_count_is_the_usable_cores():
    assert 1 <= runner.default_workers() <= (os.cpu_count() or 1)


def test_a_sink_copies_no_documents_and_reruns_only_under_new_params(tmp_path, dask_client):
    copy_sample(tmp_path / "in", n_files=2)

    def run(label):
        wf = build({"inputs": [str(tmp_path / "in")], "steps": [
            {"name": "read", "stage": "read_documents"},
            {"name": "count", "stage": "tests.support.stages:CountsDocuments", "params": {"label": label}}]})
        return runner.run(wf, workdir=str(tmp_path / "w"), client=dask_client, quiet=True)

    results = run("a")
    count = tmp_path / "w" / "count"
    made = json.load(open(count / "count.json"))
    assert made == {"documents": results[0].stats["docs_out"], "label": "a", "upstream": str(tmp_path / "w" / "read")}
    assert sorted(os.listdir(count)) == ["_state", "count.json", "stats.json"]  # no parts, no drop log
    stats = json.load(open(count / "stats.json"))
    assert stats["kind"] == "sink" and stats["product"]["documents"] == made["documents"]
    first = os.path.getmtime(count / "count.json")
    run("a")  # same params: skipped
    assert os.path.getmtime(count / "count.json") == first
    run("b")  # other params: made again
    assert json.load(open(count / "count.json"))["label"] == "b"


def test_only_sinks_may_follow_a_sink(tmp_path):
    from gristmill.pipeline.workflow import WorkflowError

    copy_sample(tmp_path / "in", n_files=1)
    with pytest.raises(WorkflowError, match="only sinks may follow a sink"):
        build({"inputs": [str(tmp_path / "in")], "steps": [
            {"stage": "read_documents"}, {"stage": "tests.support.stages:CountsDocuments"},
            {"stage": "length_filter"}]})


def test_a_shard_redone_upstream_redoes_what_was_made_from_it(tmp_path, dask_client):
    """A redone shard of step 1 may hold other documents now (a file that met transient read
    errors is read in full): the map step after it redoes that shard, and a corpus step
    after that fits again and redoes all its shards, not trusting markers made from the old."""
    copy_sample(tmp_path / "in", n_files=3)

    def run(workdir):
        wf = build({"inputs": [str(tmp_path / "in")], "steps": [
            {"name": "read", "stage": "read_documents"},
            {"name": "length", "stage": "length_filter", "params": {"min_words": 50}},
            {"name": "dedupe", "stage": "dedupe_exact"}]})
        return runner.run(wf, workdir=str(workdir), client=dask_client, quiet=True)

    run(tmp_path / "clean")
    work = tmp_path / "work"
    run(work)
    fit_marker = StepLayout(str(work / "dedupe")).fit_marker
    fit_before = os.stat(fit_marker).st_mtime_ns
    os.remove(work / "read" / "part-00001.parquet")
    results = run(work)
    assert results[0].stats["redone_by_reason"] == {"part_missing": 1}
    assert results[1].stats["redone_by_reason"] == {"upstream_redone": 1}
    assert results[2].stats["redone_by_reason"] == {"refit": 3}
    assert os.stat(fit_marker).st_mtime_ns != fit_before  # the fit ran again
    for name, path in _data_files(tmp_path / "clean").items():
        assert filecmp.cmp(path, work / name, shallow=False), name
    assert all("redone_by_reason" not in r.stats for r in run(work))


def test_corrupted_or_partial_shards_are_found_on_rerun_and_redone(tmp_path, dask_client):
    """A truncated part, a modified drop log, a marker without its part and a part without its
    marker are each found by the next run, redone with a counted reason, and the output ends up
    byte-identical to an untouched run."""
    copy_sample(tmp_path / "in", n_files=5)

    def run(workdir):
        wf = build({"inputs": [str(tmp_path / "in")], "steps": [
            {"name": "read", "stage": "read_documents"},
            {"name": "length", "stage": "length_filter", "params": {"min_words": 50}}]})
        return runner.run(wf, workdir=str(workdir), client=dask_client, quiet=True)

    clean, broken = tmp_path / "clean", tmp_path / "broken"
    run(clean)
    run(broken)
    length = broken / "length"
    part0 = length / "part-00000.parquet"
    part0.write_bytes(part0.read_bytes()[:-100])                      # truncated
    drop1 = length / "dropped" / "part-00001.parquet"
    data = bytearray(drop1.read_bytes()); data[-10] ^= 0xFF; drop1.write_bytes(bytes(data))  # modified
    os.remove(length / "part-00002.parquet")                          # marker without its part
    os.remove(length / "_done" / "part-00003.json")                   # part without its marker
    results = run(broken)
    assert results[1].stats["redone_by_reason"] == {"part_changed": 2, "part_missing": 1, "part_without_marker": 1}
    assert "redone_by_reason" not in results[0].stats  # the read step was intact: skipped
    assert json.load(open(length / "stats.json"))["redone_by_reason"]["part_changed"] == 2
    for name, path in _data_files(clean).items():
        assert filecmp.cmp(path, broken / name, shallow=False), name
    assert "redone_by_reason" not in run(broken)[1].stats  # now intact: nothing redone


def test_temp_files_of_a_worker_killed_mid_write_are_removed(tmp_path, dask_client):
    """A worker killed while writing leaves its temp file beside the target (the rescheduled
    task writes its own): the run removes them once no shard task runs, and counts them."""
    copy_sample(tmp_path / "in", n_files=3)
    wf = build({"inputs": [str(tmp_path / "in")], "steps": [
        {"name": "read", "stage": "read_documents"},
        {"name": "length", "stage": "length_filter", "params": {"min_words": 50}}]})
    runner.run(wf, workdir=str(tmp_path / "w"), client=dask_client, quiet=True)
    length = tmp_path / "w" / "length"
    before = {p.relative_to(length): p.read_bytes() for p in length.rglob("part-*.parquet")}
    half = (length / "part-00001.parquet").read_bytes()[:500]
    left = [length / ".tmp-k1l2m3.parquet", length / "dropped" / ".tmp-n4o5p6.parquet", length / "_done" / ".tmp-q7r8.json"]
    for p in left:
        p.write_bytes(half)  # what a killed writer leaves: a partial file under a temp name
    os.remove(length / "_done" / "part-00001.json")  # its shard was not finished either
    results = runner.run(wf, workdir=str(tmp_path / "w"), client=dask_client, quiet=True)
    assert not any(p.exists() for p in left)
    assert results[1].stats["temp_files_removed"] == 3 and "temp_files_removed" not in results[0].stats
    after = {p.relative_to(length): p.read_bytes() for p in length.rglob("part-*.parquet")}
    assert after == before
    assert "temp_files_removed" not in runner.run(wf, workdir=str(tmp_path / "w"), client=dask_client,
                                                  quiet=True)[1].stats
