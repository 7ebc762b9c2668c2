"""Where a stage runs, handed to it as one explicit object.

* `StepContext`: one per step: its name, its folder layout (output, state, side outputs such
  as the PDF queue), the run's workdir, the upstream step's folder and fit result, its own fit result once the
  corpus-wide phase has run. `setup(ctx)` receives it.
* `ShardContext`: one per shard task: the step context plus the shard's index and input.
  `process(table, ctx)` and `process_file(path, ctx)` receive it.
* `FitContext`: what a corpus-wide phase (`fit`) or a sink (`write`) gets: the step context,
  the input parts, and the cluster, reached only through this object: `map` (one task per
  item), `compute` (Dask collections, e.g. DataFrame shuffles) and `client` (for what those
  two don't cover, such as `client.run` on every worker). Without a client (a stage run by
  hand, or a unit test) `map` runs in this process and `compute` uses Dask's synchronous
  scheduler: the same code, no cluster.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from gristmill.pipeline.layout import StepLayout


@dataclass(frozen=True)
class StepContext:
    step: str
    layout: StepLayout
    workdir: str | None = None          # the run's workdir (`gristmill run --workdir`); None for a lone --out
    upstream_dir: str | None = None     # the previous step's folder (or the input folder)
    upstream_fit: dict | None = None    # the previous step's corpus-wide result (`_fitted`)
    documents_dir: str | None = None    # for sinks: the folder of the last step that wrote documents
    fit: dict | None = None             # this step's own corpus-wide result, once it ran

    @property
    def out_dir(self) -> str:
        return self.layout.out_dir

    @property
    def state_dir(self) -> str:
        return self.layout.state_dir

    @property
    def pdf_queue_dir(self) -> str:
        return self.layout.pdf_queue_dir

    def with_fit(self, fit: dict | None) -> "StepContext":
        return replace(self, fit=fit)

    @classmethod
    def local(cls, out_dir: str, step: str = "step", **kwargs) -> "StepContext":
        """A context for running a stage by hand into `out_dir` (tests, notebooks)."""
        os.makedirs(out_dir, exist_ok=True)
        return cls(step=step, layout=StepLayout(out_dir, step), **kwargs)


@dataclass(frozen=True)
class ShardContext:
    step: StepContext
    index: int = 0
    input_path: str = ""

    @property
    def out_dir(self) -> str:
        return self.step.out_dir

    @property
    def state_dir(self) -> str:
        return self.step.state_dir


@dataclass
class FitContext:
    step: StepContext
    inputs: list[str]
    client: object | None = None
    workers: int = 1
    extra: dict = field(default_factory=dict)

    @property
    def state_dir(self) -> str:
        return self.step.state_dir

    @property
    def out_dir(self) -> str:
        return self.step.out_dir

    def map(self, fn, items, **kwargs) -> list:
        """`fn(item, **kwargs)` for every item, one task each, results in order."""
        items = list(items)
        if self.client is None:
            return [fn(x, **kwargs) for x in items]
        futures = self.client.map(fn, items, pure=False, **kwargs)
        return self.client.gather(futures)

    def compute(self, *collections):
        """Compute Dask collections on this context's cluster (never an implicit global
        client); a tuple of results, like `dask.compute`."""
        if self.client is None:
            import dask

            return dask.compute(*collections, scheduler="sync")
        return tuple(self.client.gather(self.client.compute(list(collections))))

    @classmethod
    def local(cls, inputs: list[str], out_dir: str, **step_fields) -> "FitContext":
        """In-process context (no cluster) for a step whose folder is `out_dir`."""
        step = StepContext.local(out_dir, **step_fields)
        os.makedirs(step.state_dir, exist_ok=True)
        return cls(step=step, inputs=list(inputs))
