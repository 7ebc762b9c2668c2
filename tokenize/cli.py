"""Command-line parts of the tokenize area, called from `gristmill.pipeline.cli`:

    gristmill tokenize IN... --out DIR (--vocab-size N | --tokenizer FILE) [--export megatron] [mixture]
    gristmill mix TOKENIZED_DIR --out DIR --weights a=0.5,b=0.5 [--budget N] [--max-epochs E]
    gristmill train --data TOKENS_DIR --out RUN_DIR [--steps N] [--config FILE]   (or: gristmill train CONFIG)
    gristmill locate TOKENS_DIR SHARD OFFSET [--split train]
    gristmill export TOKENS_DIR --format nanogpt|megatron|olmo
"""

from __future__ import annotations

import argparse
import json
import os

COMMANDS = ("tokenize", "mix", "train", "locate", "export")


def _mixture_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", default=None, help="mixture weights per domain, e.g. web=0.5,code=0.3,math=0.2 "
                   "(default: the natural mixture, every document once)")
    p.add_argument("--by", default="source", choices=("source", "topic"), help="column that names the domain")
    p.add_argument("--budget", type=float, default=None,
                   help="training tokens in the mix (default: the most the max-epochs caps allow)")
    p.add_argument("--max-epochs", default="4", help="repetition cap: a number, or DOMAIN=N,...,*=N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.02, help="held-out share of each domain's tokens")
    p.add_argument("--shard-tokens", type=int, default=50_000_000, help="tokens per output shard")
    p.add_argument("--export", default="", help="also export: comma-separated nanogpt, megatron, olmo")


def add_commands(sub, stage_cmd, common) -> None:
    p = stage_cmd(sub, "tokenize", "documents -> token shards, index, manifest.json, tokenizer.json")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--vocab-size", type=int, help="train a byte-level BPE of this size on a sample")
    group.add_argument("--tokenizer", help="use this tokenizer.json")
    p.add_argument("--sample-chars", type=int, default=50_000_000, help="characters of text to train the BPE on")
    p.add_argument("--no-fast", action="store_true", help="encode with `tokenizers`, not the tiktoken fast path")
    _mixture_args(p)

    p = sub.add_parser("mix", help="re-sample an already tokenized folder into a new mixture (no re-encoding)")
    p.add_argument("tokenized", help="a `gristmill tokenize` output folder")
    p.add_argument("--out", required=True)
    _mixture_args(p)
    common(p)

    p = sub.add_parser("train", help="train the bundled GPT on token shards")
    p.add_argument("config_file", nargs="?", metavar="CONFIG",
                   help="YAML/JSON of TrainConfig fields, may also name `data:` and `out:`")
    p.add_argument("--data", default=None, help="a token folder (with manifest.json)")
    p.add_argument("--out", default=None, help="run folder: train_log.jsonl and checkpoints")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--config", default=None, help="YAML or JSON file of TrainConfig fields")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")

    p = sub.add_parser("locate", help="which document, URL and license a token came from")
    p.add_argument("tokens_dir")
    p.add_argument("shard", type=int)
    p.add_argument("offset", type=int)
    p.add_argument("--split", default="train")

    p = sub.add_parser("export", help="write a token folder in another trainer's format")
    p.add_argument("tokens_dir")
    p.add_argument("--format", required=True, choices=("nanogpt", "megatron", "olmo"))


def _spec(args):
    from gristmill.tokenize.mixture import MixtureSpec, parse_weights

    try:
        caps = parse_weights(args.max_epochs) if "=" in args.max_epochs else float(args.max_epochs)
        return MixtureSpec(by=args.by, weights=parse_weights(args.weights) if args.weights else None,
                           budget_tokens=int(args.budget) if args.budget else None, max_epochs=caps,
                           seed=args.seed)
    except ValueError as e:
        raise BadOption(str(e)) from e


def _exports(args) -> list[str]:
    formats = [f.strip() for f in args.export.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("nanogpt", "megatron", "olmo")]
    if bad:
        raise BadOption(f"unknown export format(s) {bad}; choose from nanogpt, megatron, olmo")
    return formats


def run(args) -> int:
    import sys

    from gristmill.tokenize.mixture import InfeasibleMixture

    try:
        return _run(args)
    except (InfeasibleMixture, BadOption, IndexError) as e:
        print(f"gristmill: error: {e}", file=sys.stderr)
        return 2


class BadOption(ValueError):
    pass


def _run(args) -> int:
    if args.command == "tokenize":
        return cmd_tokenize(args)
    if args.command == "mix":
        return cmd_mix(args)
    if args.command == "train":
        return cmd_train(args)
    if args.command == "locate":
        from gristmill.tokenize.shard_format import locate

        print(json.dumps(locate(args.tokens_dir, args.shard, args.offset, args.split).__dict__, indent=2))
        return 0
    if args.command == "export":
        from gristmill.tokenize.export import export

        print(json.dumps(export(args.tokens_dir, args.format), indent=2))
        return 0
    return 2


def _report(manifest: dict, out: str) -> None:
    print(f"tokens: {manifest['total_tokens']:,} train + {manifest['splits']['val']['tokens']:,} val "
          f"in {len(manifest['splits']['train']['shards'])} shard(s), dtype {manifest['dtype']}, "
          f"encoder {manifest['tokenizer']['encoder']}; manifest: {os.path.join(out, 'manifest.json')}")


