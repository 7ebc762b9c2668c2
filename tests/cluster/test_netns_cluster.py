"""A real multi-host Dask cluster on this machine: scheduler, two workers and the runner each
on its own network-namespace host with its own address (tests/support/netns.py), a shared
folder as the shard store. A dedupe + tokenize workflow run there, with one worker SIGKILLed
in the middle of a tokenize task, completes and writes the same files as a LocalCluster run."""

import os

import pytest

from tests.support import netns
from tests.support import netns_cluster as nc

WHY_NOT = netns.unavailable()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=f"namespaced hosts: {WHY_NOT}")


def test_multi_host_run_with_a_killed_worker_is_byte_identical_to_local_cluster(tmp_path):
    wf = nc.write_workflow(str(tmp_path / "wf.yaml"), nc.sample_inputs(str(tmp_path / "in")))
    reference, workdir = str(tmp_path / "local"), str(tmp_path / "cluster")
    nc.run_local(wf, reference)

    with nc.NetnsCluster(str(tmp_path)) as cluster:
        hosts = cluster.hosts
        w1, w2 = cluster.workers["w1"]["address"], cluster.workers["w2"]["address"]
        assert cluster.address == f"tcp://{hosts.addr['sched']}:{nc.SCHEDULER_PORT}"
        assert w1.startswith(f"tcp://{hosts.addr['w1']}:") and w2.startswith(f"tcp://{hosts.addr['w2']}:")
        run = cluster.run(wf, workdir, kill=("w2", "tokenize"))
    # teardown: no namespace (and so no veth) of this run is left
    assert hosts.leftovers() == []

    assert run["returncode"] == 0, run["output"]
    killed = run["killed"]
    assert killed["returncode"] == -9  # SIGKILL, while frozen inside a tokenize task
    assert killed["key"].startswith(f"{nc.WORKFLOW_NAME}-tokenize-")
    # the scheduler saw w2 go, and the shard w2 was in the middle of was redone by w1
    assert f"Remove worker addr: {w2}" in open(cluster.log("sched")).read()
    assert nc.marker(workdir, "tokenize", killed["shard"])["worker"] == w1
    by_worker = nc.shards_by_worker(workdir)
    assert set(by_worker["read"]) == {w1, w2}, by_worker  # both hosts ran shard tasks
    assert w1 in by_worker["tokenize"] and sum(by_worker["tokenize"].values()) == 14
    # only addresses inside the namespaces were used
    assert all(a.startswith(f"tcp://{netns.SUBNET}.") for step in by_worker.values() for a in step)

    cmp = nc.compare_trees(reference, workdir)
    assert nc.identical(cmp), {k: cmp[k] for k in ("only_in_reference", "only_in_other", "differ")}
    kinds = cmp["by_kind"]
    # every part and drop log of the 4 document steps, the token shards and their indexes
    assert kinds["part"] == kinds["drop_log"] == 4 * 14 and kinds["token_bin"] == kinds["token_index"] > 2
    assert os.path.exists(os.path.join(workdir, "shards", "manifest.json"))
