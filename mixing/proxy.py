"""One proxy run: the bundled GPT trained on one mixture of an existing token folder.

Windows are drawn by domain weight from the folder's shards (`TrainConfig.weights`), so no
mixture is re-packed. The metrics are bits per byte on each domain's validation split
(`bpb_<domain>`) and on each named target text set (`bpb_target_<name>`). One torch thread
per proxy on CPU (two threads per process were ~6x slower on 2 cores than two processes).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import fields

import numpy as np

# CPU defaults: 2 layers, 32 wide (42k parameters at vocab 512), ~40 s per proxy on one of
# 2 busy cores: a 24-run swarm of the sample corpus took 493 s on 2 cores (README, "Mixture search")
PROXY_DEFAULTS = dict(n_layer=2, n_head=2, n_embd=32, block_size=64, batch_size=16, steps=300, lr=3e-3,
                      min_lr=3e-4, warmup_steps=30, log_interval=100, eval_interval=300, eval_windows=64,
                      checkpoint_interval=300, threads=1, device="cpu", compile="off")


def proxy_config(overrides: dict | None = None) -> dict:
    """The proxy's TrainConfig fields: the defaults above, then a --proxy file's."""
    from gristmill.tokenize.train import TrainConfig

    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(overrides or {}) - known - {"weights"})
    if unknown:
        raise ValueError(f"unknown proxy option(s) {unknown}; known: {sorted(known - {'weights'})}")
    return {**PROXY_DEFAULTS, **(overrides or {})}


def read_targets(paths: dict[str, str]) -> dict[str, str]:
    """Target text sets {name: file}: plain text, or JSONL with a `text` field per line."""
    import gzip

    out = {}
    for name, path in paths.items():
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            raw = f.read()
        if ".jsonl" in path:
            raw = "\n\n".join(json.loads(line).get("text", "") for line in raw.splitlines() if line.strip())
        out[name] = raw
    return out


def run_proxy(run_id: str, weights: dict[str, float], tokens_dir: str, config: dict, seed: int,
              targets: dict[str, str], work_dir: str) -> dict:
    """Train one proxy and return {run_id, metric: value}. A half-finished run dir is restarted
    (proxies are short; only finished runs are recorded)."""
    import torch

    from gristmill.tokenize.train import TrainConfig, train

    t0 = time.perf_counter()
    run_dir = os.path.join(work_dir, run_id)
    shutil.rmtree(run_dir, ignore_errors=True)
    cfg = TrainConfig(**{**config, "seed": seed, "weights": {d: w for d, w in weights.items() if w > 0}})
    if cfg.device != "cpu" and not torch.cuda.is_available():
        cfg.device = "cpu"
    summary = train(tokens_dir, run_dir, cfg)
    metrics = {f"bpb_{d}": v for d, v in (summary.get("val_bpb_by_domain") or {}).items()}
    if targets:
        metrics.update({f"bpb_target_{n}": v for n, v in _target_bpb(tokens_dir, run_dir, targets, cfg).items()})
    os.remove(os.path.join(run_dir, "ckpt.pt"))  # proxies are not resumed one by one: save the disk
    return {"run_id": run_id, **metrics, "seconds": round(time.perf_counter() - t0, 2)}


def _target_bpb(tokens_dir: str, run_dir: str, targets: dict[str, str], cfg) -> dict[str, float]:
    import torch

    from gristmill.tokenize.model import GPT, GPTConfig
    from gristmill.tokenize.tokenizer import Encoder

    state = torch.load(os.path.join(run_dir, "ckpt.pt"), map_location="cpu", weights_only=False)
    model = GPT(GPTConfig(**state["model_config"]))
    model.load_state_dict(state["model"])
    model.eval()
    enc = Encoder(os.path.join(tokens_dir, "tokenizer.json"), fast=False)
    out = {}
    for name, text in targets.items():
        flat, _ = enc.encode_batch([text])
        ids = np.asarray(flat, np.int64)
        T = min(cfg.block_size, len(ids) - 1)
        if T < 2:
            continue
        starts = np.unique(np.linspace(0, len(ids) - T - 1, num=cfg.eval_windows).astype(np.int64))
        xy = torch.from_numpy(np.stack([ids[s:s + T + 1] for s in starts]))
        with torch.no_grad():
            _, loss = model(xy[:, :-1], xy[:, 1:])
        bytes_per_token = len(text.encode("utf-8")) / len(ids)
        out[name] = round(float(loss) / math.log(2) / bytes_per_token, 5)
    return out


def config_for_hash(config: dict) -> dict:
    """What identifies a proxy's training (device and thread count do not change the recipe)."""
    return {k: v for k, v in config.items() if k not in ("device", "threads", "compile", "log_interval")}

