"""Stages used only by the tests (named in workflows as `stages_for_tests:Class`)."""

import time

import pyarrow as pa
import pyarrow.compute as pc

from gristmill.pipeline.stage import Stage, StageOutput


class SlowPass(Stage):
    """Keeps everything, slowly: gives the resume test time to kill a run mid-way."""

    name = "slow_pass"

    def process(self, table):
        time.sleep(float(self.params.get("seconds", 0.5)))
        return StageOutput(table, counters={"slept": 1})


class ExplodesOnBoom(Stage):
    """Raises on any batch holding a document with BOOM in it (a stage bug on odd input)."""

    name = "explodes_on_boom"

    def process(self, table):
        if pc.any(pc.match_substring(table.column("text"), "BOOM")).as_py():
            raise ValueError("cannot handle BOOM")
        return StageOutput(table)


class AlwaysBroken(Stage):
    name = "always_broken"

    def process(self, table):
        raise ImportError("missing package xyz")


class NeedsGPU(Stage):
    """Asks for a GPU worker; records nothing special: the runner records where it ran."""

    name = "needs_gpu"
    resources = {"GPU": 1}

    def process(self, table):
        return StageOutput(table)


class ReadsScore(Stage):
    name = "reads_score"
    reads = ("text", "score_quality")

    def process(self, table):
        return StageOutput(table)


class AddsScore(Stage):
    name = "adds_score"
    adds = ("score_quality",)

    def process(self, table):
        return StageOutput(table.append_column("score_quality", pa.array([0.5] * table.num_rows, pa.float32())))
