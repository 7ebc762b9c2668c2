"""Train the bundled GPT on a token folder (`gristmill train --data DIR --out RUN_DIR`).

Reading order: TrainConfig (every knob), TokenData (memory-mapped shards, random windows,
held-out text per domain), then `train()`: the loop, evaluation, logging and checkpoints.

* Data: the train shards are memory-mapped, never loaded; a batch is random windows of
  `block_size + 1` tokens. Validation uses the held-out `val` split, one loss per domain.
* Device: CUDA when present (bf16 autocast, `torch.compile`), else CPU in float32.
* Resume: `RUN_DIR/ckpt.pt` holds model, optimizer, step and both random generators, so
  stopping at step k and resuming gives the same numbers as an uninterrupted run.
* Log: `RUN_DIR/train_log.jsonl`, one JSON object per logged step: step, loss, lr, tokens/s,
  and at evaluation steps `val_loss` (mean over domains), `val_loss_by_domain` and
  `val_bpb_by_domain` (bits per byte: the loss over the bytes the held-out tokens decode to).
* Weights: `TrainConfig.weights` samples training windows per domain by weight from the
  same shards (mixture search trains many proxies on one token folder this way).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch

from gristmill.tokenize import shard_format as sf
from gristmill.tokenize.model import GPT, GPTConfig


@dataclass
class TrainConfig:
    # model (vocab_size comes from the token folder's manifest)
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    block_size: int = 64
    dropout: float = 0.0
    # optimisation
    steps: int = 300
    batch_size: int = 16
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup_steps: int = 30
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    # bookkeeping
    log_interval: int = 10
    eval_interval: int = 100
    eval_windows: int = 16       # windows per domain per evaluation
    checkpoint_interval: int = 100
    seed: int = 0
    device: str = "auto"         # auto: cuda if available, else cpu
    compile: str = "auto"        # auto: torch.compile on cuda only (on CPU it costs more than it saves)
    threads: int = 0             # CPU threads for torch; 0: half the cores (spare ones feed the loader)
    # mixture of the training windows: {domain: weight} draws each window from one domain's
    # documents with that probability (the shards are not re-packed); None: uniform over tokens
    weights: dict | None = None


def read_config_file(path: str | None) -> dict:
    """The mapping in a YAML or JSON config file (empty without one)."""
    if not path:
        return {}
    with open(path) as f:
        if path.endswith(".json"):
            return json.load(f)
        import yaml

        return yaml.safe_load(f) or {}


def load_config(path: str | None, raw: dict | None = None) -> TrainConfig:
    """TrainConfig from a file (or an already read mapping); `data` and `out` keys are the
    CLI's and are ignored here; anything else unknown is an error."""
    raw = dict(read_config_file(path) if raw is None else raw)
    raw.pop("data", None), raw.pop("out", None)
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{path or 'config'}: unknown training option(s) {unknown}; known: {sorted(known)}")
    return TrainConfig(**raw)


