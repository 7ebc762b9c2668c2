"""A tiny real swarm: proxies trained on sampled mixtures of one token folder (windows drawn by
weight from its shards), on a Dask cluster through the command line, resumed after a stop."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from gristmill.mixing import runs as mixruns
from gristmill.mixing.swarm import plan_swarm, run_swarm
from gristmill.tokenize import shard_format as sf
from gristmill.tokenize.train import DomainWindows
from tests.support.mix_data import token_folder

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 32, "batch_size": 8, "steps": 8, "warmup_steps": 2,
        "eval_windows": 4, "eval_interval": 8, "checkpoint_interval": 8, "log_interval": 4}


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    return token_folder(str(tmp_path_factory.mktemp("swarm")))


def _domain_token_ids(folder, domain):
    m = sf.read_manifest(folder)
    ids = set()
    for i in range(len(m["splits"]["train"]["shards"])):
        t = sf.open_tokens(folder, "train", i, m["dtype"])
        index = sf.read_index(sf.index_path(folder, "train", i))
        for off, n, src in zip(index.column("offset").to_pylist(), index.column("length").to_pylist(),
                               index.column("source").to_pylist()):
            if src == domain:
                ids |= set(np.asarray(t[off:off + n + 1]).tolist())
    return ids


def test_windows_come_from_the_weighted_domains_only(tokens):
    m = sf.read_manifest(tokens)
    shards = [sf.open_tokens(tokens, "train", i, m["dtype"]) for i in range(len(m["splits"]["train"]["shards"]))]
    only_digits = DomainWindows(tokens, m, shards, 32, {"digits": 1.0, "alpha": 0.0})
    got = set(only_digits.windows(np.random.default_rng(0), 64).ravel().tolist())
    assert got <= _domain_token_ids(tokens, "digits")
    assert not got <= _domain_token_ids(tokens, "alpha")
    with pytest.raises(ValueError, match="poetry"):
        DomainWindows(tokens, m, shards, 32, {"poetry": 1.0})


def test_swarm_on_dask_writes_runs_and_resumes(tokens, tmp_path):
    from gristmill.pipeline.cli import main

    mix = str(tmp_path / "mix")
    proxy = tmp_path / "proxy.yaml"
    proxy.write_text(json.dumps(TINY))
    target = tmp_path / "target.txt"
    target.write_text("def f(x): return x for x in range(3): " * 20)
    assert main(["mix", "swarm", tokens, "--out", mix, "--runs", "3", "--proxy", str(proxy), "--seed", "1",
                 "--target", f"code_eval={target}", "--workers", "2", "--quiet"]) == 0
    table = mixruns.read_runs(mix)
    swarm = mixruns.read_swarm(mix)
    assert sorted(table["run_id"]) == ["run-0000", "run-0001", "run-0002"]
    assert swarm["domains"] == ["alpha", "code", "digits"]
    assert swarm["metrics"] == ["bpb_alpha", "bpb_code", "bpb_digits", "bpb_target_code_eval"]
    assert np.allclose(table[swarm["domains"]].sum(axis=1), 1)
    for col in (*swarm["metrics"], "proxy_hash", "seed", "tokens_hash"):
        assert table[col].notna().all(), col
    assert (table["seed"] == 1).all() and table["tokens_hash"].nunique() == 1
    assert table["bpb_alpha"].between(0.1, 20).all()

    # a stopped swarm asked for more runs trains only the missing ones (in-process here)
    seen = []
    plan = plan_swarm(tokens, 4, proxy_overrides=TINY, seed=1, targets={"code_eval": str(target)})
    out = run_swarm(plan, mix, client=None, progress=seen.append)
    assert len(out) == 4 and "3 run(s) already" in seen[0]
    assert [s for s in seen if "done" in s] == [s for s in seen if "run-0003" in s]
    assert out.set_index("run_id").loc["run-0000", "bpb_alpha"] == table.set_index("run_id").loc["run-0000", "bpb_alpha"]
    # another proxy recipe in the same folder is refused, not mixed in
    with pytest.raises(mixruns.MixDirError, match="proxy_hash"):
        run_swarm(plan_swarm(tokens, 4, proxy_overrides={**TINY, "steps": 9}, seed=1), mix)
    assert not os.path.exists(os.path.join(mix, "proxies", "run-0000", "ckpt.pt"))


def test_mix_apply_reads_a_proposed_weights_yaml(tokens, tmp_path):
    from gristmill.pipeline.cli import main

    weights = tmp_path / "WEIGHTS.yaml"
    weights.write_text("by: source\nweights: {alpha: 0.5, code: 0.25, digits: 0.25}\nbudget_tokens: 6000\n"
                       "max_epochs: 4.0\n")
    out = str(tmp_path / "mixed")
    assert main(["mix", "apply", os.path.dirname(tokens), "--weights", str(weights), "--out", out,
                 "--val-fraction", "0.1", "--workers", "1", "--quiet"]) == 0
    m = sf.read_manifest(out)["mixture"]
    assert m["requested_weights"] == {"alpha": 0.5, "code": 0.25, "digits": 0.25}
    assert m["budget_tokens"] == 6000 and m["max_epochs"] == 4.0
    assert abs(m["realised"]["alpha"]["fraction"] - 0.5) < 0.05
