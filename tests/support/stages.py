"""Stages used only by the tests (named in workflows as `tests.support.stages:Class`)."""

import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from gristmill.pipeline.params import param
from gristmill.pipeline.stage import Stage, StageOutput


class SlowPass(Stage):
    """Keeps everything, slowly: gives the resume test time to kill a run mid-way."""

    name = "slow_pass"

    @dataclass(frozen=True)
    class Params:
        seconds: float = param(0.5, "sleep per shard")

    def process(self, table, ctx=None):
        time.sleep(self.cfg.seconds)
        return StageOutput(table, counters={"slept": 1})


class ExplodesOnBoom(Stage):
    """Raises on any batch holding a document with BOOM in it (a stage bug on odd input)."""

    name = "explodes_on_boom"

    def process(self, table, ctx=None):
        if pc.any(pc.match_substring(table.column("text"), "BOOM")).as_py():
            raise ValueError("cannot handle BOOM")
        return StageOutput(table)


class AlwaysBroken(Stage):
    name = "always_broken"

    def process(self, table, ctx=None):
        raise ImportError("missing package xyz")


class NeedsGPU(Stage):
    """Asks for a GPU worker; records nothing special: the runner records where it ran."""

    name = "needs_gpu"
    resources = {"GPU": 1}

    def process(self, table, ctx=None):
        return StageOutput(table)


class ReadsScore(Stage):
    name = "reads_score"
    reads = ("text", "score_quality")

    def process(self, table, ctx=None):
        return StageOutput(table)


class AddsScore(Stage):
    name = "adds_score"
    adds = ("score_quality",)

    def process(self, table, ctx=None):
        return StageOutput(table.append_column("score_quality", pa.array([0.5] * table.num_rows, pa.float32())))


class TakesPaths(Stage):
    """Declares two string parameters, for the recipe-relative path test."""

    name = "takes_paths"

    @dataclass(frozen=True)
    class Params:
        f: str = param("", "a path next to the recipe")
        g: str = param("", "a string that names no file")

    def process(self, table, ctx=None):
        return StageOutput(table)


class CountsDocuments(Stage):
    """A sink: writes how many documents it was given (and its label) to count.json."""

    name = "counts_documents"
    kind = "sink"
    reads = ()

    @dataclass(frozen=True)
    class Params:
        label: str = param("a", "written beside the count")

    def write(self, ctx):
        import json
        import os

        import pyarrow.parquet as pq

        n = sum(pq.read_metadata(p).num_rows for p in ctx.inputs)
        with open(os.path.join(ctx.out_dir, "count.json"), "w") as f:
            json.dump({"documents": n, "label": self.cfg.label, "upstream": ctx.step.upstream_dir}, f)
        return {"documents": n, "headline": f"{n} documents counted"}