def cmd_tokenize(args) -> int:
    from gristmill.pipeline import runner
    from gristmill.pipeline.shards import list_parts
    from gristmill.pipeline.workflow import Step, Workflow, check_columns
    from gristmill.tokenize.stages import TokenizeDocuments
    from gristmill.tokenize.tokenizer import Encoder

    spec = _spec(args)
    _exports(args)  # bad options fail before any work
    _check_domains_present(args.inputs, spec)
    params = {"fast": not args.no_fast, "seed": args.seed}
    if args.tokenizer:
        params["tokenizer"] = os.path.abspath(args.tokenizer)
    else:
        params.update(vocab_size=args.vocab_size, sample_chars=args.sample_chars)
    try:
        stage = TokenizeDocuments(**params)
    except Exception as e:  # a tokenizer.json that cannot be loaded, or has no EOS
        raise BadOption(f"--tokenizer {args.tokenizer}: {e}") from e
    wf = Workflow(name="tokenize", inputs=[os.path.abspath(p) if "://" not in p else p for p in args.inputs],
                  steps=[Step(name="tokenize", stage=stage)])
    check_columns(wf)
    with runner.dask_client(args.scheduler, args.workers) as client:
        runner.run(wf, out_dirs={"tokenize": args.out}, client=client, quiet=args.quiet)

        tok_path = os.path.join(args.out, "_state", "tokenizer.json")
        enc = Encoder(tok_path, fast=False)  # for eos and vocabulary only
        manifest = _pack_with_encoder(client, list_parts(args.out), args.out, tok_path, args, enc)
    _report(manifest, args.out)
    return 0


def _pack_with_encoder(client, parts, out, tok_path, args, enc) -> dict:
    from gristmill.pipeline.runner import FitContext
    from gristmill.tokenize.export import export
    from gristmill.tokenize.pack import pack
    from gristmill.tokenize.stages import upstream_encoder  # what the shards' encoding really used

    ctx = FitContext(client, parts, out, workers=1)
    manifest = pack(parts, out, ctx.map, tok_path, _spec(args), val_fraction=args.val_fraction,
                    shard_tokens=args.shard_tokens, eos_id=enc.eos_id, vocab_size=enc.vocab_size,
                    encoder_backend=upstream_encoder(os.path.dirname(parts[0])) if parts else None)
    for fmt in _exports(args):
        export(out, fmt)
    return manifest


def _check_domains_present(inputs: list[str], spec) -> None:
    """Before tokenizing: every weighted domain must occur in the inputs (reads one column).
    Whether each has enough tokens is known only after encoding; that check runs before any
    shard is written (and before anything at all in `gristmill mix`)."""
    if not spec.weights:
        return
    import pyarrow.parquet as pq

    from gristmill.pipeline.shards import expand_inputs
    from gristmill.tokenize.mixture import InfeasibleMixture

    present: set[str] = set()
    for path in expand_inputs(inputs, suffixes=(".parquet",)):
        if spec.by in pq.read_schema(path).names:
            present.update(v for v in pq.read_table(path, columns=[spec.by]).column(spec.by).unique().to_pylist() if v)
    missing = [d for d, w in spec.weights.items() if w > 0 and d not in present]
    if missing:
        raise InfeasibleMixture(f"mixture by {spec.by}: domain(s) {', '.join(map(repr, missing))} do not occur in "
                                f"the inputs (present: {', '.join(sorted(present)) or 'none'})")


def cmd_mix(args) -> int:
    from gristmill.pipeline import runner
    from gristmill.pipeline.shards import list_parts
    from gristmill.tokenize.tokenizer import Encoder

    parts = list_parts(args.tokenized)
    tok_path = os.path.join(args.tokenized, "tokenizer.json")
    if not parts or not os.path.exists(tok_path):
        raise FileNotFoundError(f"{args.tokenized} is not a `gristmill tokenize` output (no part-*.parquet or tokenizer.json)")
    enc = Encoder(tok_path, fast=False)
    with runner.dask_client(args.scheduler, args.workers) as client:
        manifest = _pack_with_encoder(client, parts, args.out, tok_path, args, enc)
    _report(manifest, args.out)
    return 0


def cmd_train(args) -> int:
    from gristmill.tokenize.train import load_config, read_config_file, train

    path = args.config or args.config_file
    raw = read_config_file(path)
    data, out = args.data or raw.get("data"), args.out or raw.get("out")
    if not data or not out:
        raise BadOption("train needs --data TOKENS_DIR and --out RUN_DIR (or `data:` and `out:` in CONFIG)")
    cfg = load_config(path, raw)
    if args.steps is not None:
        cfg.steps = args.steps
    if args.device:
        cfg.device = args.device
    summary = train(data, out, cfg)
    print(f"loss {summary['first_loss']:.3f} (step {summary['first_step']}) -> {summary['last_loss']:.3f} "
          f"(step {summary['last_step']}); {summary['tokens_per_s']:,.0f} tokens/s; "
          f"val loss {summary.get('val_loss_mean')}; run folder {out}")
    return 0