class TokenData:
    """Memory-mapped training shards and per-domain validation streams of one token folder."""

    def __init__(self, folder: str, block_size: int, weights: dict | None = None):
        self.manifest = sf.read_manifest(folder)
        dtype = np.dtype(self.manifest["dtype"])
        n_train = len(self.manifest["splits"]["train"]["shards"])
        self.train = [sf.open_tokens(folder, "train", i, dtype) for i in range(n_train)]
        room = np.array([max(len(t) - block_size - 1, 0) for t in self.train], dtype=np.float64)
        if room.sum() <= 0:
            raise ValueError(f"{folder}: no training shard holds more than block_size+1 = {block_size + 1} tokens")
        self.shard_p = room / room.sum()
        self.block_size = block_size
        self.val = self._val_streams(folder, dtype)
        self.bytes_per_token = val_bytes_per_token(folder, self.val, int(self.manifest["eos_id"]))
        self.domains = DomainWindows(folder, self.manifest, self.train, block_size, weights) if weights else None

    def _val_streams(self, folder: str, dtype) -> dict[str, np.ndarray]:
        by = self.manifest.get("mixture", {}).get("by", "source")
        pieces: dict[str, list[np.ndarray]] = {}
        for i in range(len(self.manifest["splits"]["val"]["shards"])):
            tokens = sf.open_tokens(folder, "val", i, dtype)
            index = sf.read_index(sf.index_path(folder, "val", i))
            for off, n, dom in zip(index.column("offset").to_pylist(), index.column("length").to_pylist(),
                                   index.column(by).to_pylist()):
                pieces.setdefault(dom or "unknown", []).append(np.asarray(tokens[off:off + n + 1]))
        return {d: np.concatenate(p).astype(np.int64) for d, p in sorted(pieces.items())}

    def batch(self, rng: np.random.Generator, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.domains is not None:
            xy = torch.from_numpy(self.domains.windows(rng, batch_size))
            return xy[:, :-1], xy[:, 1:]
        shards = rng.choice(len(self.train), size=batch_size, p=self.shard_p)
        rows = []
        for s in shards:
            start = int(rng.integers(0, len(self.train[s]) - self.block_size - 1 + 1))
            rows.append(np.asarray(self.train[s][start:start + self.block_size + 1], dtype=np.int64))
        xy = torch.from_numpy(np.stack(rows))
        return xy[:, :-1], xy[:, 1:]

    def val_windows(self, domain: str, count: int) -> torch.Tensor:
        """Up to `count` evenly spaced windows of one domain's held-out tokens (same every time)."""
        stream = self.val[domain]
        T = min(self.block_size, len(stream) - 1)
        starts = np.unique(np.linspace(0, len(stream) - T - 1, num=count).astype(np.int64))
        return torch.from_numpy(np.stack([stream[s:s + T + 1] for s in starts]))


class DomainWindows:
    """Training windows drawn by domain weight from the packed shards: each domain's documents
    (in file order) form one virtual stream; a window is `block_size + 1` consecutive tokens
    of that stream, so it never mixes domains and no shard is rewritten."""

    def __init__(self, folder: str, manifest: dict, shards: list, block_size: int, weights: dict):
        by = manifest.get("mixture", {}).get("by", "source")
        spans: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        for i in range(len(shards)):
            index = sf.read_index(sf.index_path(folder, "train", i))
            dom = np.array([d or "unknown" for d in index.column(by).to_pylist()], dtype=object)
            off, n = index.column("offset").to_numpy(), index.column("length").to_numpy() + 1
            for d in np.unique(dom):
                m = dom == d
                spans.setdefault(d, []).append((np.full(int(m.sum()), i), off[m], n[m]))
        total = sum(float(v) for v in weights.values())
        missing = [d for d, w in weights.items() if w > 0 and d not in spans]
        if missing or total <= 0:
            raise ValueError(f"{folder}: no training documents of domain(s) {missing} (have {sorted(spans)})")
        self.names = [d for d, w in sorted(weights.items()) if w > 0]
        self.p = np.array([weights[d] / total for d in self.names])
        self.shards, self.T = shards, block_size + 1
        self.streams = []
        for d in self.names:
            shard, off, n = (np.concatenate(x) for x in zip(*spans[d]))
            ends = np.cumsum(n)
            if ends[-1] < self.T:
                raise ValueError(f"{folder}: domain {d!r} has {ends[-1]} training tokens, fewer than a window")
            self.streams.append((shard, off, ends - n, ends))

    def windows(self, rng: np.random.Generator, count: int) -> np.ndarray:
        out = np.empty((count, self.T), np.int64)
        for row, k in enumerate(rng.choice(len(self.names), size=count, p=self.p)):
            shard, off, starts, ends = self.streams[k]
            pos = int(rng.integers(0, ends[-1] - self.T + 1))
            filled, j = 0, int(np.searchsorted(ends, pos, side="right"))
            while filled < self.T:  # a window may run over several consecutive documents
                inner = pos + filled - starts[j]
                take = min(int(ends[j] - starts[j] - inner), self.T - filled)
                a = int(off[j] + inner)
                out[row, filled:filled + take] = self.shards[shard[j]][a:a + take]
                filled += take
                j += 1
        return out


def val_bytes_per_token(folder: str, val: dict[str, np.ndarray], eos_id: int) -> dict[str, float]:
    """UTF-8 bytes per held-out token of each domain (the tokens decoded with the folder's
    tokenizer; EOS counts as no bytes): loss / ln 2 / this is bits per byte."""
    path = os.path.join(folder, sf.TOKENIZER)
    if not os.path.exists(path) or not val:
        return {}
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path)
    out = {}
    for d, stream in val.items():
        ids = stream[stream != eos_id].tolist()
        out[d] = len(tok.decode(ids, skip_special_tokens=True).encode("utf-8")) / max(len(stream), 1)
    return out


def bits_per_byte(losses: dict[str, float], bytes_per_token: dict[str, float]) -> dict[str, float]:
    return {d: round(loss / math.log(2) / bytes_per_token[d], 5) for d, loss in losses.items()
            if bytes_per_token.get(d)}


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr at the last step."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min((step - cfg.warmup_steps) / max(cfg.steps - cfg.warmup_steps, 1), 1.0)
    return cfg.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (cfg.lr - cfg.min_lr)


@torch.no_grad()
def evaluate(model, data: TokenData, cfg: TrainConfig, device, autocast) -> dict[str, float]:
    model.eval()
    losses = {}
    for domain in data.val:
        xy = data.val_windows(domain, cfg.eval_windows).to(device)
        with autocast():
            _, loss = model(xy[:, :-1], xy[:, 1:])
        losses[domain] = round(float(loss), 5)
    model.train()
    return losses


