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


def test_hosts_reach_each_other_and_a_killed_creator_leaves_nothing_behind(tmp_path):
    """Two hosts talk over the bridge; the root namespace gets no interface and a host no route
    out of its subnet; a creator killed
    before its teardown takes its processes with it, and the next Hosts() deletes its namespaces."""
    import subprocess
    import sys
    import time

    root_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    with netns.Hosts(["a", "b"]) as hosts:
        assert subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout == root_links
        serve = [sys.executable, "-c", "import socket,sys; s=socket.create_server((sys.argv[1], 9999)); "
                 "c,_=s.accept(); c.sendall(b'hello from a')", hosts.addr["a"]]
        hosts.popen("a", serve)
        fetch = [sys.executable, "-c", "import socket,sys,time\nfor _ in range(100):\n try:\n"
                 "  print(socket.create_connection((sys.argv[1], 9999), timeout=5).recv(64).decode()); break\n"
                 " except OSError: time.sleep(0.05)", hosts.addr["a"]]
        assert hosts.run("b", fetch, timeout=30).stdout.strip() == "hello from a"
        # a host has its own address on eth0 and no route beyond its /24 (no default route)
        assert hosts.run("b", ["ip", "route"], timeout=10).stdout.split()[0] == f"{netns.SUBNET}.0/{netns.PREFIX_LEN}"
        assert "default" not in hosts.run("b", ["ip", "route"], timeout=10).stdout

    creator = subprocess.run(
        [sys.executable, "-c", "import os, signal, sys; from tests.support import netns\n"
         "h = netns.Hosts(['x']); p = h.popen('x', ['sleep', '300']); print(h.tag, p.pid, flush=True)\n"
         "os.kill(os.getpid(), signal.SIGKILL)"], capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PYTHONPATH=nc.REPO))
    assert creator.returncode == -9
    tag, pid = creator.stdout.split()
    for _ in range(100):  # the sleep dies with its creator (PR_SET_PDEATHSIG)
        if not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z":
            break
        time.sleep(0.05)
    else:
        raise AssertionError("a process started by a killed creator outlived it")
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"{tag}-x" in listed and f"{tag}-switch" in listed
    removed = netns.remove_stale()
    assert {f"{tag}-x", f"{tag}-switch"} <= set(removed)
    assert tag not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
