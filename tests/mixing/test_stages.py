"""The mixture-search stages end to end on a tiny token folder, run by hand through their
contexts (no cluster): swarm -> fit -> propose -> compare (pack + train each mixture)."""

from __future__ import annotations

import json
import os

from gristmill.mixing.stages import MixCompare, MixFit, MixPropose, MixSwarm
from gristmill.mixing.mixture import parse_weights
from gristmill.pipeline.context import FitContext
from gristmill.pipeline.layout import list_parts
from gristmill.pipeline.registry import resolve
from tests.mixing.test_swarm import TINY
from tests.support.mix_data import token_folder


def test_swarm_fit_propose_compare_stages(tmp_path):
    tokens = token_folder(str(tmp_path / "docs"))
    docs = os.path.dirname(tokens)
    assert resolve("mix_swarm@1") is MixSwarm and resolve("mix_compare@1") is MixCompare

    def ctx(step, upstream):
        return FitContext.local(list_parts(docs), str(tmp_path / step), step=step, upstream_dir=upstream,
                                documents_dir=docs)

    info = MixSwarm(runs=5, proxy=TINY, budget_tokens=20_000, max_epochs=4).write(ctx("swarm", tokens))
    assert info["runs"] == 5
    fit = MixFit(model="ridge").write(ctx("fit", str(tmp_path / "swarm")))
    assert fit["chosen"] == "ridge" and set(fit["spearman"]) >= {"bpb_alpha", "mean"}
    prop = MixPropose(kl=0.05).write(ctx("propose", str(tmp_path / "fit")))
    weights = parse_weights(str(tmp_path / "propose" / "WEIGHTS.yaml"))
    assert abs(sum(weights.values()) - 1) < 1e-4 and weights == prop["weights"]
    assert os.path.exists(tmp_path / "propose" / "REPORT.html")
    cmp = MixCompare(mixtures=["proposal", "uniform"], seeds=[0], config={"steps": 6},
                     val_fraction=0.1).write(ctx("compare", str(tmp_path / "propose")))
    got = json.load(open(tmp_path / "compare" / "compare.json"))
    assert set(got) == {"proposal", "uniform"} and all(v["bpb_mean"] > 0 for v in got.values())
    assert "uniform" in cmp["headline"]
    # each mixture was packed from the documents at the proposal's budget, same held-out set
    m = [json.load(open(tmp_path / "compare" / n / "tokens" / "manifest.json")) for n in ("proposal", "uniform")]
    assert m[0]["splits"]["val"]["tokens"] == m[1]["splits"]["val"]["tokens"]
    assert m[1]["mixture"]["requested_weights"] == {"alpha": 1 / 3, "code": 1 / 3, "digits": 1 / 3}
    # the run report shows the search's plots (drawn by mixing.report from the fitted swarm)
    from gristmill.pipeline.audit.report import mixture_search
    from gristmill.pipeline.audit.workdir import Run, StepInfo

    run = Run(root=str(tmp_path), token_dir=tokens, documents_dir=docs, train_dir=None, steps=[
        StepInfo("swarm", str(tmp_path / "swarm"), "sink", "mix_swarm@1", fit=info),
        StepInfo("propose", str(tmp_path / "propose"), "sink", "mix_propose@1", fit=prop)])
    found = {m["step"]: m for m in mixture_search(run)}
    drawn = {p["name"] for p in found["propose"]["plots"]}
    assert {"predicted_vs_actual", "proposal", "weights"} <= drawn and not found["swarm"]["plots"]
    assert all(p["data"].startswith("data:image/png;base64,") for p in found["propose"]["plots"])
