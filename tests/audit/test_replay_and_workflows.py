"""The trainer replay the audit relies on, and the job workflows load and end as documented."""

from __future__ import annotations

import os

import numpy as np
import yaml

from gristmill.pipeline import workflow
from gristmill.pipeline.audit.tokens import replay_windows
from tests.audit import fixture_run as fx
from tests.support.paths import REPO

WORKFLOWS = os.path.join(REPO, "workflows")


def test_replay_draws_the_trainers_windows(fixture_run):
    """replay_windows makes the same draws as TokenData.batch: same shards, same starts."""
    from gristmill.tokenize.train import TokenData

    folder = os.path.join(fixture_run, "shards")
    block, batch, seed, steps = fx.TRAIN["block_size"], fx.TRAIN["batch_size"], 3, 4
    data = TokenData(folder, block)
    rng = np.random.default_rng(seed)
    got = [data.batch(rng, batch)[0].numpy() for _ in range(steps)]
    shards, starts = replay_windows([len(t) for t in data.train], seed, steps, batch, block)
    want = [np.asarray(data.train[s][st:st + block], dtype=np.int64) for s, st in zip(shards, starts)]
    assert np.array_equal(np.concatenate(got), np.stack(want))


def test_job_workflows_load_and_check_columns():
    for name in ("common_crawl", "audit_licensing", "train", "quickstart"):
        wf = workflow.load(os.path.join(WORKFLOWS, f"{name}.yaml"))
        assert wf.inputs, name
    train = workflow.load(os.path.join(WORKFLOWS, "train.yaml"))
    shards = next(s for s in train.steps if s.name == "shards")
    assert shards.stage.cfg.export == ["megatron", "olmo"] and shards.stage.cfg.weights
    audit = workflow.load(os.path.join(WORKFLOWS, "audit_licensing.yaml"))
    assert audit.steps[-1].stage.versioned_name == "audit@1" and audit.steps[-1].stage.cfg.strict


def test_quickstart_ends_with_the_report_and_the_audit():
    spec = yaml.safe_load(open(os.path.join(WORKFLOWS, "quickstart.yaml")))
    assert {s["stage"] for s in spec["steps"][-2:]} == {"audit@1", "report@1"}
