"""Workflow stages of mixture search (all sinks: they make a mixture folder, not documents).

* `mix_swarm@1`: proxies on sampled mixtures of the upstream token folder (token_shards),
  one Dask task each through the step's FitContext; its folder is a MIXDIR.
* `mix_fit@1`: the upstream MIXDIR's runs regressed (fit.json, model.pkl), in its own folder.
* `mix_propose@1`: the proposal (WEIGHTS.yaml, proposal.json) and REPORT.html.
* `mix_compare@1`: packs the proposal, natural, uniform and UniMax from the tokenized
  documents (same held-out documents for all), trains the bundled GPT on each (one task per
  mixture and seed) and reports held-out bits per byte: the check the regression cannot give.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Any

import numpy as np

from gristmill.pipeline.params import param
from gristmill.pipeline.stage import Stage


def _carry(src: str, dst: str, names: tuple[str, ...]) -> None:
    """A later step's folder starts as a copy of the MIXDIR before it (small files)."""
    for n in names:
        if os.path.exists(os.path.join(src, n)) and os.path.abspath(src) != os.path.abspath(dst):
            shutil.copyfile(os.path.join(src, n), os.path.join(dst, n))


class MixSwarm(Stage):
    """Train proxy models on Dirichlet-sampled mixtures of the upstream token folder."""

    name = "mix_swarm"
    kind = "sink"
    reads = ()
    deterministic = False  # wall-clock seconds per run

    @dataclass(frozen=True)
    class Params:
        runs: int = param(24, "proxy runs (Olmix: about 5 x the domains)", ge=2)
        by: str = param("source", "what names a domain", choices=("source", "topic"))
        prior: str = param("natural", "what the mixtures are sampled around", choices=("natural", "uniform", "unimax"))
        proxy: dict[str, Any] = param({}, "TrainConfig fields of the proxies (default: mixing.proxy.PROXY_DEFAULTS, 300 steps)")
        seed: int = param(0, "seed of the mixtures and of every proxy")
        budget_tokens: int | None = param(None, "target budget of the caps (default: the proxy's tokens)", gt=0)
        max_epochs: float = param(4.0, "repetition cap", gt=0)
        targets: dict[str, str] = param({}, "extra target text sets {name: file}: bits per byte on each")

    def write(self, ctx) -> dict:
        from gristmill.mixing.swarm import plan_swarm, run_swarm

        c = self.cfg
        plan = plan_swarm(ctx.step.upstream_dir, c.runs, c.by, c.prior, c.proxy, c.seed, c.budget_tokens,
                          c.max_epochs, c.targets)
        runs = run_swarm(plan, ctx.out_dir, client=ctx.client, progress=lambda *_: None)
        return {"runs": len(runs), "domains": plan["domains"], "mix_dir": ctx.out_dir,
                "headline": f"{len(runs)} proxy runs over {len(plan['domains'])} domains in {ctx.out_dir}"}


class MixFit(Stage):
    """Regress each metric of the upstream swarm on the weights; out-of-fold scores."""

    name = "mix_fit"
    kind = "sink"
    reads = ()

    @dataclass(frozen=True)
    class Params:
        model: str | None = param(None, "regression (default: the best out-of-fold mean Spearman)",
                                  choices=("loglinear", "ridge", "gbm", "gp"))
        targets: list[str] = param([], "metrics to fit (default: all)")

    def write(self, ctx) -> dict:
        from gristmill.mixing.runs import RUNS, SWARM
        from gristmill.mixing.search import fit_mixdir

        _carry(ctx.step.upstream_dir, ctx.out_dir, (SWARM, RUNS))
        r = fit_mixdir(ctx.out_dir, self.cfg.model, self.cfg.targets or None)
        rho = {m: v["spearman"] for m, v in r["models"][r["chosen"]].items()}
        return {"chosen": r["chosen"], "spearman": rho,
                "headline": f"{r['chosen']}: out-of-fold Spearman " + ", ".join(f"{m} {v:.2f}" for m, v in rho.items())}


class MixPropose(Stage):
    """The best predicted mixture within the caps -> WEIGHTS.yaml (+ REPORT.html)."""

    name = "mix_propose"
    kind = "sink"
    reads = ()

    @dataclass(frozen=True)
    class Params:
        budget_tokens: int | None = param(None, "budget the caps apply at (default: the swarm's)", gt=0)
        max_epochs: float | None = param(None, "repetition cap (default: the swarm's)", gt=0)
        kl: float = param(0.05, "weight of KL(w || prior)", ge=0)
        prior: str = param("natural", "the KL term's prior", choices=("natural", "uniform"))

    def write(self, ctx) -> dict:
        from gristmill.mixing.report import write_report
        from gristmill.mixing.runs import FIT, MODEL, RUNS, SWARM
        from gristmill.mixing.search import propose_mixdir

        _carry(ctx.step.upstream_dir, ctx.out_dir, (SWARM, RUNS, FIT, MODEL))
        r = propose_mixdir(ctx.out_dir, os.path.join(ctx.out_dir, "WEIGHTS.yaml"), self.cfg.budget_tokens,
                           self.cfg.max_epochs, self.cfg.kl, self.cfg.prior)
        write_report(ctx.out_dir, os.path.join(ctx.out_dir, "REPORT.html"))
        return {"weights": r["weights"], "predicted_mean": {k: v["predicted_mean"] for k, v in r["compare"].items()},
                "budget_tokens": r["budget_tokens"], "max_epochs": r["max_epochs"],
                "headline": "proposal " + ", ".join(f"{d} {w:.3f}" for d, w in r["weights"].items())}


