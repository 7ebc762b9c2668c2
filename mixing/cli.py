"""Command line of the mixing area, collected by `gristmill.pipeline.cli`:

    gristmill mix apply TOKENIZED --out DIR --weights a=0.5,b=0.5|WEIGHTS.yaml [--budget N] [--max-epochs E] ...
    (`gristmill mix TOKENIZED ...`, from before `mix` was a group, means the same)
    gristmill mix swarm|import|fit|predict|propose|rebucket|report ...   (mixture search: search_cli.py)

`mix apply` re-samples an already tokenized folder into a new mixture without re-encoding: a
one-step workflow whose step is the sink `token_shards@1`, reading the folder's parts (its
tokenizer.json and its tokenize fit come from that folder). The mixture options are
token_shards' parameters; `gristmill tokenize` takes the same ones (`add_mixture_options`).
"""

from __future__ import annotations

import argparse
import os

from gristmill.pipeline.commands import CliError, Command, add_param_options, param_values, run_stages

# token_shards parameters whose options map 1:1 (type, default, choices and help from the declaration)
DIRECT = ("by", "seed", "val_fraction", "shard_tokens")


def _token_shards():
    from gristmill.tokenize.stages import TokenShards

    return TokenShards


def _declared(name: str):
    from gristmill.pipeline.params import declared

    return next(i for i in declared(_token_shards().Params) if i.name == name)


def add_mixture_options(p: argparse.ArgumentParser) -> None:
    """The mixture options of `gristmill tokenize` and `gristmill mix apply`."""
    stage = _token_shards()
    weights, budget, epochs, export = (_declared(n) for n in ("weights", "budget_tokens", "max_epochs", "export"))
    # CLI-only spellings: a mapping as DOMAIN=W,..., a number or DOMAIN=N,*=N, a comma-separated list
    p.add_argument("--weights", default=None, help=f"{weights.help}; here as web=0.5,code=0.3,math=0.2 "
                                                   "or a WEIGHTS.yaml written by `gristmill mix propose`")
    add_param_options(p, stage, names=["by"])
    p.add_argument("--budget", type=float, default=None, help=budget.help)
    p.add_argument("--max-epochs", default=None,
                   help=f"{epochs.help}; here as N or DOMAIN=N,...,*=N (default: {epochs.default:g})")
    add_param_options(p, stage, names=["seed", "val_fraction", "shard_tokens"])
    p.add_argument("--export", default=None, help=f"{export.help}: comma-separated {', '.join(export.choices)}")


def mixture_params(args: argparse.Namespace) -> dict:
    """token_shards parameters from the mixture options (CliError for a bad one)."""
    from gristmill.mixing.mixture import parse_weights

    params = param_values(args, _token_shards(), names=list(DIRECT))
    try:
        if args.weights:
            params["weights"] = parse_weights(args.weights)
        if args.max_epochs is not None and "=" in args.max_epochs:
            params["max_epochs"] = parse_weights(args.max_epochs)
    except ValueError as e:
        raise CliError(str(e)) from e
    if args.max_epochs is not None and "=" not in args.max_epochs:
        try:
            params["max_epochs"] = float(args.max_epochs)
        except ValueError:
            raise CliError(f"--max-epochs is a number or DOMAIN=N,...,*=N, got {args.max_epochs!r}") from None
    if args.budget:
        params["budget_tokens"] = int(args.budget)
    if args.weights and args.weights.strip().endswith((".yaml", ".yml", ".json")):
        _weights_file_defaults(args.weights.strip(), args, params)
    if args.export is not None:
        formats = [f.strip() for f in args.export.split(",") if f.strip()]
        allowed = _declared("export").choices
        bad = [f for f in formats if f not in allowed]
        if bad:
            raise CliError(f"unknown export format(s) {bad}; choose from {', '.join(allowed)}")
        params["export"] = formats
    return params


def _weights_file_defaults(path: str, args: argparse.Namespace, params: dict) -> None:
    """A WEIGHTS.yaml from `mix propose` also names the budget and repetition cap its caps were
    computed at: used unless --budget / --max-epochs say otherwise."""
    import yaml

    with open(path) as f:
        raw = yaml.safe_load(f) or {}
    if not isinstance(raw, dict) or "weights" not in raw:
        return
    if not args.budget and raw.get("budget_tokens"):
        params["budget_tokens"] = int(raw["budget_tokens"])
    if args.max_epochs is None and raw.get("max_epochs") is not None:
        params["max_epochs"] = float(raw["max_epochs"])


def token_shards_stage(args: argparse.Namespace):
    """The token_shards@1 stage the mixture options describe; bad options fail before any work."""
    from gristmill.pipeline.params import ParamError

    cls = _token_shards()
    try:
        return cls(**mixture_params(args))
    except ParamError:
        raise
    except ValueError as e:  # e.g. negative weights
        raise CliError(f"{cls.versioned()}: {e}") from e


def report(out: str) -> None:
    """One line on what a token folder holds."""
    from gristmill.tokenize import shard_format as sf

    m = sf.read_manifest(out)
    print(f"tokens: {m['total_tokens']:,} train + {m['splits']['val']['tokens']:,} val "
          f"in {len(m['splits']['train']['shards'])} shard(s), dtype {m['dtype']}, "
          f"encoder {m['tokenizer']['encoder']}; manifest: {os.path.join(out, sf.MANIFEST)}")


def _apply_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("tokenized", help="a `gristmill tokenize` output folder")
    p.add_argument("--out", required=True, help="the new token folder")
    add_mixture_options(p)


def _apply(args: argparse.Namespace) -> int:
    from gristmill.pipeline.layout import list_parts
    from gristmill.tokenize import shard_format as sf

    parts = list_parts(args.tokenized)
    if not parts or not os.path.exists(os.path.join(args.tokenized, sf.TOKENIZER)):
        raise FileNotFoundError(f"{args.tokenized} is not a `gristmill tokenize` output "
                                f"(no part-*.parquet or {sf.TOKENIZER})")
    if os.path.abspath(args.out) == os.path.abspath(args.tokenized):
        raise CliError("--out must be a new folder, not the tokenized folder itself")
    stage = token_shards_stage(args)
    run_stages([(stage.name, stage)], parts, {stage.name: args.out}, args, name="mix")
    report(args.out)
    return 0


def _search_commands() -> list[Command]:
    from gristmill.mixing.search_cli import COMMANDS as SEARCH

    return SEARCH


COMMANDS = [
    Command("mix", "mixtures: re-sample a tokenized folder (`apply`), search for the best mixture (swarm, fit, "
                   "propose, report)",
            subcommands=[
                Command("apply", "re-sample an already tokenized folder into a new mixture (no re-encoding)",
                        _apply_args, _apply),
                *_search_commands(),
            ]),
]
