"""A Dask client run inside a namespaced host (tests/support/netns.py) to look at the cluster.

    python -m tests.support.cluster_probe wait tcp://ADDR:PORT N
        waits for N workers; prints {name: {"address": ..., "pid": ...}} as JSON
    python -m tests.support.cluster_probe stop-mid-step tcp://ADDR:PORT WORKER STEP_PREFIX MARKER_DIR
        watches worker WORKER's executing tasks; as soon as it runs a task whose key starts
        with STEP_PREFIX (the runner's keys: <workflow>-<step>-<shard>-<tag>), freezes that
        worker (SIGSTOP) and checks that the shard's marker is not written yet (else it lets
        it go on and waits for the next one); then prints {"key", "shard", "pid", ...} as
        JSON and exits, leaving the worker frozen for its SIGKILL. So the kill is timed by
        the task's own progress, never by a sleep, and is known to land mid-task.
        MARKER_DIR `-`: STEP_PREFIX names a fit-phase task (`sign_shard-`, `_gather_job-`:
        the function's name), frozen as soon as it runs.

The pid namespace is not separate: a worker's os.getpid() is the pid the test can signal.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

POLL_SECONDS = 0.01


def _executing(dask_worker=None) -> list[str]:
    return [str(ts.key) for ts in dask_worker.state.executing]


def _workers(client) -> dict[str, dict]:
    info = client.scheduler_info(n_workers=-1)["workers"]
    pids = client.run(os.getpid)
    return {w["name"]: {"address": a, "pid": pids.get(a)} for a, w in info.items()}


def wait(address: str, n: int) -> dict:
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(n, timeout=120)
        return _workers(client)


def stop_mid_step(address: str, worker: str, prefix: str, marker_dir: str, timeout: float = 300) -> dict:
    from distributed import Client

    deadline = time.monotonic() + timeout
    tries = 0
    with Client(address, timeout="60s") as client:
        target = _workers(client)[worker]
        while time.monotonic() < deadline:
            keys = [k for k in client.run(_executing, workers=[target["address"]]).get(target["address"], [])
                    if k.startswith(prefix)]
            if keys:
                os.kill(target["pid"], signal.SIGSTOP)
                tries += 1
                if marker_dir == "-":  # a fit-phase task (ctx.map): it leaves no marker to check
                    return {"key": keys[0], "shard": None, "worker": worker, **target, "tries": tries}
                shard = int(keys[0][len(prefix):].split("-")[0])
                marker = os.path.join(marker_dir, f"part-{shard:05d}.json")
                if not os.path.exists(marker):  # frozen before its last write: mid-task for sure
                    return {"key": keys[0], "shard": shard, "worker": worker, **target, "tries": tries}
                os.kill(target["pid"], signal.SIGCONT)  # it had just finished: catch the next one
            time.sleep(POLL_SECONDS)
    raise TimeoutError(f"worker {worker} never ran a task {prefix}* in {timeout}s")


def main(argv: list[str]) -> int:
    cmd, *args = argv
    if cmd == "wait":
        out = wait(args[0], int(args[1]))
    elif cmd == "stop-mid-step":
        out = stop_mid_step(*args)
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
