"""A swarm: many proxy runs on sampled mixtures of one token folder, on Dask.

`plan_swarm` reads the folder's per-domain token counts, builds the prior (natural, uniform
or UniMax) and the caps at the target budget, and samples the mixtures (all deterministic in
the seed). `run_swarm` submits one Dask task per unfinished run through the client it is
given (the runner's `dask_client`, or a FitContext's: never an implicit global one), with
`resources={"GPU": 1}` only when a worker offers a GPU, and rewrites runs.parquet as each
run finishes: a killed swarm resumes by skipping the runs already there. Every proxy uses
the same seed (seed noise is as large as many mixture effects at this scale).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from gristmill.mixing import proxy, sampling
from gristmill.mixing.runs import (RUNS, SWARM, MixDirError, config_hash, folder_hash, read_runs, write_json,
                                   write_runs)

log = logging.getLogger("gristmill")


def available_tokens(tokens_dir: str, by: str) -> dict[str, int]:
    from gristmill.tokenize import shard_format as sf

    m = sf.read_manifest(tokens_dir)
    mixture = m.get("mixture", {})
    if mixture.get("requested_weights"):
        log.warning("%s is itself a weighted mixture: its token counts include repeated copies", tokens_dir)
    counts = m.get(f"tokens_by_{by}") or {}
    if not counts:
        raise MixDirError(f"{tokens_dir}: the manifest has no tokens_by_{by}")
    if by != mixture.get("by", "source"):
        raise MixDirError(f"{tokens_dir} was packed by {mixture.get('by')!r}; a swarm by {by!r} needs a token "
                          f"folder packed with --by {by} (its validation split is per {mixture.get('by')})")
    return {d: int(n) for d, n in sorted(counts.items())}


def plan_swarm(tokens_dir: str, runs: int, by: str = "source", prior_kind: str = "natural",
               proxy_overrides: dict | None = None, seed: int = 0, budget_tokens: int | None = None,
               max_epochs: float = 4.0, targets: dict[str, str] | None = None) -> dict:
    """swarm.json's content: everything a run needs, and the sampled mixtures."""
    config = proxy.proxy_config(proxy_overrides)
    avail = available_tokens(tokens_dir, by)
    budget = int(budget_tokens or config["steps"] * config["batch_size"] * config["block_size"])
    cap = sampling.caps(avail, budget, max_epochs)
    prior = sampling.prior(prior_kind, avail, budget, max_epochs)
    mixtures = sampling.sample_mixtures(prior, runs, seed, cap=cap)
    domains = sorted(avail)
    metrics = [f"bpb_{d}" for d in domains] + [f"bpb_target_{n}" for n in sorted(targets or {})]
    return {"format": "gristmill-mix/1", "tokens_dir": os.path.abspath(tokens_dir),
            "tokens_hash": folder_hash(tokens_dir), "by": by, "domains": domains, "metrics": metrics,
            "lower_is_better": {m: True for m in metrics}, "prior": prior_kind, "prior_weights": prior,
            "available_tokens": avail, "budget_tokens": budget, "max_epochs": max_epochs, "caps": cap,
            "seed": seed, "proxy": config, "proxy_hash": config_hash(proxy.config_for_hash(config)),
            "targets": {n: os.path.abspath(p) for n, p in sorted((targets or {}).items())},
            "mixtures": {f"run-{i:04d}": dict(zip(domains, map(float, w))) for i, w in enumerate(mixtures)}}


def _gpu_resources(client) -> dict | None:
    workers = client.scheduler_info(n_workers=-1).get("workers", {}) if client is not None else {}
    return {"GPU": 1} if any((w.get("resources") or {}).get("GPU", 0) >= 1 for w in workers.values()) else None


def _check_resume(plan: dict, mix_dir: str) -> pd.DataFrame:
    """The runs already finished under this same plan; MixDirError for a folder of another swarm."""
    path = os.path.join(mix_dir, SWARM)
    if not os.path.exists(path):
        return pd.DataFrame()
    import json

    with open(path) as f:
        old = json.load(f)
    for key in ("tokens_hash", "proxy_hash", "seed", "by", "prior", "budget_tokens", "max_epochs", "metrics"):
        if old.get(key) != plan.get(key):
            raise MixDirError(f"{mix_dir} holds a swarm with another {key} ({old.get(key)!r}, now "
                              f"{plan.get(key)!r}); use a new --out")
    same = {r: w for r, w in old.get("mixtures", {}).items() if plan["mixtures"].get(r) == w}
    runs = read_runs(mix_dir)
    return runs[runs["run_id"].isin(list(same))] if not runs.empty else runs


def run_swarm(plan: dict, mix_dir: str, client=None, progress=print) -> pd.DataFrame:
    """Run every unfinished proxy of `plan`; returns runs.parquet's table."""
    os.makedirs(mix_dir, exist_ok=True)
    done = _check_resume(plan, mix_dir)
    write_json(plan, os.path.join(mix_dir, SWARM))
    finished = set(done["run_id"]) if not done.empty else set()
    todo = [r for r in sorted(plan["mixtures"]) if r not in finished]
    if finished:
        progress(f"swarm: {len(finished)} run(s) already in {os.path.join(mix_dir, RUNS)}, {len(todo)} to go")
    rows = done.to_dict("records") if not done.empty else []
    work = os.path.join(mix_dir, "proxies")
    config = dict(plan["proxy"])
    resources = _gpu_resources(client)
    if resources:
        config["device"] = "auto"
    targets = proxy.read_targets(plan.get("targets") or {})
    args = dict(tokens_dir=plan["tokens_dir"], config=config, seed=plan["seed"], targets=targets, work_dir=work)

    def record(result: dict) -> None:
        row = {"run_id": result["run_id"], **plan["mixtures"][result["run_id"]],
               **{m: result.get(m, np.nan) for m in plan["metrics"]}, "proxy_hash": plan["proxy_hash"],
               "seed": plan["seed"], "tokens_hash": plan["tokens_hash"], "seconds": result.get("seconds")}
        rows.append(row)
        write_runs(pd.DataFrame(rows).sort_values("run_id"), mix_dir)
        progress(f"swarm: {result['run_id']} done ({len(rows)}/{len(plan['mixtures'])}, {result.get('seconds')} s)")

    if client is None:
        for r in todo:
            record(proxy.run_proxy(r, plan["mixtures"][r], **args))
    else:
        from distributed import as_completed

        futures = [client.submit(proxy.run_proxy, r, plan["mixtures"][r], **args, key=f"proxy-{r}-{os.urandom(3).hex()}",
                                 resources=resources, pure=False, retries=1) for r in todo]
        for fut in as_completed(futures):
            record(fut.result())
    return read_runs(mix_dir)