def _device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def _save_checkpoint(path: str, model, optimizer, step: int, cfg: TrainConfig, model_cfg: GPTConfig, rng) -> None:
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
             "train_config": asdict(cfg), "model_config": asdict(model_cfg),
             "data_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()}
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def _trim_log(path: str, last_step: int) -> None:
    """Drop log lines past the checkpoint we resume from (they will be redone)."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        keep = [line for line in f if line.strip() and json.loads(line)["step"] <= last_step]
    with open(path, "w") as f:
        f.writelines(keep)


def train(data_dir: str, run_dir: str, cfg: TrainConfig | None = None, stop_at: int | None = None) -> dict:
    """Train (or resume) to `cfg.steps`; `stop_at` ends this call early with a checkpoint, as
    an interrupted run would (the schedule still aims at `cfg.steps`)."""
    cfg = cfg or TrainConfig()
    os.makedirs(run_dir, exist_ok=True)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 2) // 2))
    device = _device(cfg)
    data = TokenData(data_dir, cfg.block_size, cfg.weights)
    model_cfg = GPTConfig(vocab_size=data.manifest["vocab_size"], block_size=cfg.block_size,
                          n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd, dropout=cfg.dropout)
    model = GPT(model_cfg).to(device)
    optimizer = model.configure_optimizer(cfg.lr, cfg.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    ckpt_path, log_path = os.path.join(run_dir, "ckpt.pt"), os.path.join(run_dir, "train_log.jsonl")
    step = 0
    if os.path.exists(ckpt_path):  # resume
        state = torch.load(ckpt_path, map_location=device, weights_only=False)
        if state["model_config"] != asdict(model_cfg):
            raise ValueError(f"{ckpt_path} holds a different model ({state['model_config']}); use a new --out")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["data_rng"]
        torch.set_rng_state(state["torch_rng"])
        step = state["step"]
        _trim_log(log_path, step)
    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()

    def autocast():
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16)

    fwd = model
    if cfg.compile == "on" or (cfg.compile == "auto" and device.type == "cuda"):
        fwd = torch.compile(model)
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump({"train": asdict(cfg), "model": asdict(model_cfg), "data": os.path.abspath(data_dir),
                   "tokenizer_hash": data.manifest["tokenizer"]["hash"], "device": str(device),
                   "params": model.num_params()}, f, indent=2)
    log = open(log_path, "a")
    start_step = step
    first = last = None
    t_last, tokens_since, t_start = time.perf_counter(), 0, time.perf_counter()
    tokens_per_step = cfg.batch_size * cfg.block_size
    end = min(cfg.steps, stop_at or cfg.steps)
    while step < end:
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = data.batch(rng, cfg.batch_size)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        try:
            with autocast():
                _, loss = fwd(x, y)
        except Exception as e:  # torch.compile needs a working compiler toolchain; run eager without one
            if fwd is model:
                raise
            print(f"torch.compile failed ({type(e).__name__}: {str(e)[:200]}); training without it", flush=True)
            fwd = model
            with autocast():
                _, loss = fwd(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        step += 1
        tokens_since += tokens_per_step
        done = step == end
        if step % cfg.log_interval == 0 or done or step == 1:
            now = time.perf_counter()
            rec = {"step": step, "loss": round(float(loss.detach()), 5), "lr": lr,
                   "tokens_per_s": round(tokens_since / max(now - t_last, 1e-9), 1),
                   "tokens_seen": step * tokens_per_step, "elapsed_s": round(now - t_start, 3)}
            if (step % cfg.eval_interval == 0 or done) and data.val:
                rec["val_loss_by_domain"] = evaluate(model, data, cfg, device, autocast)
                rec["val_loss"] = round(float(np.mean(list(rec["val_loss_by_domain"].values()))), 5)
                rec["val_bpb_by_domain"] = bits_per_byte(rec["val_loss_by_domain"], data.bytes_per_token)
            log.write(json.dumps(rec) + "\n")
            log.flush()
            first = first or rec
            last = rec
            t_last, tokens_since = time.perf_counter(), 0
        if step % cfg.checkpoint_interval == 0 or done:
            _save_checkpoint(ckpt_path, model, optimizer, step, cfg, model_cfg, rng)
    log.close()
    elapsed = time.perf_counter() - t_start
    first = first or last or {"step": step, "loss": float("nan")}
    last = last or first
    return {"first_step": first["step"], "first_loss": first["loss"], "last_step": last["step"],
            "last_loss": last["loss"], "val_loss_mean": last.get("val_loss"),
            "val_bpb_by_domain": last.get("val_bpb_by_domain"), "steps": step,
            "tokens_per_s": round(tokens_per_step * (step - start_step) / max(elapsed, 1e-9), 1),
            "device": str(device), "params": model.num_params(), "checkpoint": ckpt_path}
