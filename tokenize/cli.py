"""Command line of the tokenize area, collected by `gristmill.pipeline.cli`:

    gristmill tokenize IN... --out DIR (--vocab-size N | --tokenizer FILE) [--export megatron] [mixture]
    gristmill train --data TOKENS_DIR --out RUN_DIR [--steps N] [--config FILE]   (or: gristmill train CONFIG)
    gristmill locate TOKENS_DIR SHARD OFFSET [--split train]
    gristmill export TOKENS_DIR --format nanogpt|megatron|olmo

`gristmill tokenize` is the workflow tokenize@1 -> token_shards@1, both steps writing into DIR
(part-*.parquet of tokenized documents, tokenizer.json, then the token shards and manifest.json).
Its mixture options are `gristmill mix apply`'s (gristmill.mixing.cli).
"""

from __future__ import annotations

import argparse
import json

from gristmill.mixing.cli import add_mixture_options, report, token_shards_stage
from gristmill.pipeline.commands import (CliError, Command, add_inputs_and_out, add_param_options, param_values,
                                         run_stages)

TOKENIZER_OPTIONS = ("vocab_size", "tokenizer", "sample_chars", "fast")


def _tokenize_stage_cls():
    from gristmill.tokenize.stages import TokenizeDocuments

    return TokenizeDocuments


def _tokenize_args(p: argparse.ArgumentParser) -> None:
    stage = _tokenize_stage_cls()
    add_inputs_and_out(p, out_help="output folder: tokenized documents, tokenizer.json, token shards, manifest.json")
    group = p.add_mutually_exclusive_group(required=True)
    add_param_options(group, stage, names=["vocab_size", "tokenizer"])
    add_param_options(p, stage, names=["sample_chars", "fast"])  # --fast / --no-fast
    add_mixture_options(p)


def _tokenize(args: argparse.Namespace) -> int:
    from gristmill.pipeline.params import ParamError

    cls = _tokenize_stage_cls()
    shards = token_shards_stage(args)  # bad mixture options fail before any work
    check_domains_present(args.inputs, shards.spec)
    params = param_values(args, cls, names=list(TOKENIZER_OPTIONS), paths=("tokenizer",))
    params["seed"] = shards.cfg.seed  # one --seed: the tokenizer's sample and the mixture
    try:
        stage = cls(**params)
    except ParamError:
        raise
    except Exception as e:  # a tokenizer.json that cannot be loaded, or has no EOS
        where = f"--tokenizer {args.param_tokenizer}" if args.param_tokenizer else cls.versioned()
        raise CliError(f"{where}: {e}") from e
    run_stages([(stage.name, stage), (shards.name, shards)], args.inputs,
               {stage.name: args.out, shards.name: args.out}, args, name="tokenize")
    report(args.out)
    return 0


def check_domains_present(inputs: list[str], spec) -> None:
    """Before tokenizing: every weighted domain must occur in the inputs (reads one column).
    Whether each has enough tokens is known only after encoding; that check runs before any
    shard is written (and before anything at all in `gristmill mix`)."""
    if not spec.weights:
        return
    import pyarrow.parquet as pq

    from gristmill.mixing.mixture import InfeasibleMixture
    from gristmill.pipeline.shards import expand_inputs

    present: set[str] = set()
    for path in expand_inputs(inputs, suffixes=(".parquet",)):
        if spec.by in pq.read_schema(path).names:
            present.update(v for v in pq.read_table(path, columns=[spec.by]).column(spec.by).unique().to_pylist() if v)
    missing = [d for d, w in spec.weights.items() if w > 0 and d not in present]
    if missing:
        raise InfeasibleMixture(f"mixture by {spec.by}: domain(s) {', '.join(map(repr, missing))} do not occur in "
                                f"the inputs (present: {', '.join(sorted(present)) or 'none'})")


def _train_args(p: argparse.ArgumentParser) -> None:
    from gristmill.tokenize.stages import TrainModel

    p.add_argument("config_file", nargs="?", metavar="CONFIG",
                   help="YAML/JSON of TrainConfig fields, may also name `data:` and `out:`")
    p.add_argument("--data", default=None, help="a token folder (with manifest.json)")
    p.add_argument("--out", default=None, help="run folder: train_log.jsonl and checkpoints")
    add_param_options(p, TrainModel, names=["steps"])
    p.add_argument("--config", default=None, help="YAML or JSON file of TrainConfig fields")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")


def _train(args: argparse.Namespace) -> int:
    from gristmill.tokenize.train import load_config, read_config_file, train

    path = args.config or args.config_file
    raw = read_config_file(path)
    data, out = args.data or raw.get("data"), args.out or raw.get("out")
    if not data or not out:
        raise CliError("train needs --data TOKENS_DIR and --out RUN_DIR (or `data:` and `out:` in CONFIG)")
    try:
        cfg = load_config(path, raw)
    except (TypeError, ValueError) as e:
        raise CliError(str(e)) from e
    if args.param_steps is not None:
        cfg.steps = args.param_steps
    if args.device:
        cfg.device = args.device
    summary = train(data, out, cfg)
    print(f"loss {summary['first_loss']:.3f} (step {summary['first_step']}) -> {summary['last_loss']:.3f} "
          f"(step {summary['last_step']}); {summary['tokens_per_s']:,.0f} tokens/s; "
          f"val loss {summary.get('val_loss_mean')}; run folder {out}")
    return 0


def _locate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("tokens_dir")
    p.add_argument("shard", type=int)
    p.add_argument("offset", type=int)
    p.add_argument("--split", default="train")


def _locate(args: argparse.Namespace) -> int:
    from gristmill.tokenize.shard_format import locate

    try:
        origin = locate(args.tokens_dir, args.shard, args.offset, args.split)
    except IndexError as e:  # an offset outside the shard
        raise CliError(str(e)) from e
    print(json.dumps(origin.__dict__, indent=2))
    return 0


def _export_args(p: argparse.ArgumentParser) -> None:
    from gristmill.tokenize.export import FORMATS

    p.add_argument("tokens_dir")
    p.add_argument("--format", required=True, choices=FORMATS)


def _export(args: argparse.Namespace) -> int:
    from gristmill.tokenize.export import export

    print(json.dumps(export(args.tokens_dir, args.format), indent=2))
    return 0


COMMANDS = [
    Command("tokenize", "documents -> token shards, index, manifest.json, tokenizer.json", _tokenize_args, _tokenize),
    Command("train", "train the bundled GPT on token shards", _train_args, _train, runs_stages=False),
    Command("locate", "which document, URL and license a token came from", _locate_args, _locate,
            runs_stages=False),
    Command("export", "write a token folder in another trainer's format", _export_args, _export,
            runs_stages=False),
]
