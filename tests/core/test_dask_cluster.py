"""A real `dask scheduler` and two `dask worker` processes on loopback, one with a GPU resource."""

import json
import os
import socket
import subprocess
import sys

import pytest
import yaml

from tests.support.paths import REPO, copy_sample


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def external_cluster(tmp_path):
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [subprocess.Popen(dask + ["--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    worker = [sys.executable, "-m", "distributed.cli.dask_worker", addr, "--nthreads", "1", "--no-dashboard",
              "--host", "127.0.0.1"]
    procs.append(subprocess.Popen(worker + ["--name", "cpu-worker"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True))
    procs.append(subprocess.Popen(worker + ["--name", "gpu-worker", "--resources", "GPU=1"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    from distributed import Client

    client = Client(addr, timeout="60s")
    client.wait_for_workers(2, timeout=90)
    info = client.scheduler_info(n_workers=-1)["workers"]
    gpu_addr = next(a for a, w in info.items() if w.get("resources", {}).get("GPU"))
    client.close()
    yield addr, gpu_addr
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=30)


def test_workflow_runs_on_external_scheduler_and_gpu_stage_lands_on_gpu_worker(tmp_path, external_cluster):
    addr, gpu_addr = external_cluster
    inputs = copy_sample(tmp_path / "in", n_files=4)
    spec = {"name": "ext", "inputs": [str(inputs)], "steps": [
        {"name": "read", "stage": "read_documents"},
        {"name": "gpu", "stage": "tests.support.stages:NeedsGPU"},
        {"name": "length", "stage": "length_filter"}]}
    wf = tmp_path / "wf.yaml"
    wf.write_text(yaml.safe_dump(spec))
    env = dict(os.environ, PYTHONPATH=REPO)
    r = subprocess.run([sys.executable, "-m", "gristmill.pipeline.cli", "run", str(wf), "--workdir",
                        str(tmp_path / "w"), "--scheduler", addr], capture_output=True, text=True, timeout=300,
                       env=env)
    assert r.returncode == 0, r.stderr
    assert "workflow ext" in r.stdout
    gpu = json.load(open(tmp_path / "w" / "gpu" / "stats.json"))
    assert gpu["complete"] and set(gpu["workers"]) == {gpu_addr}
    read = json.load(open(tmp_path / "w" / "read" / "stats.json"))
    assert read["docs_in"] > 0 and gpu["docs_in"] == read["docs_out"]
    assert all(a.startswith("tcp://127.0.0.1") for a in read["workers"])