class MixCompare(Stage):
    """Pack and train the proposal beside natural, uniform and UniMax; held-out bits per byte."""

    name = "mix_compare"
    kind = "sink"
    reads = ("n_tokens", "tokens")
    deterministic = False

    @dataclass(frozen=True)
    class Params:
        mixtures: list[str] = param(["proposal", "natural", "uniform", "unimax"], "which mixtures to train",
                                    choices=("proposal", "natural", "uniform", "unimax"))
        seeds: list[int] = param([0, 1], "training seeds per mixture (their spread is the noise)")
        config: dict[str, Any] = param({}, "TrainConfig fields (default: the swarm's proxy recipe)")
        val_fraction: float = param(0.05, "held-out share per domain: must be the swarm's token folder's", ge=0, le=1)

    def write(self, ctx) -> dict:
        from gristmill.mixing.runs import read_swarm
        from gristmill.mixing.search import PROPOSAL
        from gristmill.mixing.runs import write_json
        import json

        mix_dir = ctx.step.upstream_dir
        with open(os.path.join(mix_dir, PROPOSAL)) as f:
            proposal = json.load(f)
        swarm = read_swarm(mix_dir)
        tokenizer = os.path.join(ctx.step.documents_dir or "", "tokenizer.json")
        weights = {"proposal": proposal["weights"], **proposal["baselines"]}
        config = {**swarm.get("proxy", {}), **self.cfg.config}
        packed = {}
        for name in self.cfg.mixtures:
            packed[name] = _pack(ctx, name, weights[name], proposal, tokenizer, self.cfg.val_fraction, swarm["by"])
        jobs = [(name, seed) for name in self.cfg.mixtures if packed[name].get("folder") for seed in self.cfg.seeds]
        results = ctx.map(_train_one, jobs, out_dir=ctx.out_dir, config=config,
                          folders={k: v.get("folder") for k, v in packed.items()})
        table = {}
        for (name, seed), bpb in zip(jobs, results):
            table.setdefault(name, {})[seed] = bpb
        summary = {}
        for name in self.cfg.mixtures:
            if name not in table:
                summary[name] = {"infeasible": packed[name].get("error")}
                continue
            per_seed = [float(np.mean(list(b.values()))) for b in table[name].values()]
            domains = sorted(next(iter(table[name].values())))
            summary[name] = {"bpb_mean": round(float(np.mean(per_seed)), 4),
                             "bpb_seed_sd": round(float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0, 4),
                             "bpb_by_domain": {d: round(float(np.mean([b[d] for b in table[name].values()])), 4)
                                               for d in domains},
                             "weights": weights[name]}
        write_json(summary, os.path.join(ctx.out_dir, "compare.json"))
        line = "; ".join(f"{n} {s['bpb_mean']:.4f}±{s['bpb_seed_sd']:.4f}" if "bpb_mean" in s else f"{n} infeasible"
                         for n, s in summary.items())
        return {"mixtures": summary, "headline": f"held-out bits per byte (mean over domains, ± seed sd): {line}"}


def _pack(ctx, name, weights, proposal, tokenizer, val_fraction, by) -> dict:
    from gristmill.mixing.mixture import InfeasibleMixture, MixtureSpec
    from gristmill.tokenize.pack import pack

    folder = os.path.join(ctx.out_dir, name, "tokens")
    spec = MixtureSpec(by=by, weights={d: w for d, w in weights.items() if w > 0},
                       budget_tokens=proposal.get("budget_tokens"), max_epochs=proposal.get("max_epochs") or 4.0)
    try:
        pack(ctx.inputs, folder, ctx.map, tokenizer, spec, val_fraction=val_fraction)
    except InfeasibleMixture as e:
        return {"error": str(e)}
    return {"folder": folder}


def _train_one(job, out_dir, config, folders) -> dict:
    from gristmill.tokenize.train import TrainConfig, train

    name, seed = job
    cfg = TrainConfig(**{**config, "seed": seed, "threads": 1})
    summary = train(folders[name], os.path.join(out_dir, name, f"run-seed{seed}"), cfg)
    return summary["val_bpb_by_domain"]
