"""The runner's in-process path: what it asks of a Dask client, done in this process.

With one worker on this machine (`--workers 1`, `workers: 1`) and only shard-by-shard
steps (source and map stages), a LocalCluster buys nothing: starting it, its worker process
and that process's imports, then closing it, took seconds, as long as ingesting a few
hundred pages. The runner then hands its tasks to `InlineClient` instead. The task body
is the same (`shard_task.run_shard`), each task gets its arguments the way a Dask worker
does (an unpickled copy: the caller's stage is never set up), a task that raises is retried
once (`retries=1`), a task whose upstream failed fails with the upstream's error, and
shards run depth-first (every step of shard 0, then of shard 1, ...), the order the
cluster's priorities give one worker. So the parts, drop logs and markers are those of the
cluster path, and a run started one way resumes the other.
"""

from __future__ import annotations

import os
import pickle
import sys
from contextlib import contextmanager

from gristmill.pipeline.context import ShardContext

# What distributed's nanny sets in a worker process before it starts (its default
# `distributed.nanny.pre-spawn-environ`): one thread per numeric library, so a stage's
# thread pools (torch, MKL, OpenMP), created when it is set up, are a worker's.
WORKER_ENVIRON = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@contextmanager
def worker_environ():
    """WORKER_ENVIRON for the run (variables the user set are left alone), then restored."""
    added = {k: v for k, v in WORKER_ENVIRON.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


class _NoPandas:
    """A meta-path finder that says pandas is not installed (while pyarrow looks for it)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "pandas":
            raise ModuleNotFoundError("hidden from pyarrow's probe", name=name)
        return None


@contextmanager
def without_pandas_probe(skip: bool = True):
    """For a run whose stages never hand pandas objects to pyarrow (`Stage.uses_pandas`
    False): pyarrow's first `pa.array`/`pa.table` of Python lists looks for pandas (to tell
    pandas objects apart), and looking imports it: 0.2-0.4 s of CPU, 2-3% of a 990-page
    `gristmill ingest --workers 1`, for a library ingest never uses. Here pyarrow looks once
    with pandas hidden and so takes every list as a list (as it does where pandas is not
    installed); afterwards its pandas shim is reset to how pyarrow starts, so a later
    `pa.array(series)` in this process imports pandas and converts the series as it always
    did. Without pyarrow's shim where it is now (another pyarrow), or with pandas already
    imported, it does nothing."""
    import pyarrow as pa

    shim = getattr(getattr(pa, "lib", None), "_pandas_api", None)
    if not skip or "pandas" in sys.modules or shim is None:
        yield
        return
    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])  # pyarrow's probe runs now, finds no pandas, and is not repeated
    finally:
        sys.meta_path.remove(finder)
    try:
        yield
    finally:
        shim.__init__()  # untried again: pyarrow's next probe imports pandas as before


class InlineFuture:
    """A task that runs when its result is first asked for."""

    def __init__(self, fn, args: tuple, retries: int, order: tuple):
        self.fn, self.args, self.retries, self.order = fn, args, retries, order
        self._done = False
        self._value = None
        self._error: BaseException | None = None

    def result(self):
        if not self._done:
            self._run()
        if self._error is not None:
            raise self._error
        return self._value

    def _run(self) -> None:
        try:
            args = [a.result() if isinstance(a, InlineFuture) else a for a in self.args]
        except Exception as e:  # noqa: BLE001 - as on Dask: a dependent task fails with its upstream
            self._done, self._error = True, e
            return
        for attempt in range(self.retries + 1):
            try:
                self._value, self._error = self.fn(*args), None
                break
            except Exception as e:  # noqa: BLE001 - kept and raised by result(), like a Dask future
                self._error = e
        self.fn = self.args = None  # the stage copy and inputs are not needed any more
        self._done = True


def _as_a_worker_gets_it(arg):
    """An argument as a Dask worker receives it: unpickled from the bytes the client sent."""
    if isinstance(arg, InlineFuture):
        return arg
    try:
        import cloudpickle  # what Dask serialises tasks with (a dependency of distributed)
    except ImportError:  # pragma: no cover - distributed always brings it
        cloudpickle = pickle
    return pickle.loads(cloudpickle.dumps(arg))


class InlineClient:
    """`submit`, `as_completed` and `scheduler_info`, as far as the runner uses them."""

    def __init__(self):
        self._submitted = 0

    def submit(self, fn, *args, key=None, priority=0, resources=None, pure=False, retries=0) -> InlineFuture:
        shard = next((a.index for a in args if isinstance(a, ShardContext)), 0)
        self._submitted += 1
        return InlineFuture(fn, tuple(_as_a_worker_gets_it(a) for a in args), retries,
                            order=(shard, priority, self._submitted))

    @staticmethod
    def as_completed(futures):
        """The futures in the order they run: shard by shard, each shard's steps in turn."""
        yield from sorted(futures, key=lambda f: f.order)  # each runs when the caller asks its result()

    @staticmethod
    def scheduler_info(n_workers: int = -1) -> dict:
        return {"workers": {}}  # no worker offers resources: GPU stages take their CPU path
