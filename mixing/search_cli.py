"""`gristmill mix` subcommands of mixture search (the `mix` group lives in mixing/cli.py):

    gristmill mix swarm TOKENIZED --out MIXDIR [--runs N] [--by source|topic] [--proxy FILE] [--seed S]
              [--prior natural|uniform|unimax] [--budget-tokens B] [--max-epochs R] [--target NAME=FILE ...]
    gristmill mix import --mixtures CSV --metrics CSV --out MIXDIR
    gristmill mix fit MIXDIR [--model loglinear|gbm|ridge|gp] [--target METRIC ...]
    gristmill mix predict MIXDIR --mixtures CSV --out CSV
    gristmill mix propose MIXDIR --out WEIGHTS.yaml [--budget-tokens B] [--max-epochs R] [--kl L] [--prior natural|uniform]
    gristmill mix rebucket MIXDIR --map NEW=OLD+OLD,... --out MIXDIR2
    gristmill mix report MIXDIR --out REPORT.html
"""

from __future__ import annotations

import argparse
import json

from gristmill.pipeline.commands import CliError, Command


def _swarm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("tokenized", help="a `gristmill tokenize` output folder (natural mixture)")
    p.add_argument("--out", required=True, help="the mixture folder (MIXDIR): swarm.json, runs.parquet")
    p.add_argument("--runs", type=int, default=24, help="proxy runs (Olmix: about 5 x the domains; default 24)")
    p.add_argument("--by", default="source", choices=("source", "topic"), help="what names a domain")
    p.add_argument("--proxy", default=None, help="YAML/JSON of TrainConfig fields for the proxies "
                                                  "(default: a 2-layer, 32-wide GPT, 300 steps)")
    p.add_argument("--seed", type=int, default=0, help="seed of the mixtures and of every proxy (one for all)")
    p.add_argument("--prior", default="natural", choices=("natural", "uniform", "unimax"),
                   help="what the mixtures are sampled around")
    p.add_argument("--budget-tokens", type=float, default=None,
                   help="target budget the caps are computed at (default: the proxy's training tokens)")
    p.add_argument("--max-epochs", type=float, default=4.0, help="repetition cap (default 4)")
    p.add_argument("--target", action="append", default=[], metavar="NAME=FILE",
                   help="also measure bits per byte on this text (plain text or JSONL with `text`)")


def _swarm(args: argparse.Namespace) -> int:
    from gristmill.mixing.proxy import proxy_config
    from gristmill.mixing.swarm import plan_swarm, run_swarm
    from gristmill.pipeline.runner import dask_client
    from gristmill.tokenize.train import read_config_file

    targets = {}
    for t in args.target:
        name, sep, path = t.partition("=")
        if not sep:
            raise CliError(f"--target is NAME=FILE, got {t!r}")
        targets[name] = path
    try:
        overrides = read_config_file(args.proxy)
        proxy_config(overrides)
        plan = plan_swarm(args.tokenized, args.runs, args.by, args.prior, overrides, args.seed,
                          int(args.budget_tokens) if args.budget_tokens else None, args.max_epochs, targets)
    except ValueError as e:
        raise CliError(str(e)) from e
    say = (lambda *_: None) if args.quiet else print
    with dask_client(args.scheduler, args.workers) as client:
        runs = run_swarm(plan, args.out, client=client, progress=say)
    print(f"swarm: {len(runs)} run(s) of {len(plan['domains'])} domains in {args.out}/runs.parquet")
    return 0


def _import_args(p):
    p.add_argument("--mixtures", required=True, help="CSV: index, one column per domain weight")
    p.add_argument("--metrics", required=True, help="CSV: index, one column per metric")
    p.add_argument("--out", required=True, help="the mixture folder to write")
    p.add_argument("--higher-is-better", action="store_true", help="metrics are scores, not losses")


def _import(args):
    from gristmill.mixing.runs import import_csv

    info = import_csv(args.mixtures, args.metrics, args.out, lower_is_better=not args.higher_is_better)
    print(f"import: {info['runs']} runs, {info['domains']} domains, {info['metrics']} metrics -> {args.out}")
    return 0


def _fit_args(p):
    from gristmill.mixing.regress import MODELS

    p.add_argument("mix_dir")
    p.add_argument("--model", choices=MODELS, default=None,
                   help="the regression (default: score all, use the best out-of-fold mean Spearman)")
    p.add_argument("--target", nargs="+", default=None, metavar="METRIC", help="metrics to fit (default: all)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds")


def _fit(args):
    from gristmill.mixing.search import fit_mixdir

    result = fit_mixdir(args.mix_dir, args.model, args.target, args.folds)
    for name, per in result["models"].items():
        mean = per["mean"]
        worst = min((v["spearman"], m) for m, v in per.items() if m != "mean")
        print(f"{name:9s} mean: spearman {mean['spearman']:.3f} pearson {mean['pearson']:.3f} "
              f"regret@1 {mean['regret_at_1']:.4f}; lowest per-metric spearman {worst[0]:.3f} ({worst[1]})"
              + ("   <- used by propose" if name == result["chosen"] else ""))
    print(f"fit: {result['runs']} runs, out-of-fold scores in {args.mix_dir}/fit.json")
    return 0


def _predict_args(p):
    p.add_argument("mix_dir")
    p.add_argument("--mixtures", required=True, help="CSV with one column per domain (e.g. RegMix's layout)")
    p.add_argument("--out", required=True, help="the CSV written back, one column per fitted metric")


def _predict(args):
    from gristmill.mixing.search import predict_csv

    print(f"predict: {predict_csv(args.mix_dir, args.mixtures, args.out)} mixtures -> {args.out}")
    return 0


def _propose_args(p):
    p.add_argument("mix_dir")
    p.add_argument("--out", required=True, help="WEIGHTS.yaml (for `mix apply --weights`, `tokenize --weights`)")
    p.add_argument("--budget-tokens", type=float, default=None, help="budget the caps apply at (default: the swarm's)")
    p.add_argument("--max-epochs", type=float, default=None, help="repetition cap (default: the swarm's)")
    p.add_argument("--kl", type=float, default=0.05, help="weight of KL(w || prior) (Olmix: 0.05)")
    p.add_argument("--prior", default="natural", choices=("natural", "uniform"), help="the KL term's prior")


def _propose(args):
    from gristmill.mixing.search import propose_mixdir

    try:
        r = propose_mixdir(args.mix_dir, args.out, int(args.budget_tokens) if args.budget_tokens else None,
                           args.max_epochs, args.kl, args.prior)
    except ValueError as e:
        raise CliError(str(e)) from e
    domains = list(r["weights"])
    print(f"{'mixture':10s} " + " ".join(f"{d[:10]:>10s}" for d in domains) + "  predicted mean")
    for name, w in [("proposal", r["weights"]), *r["baselines"].items()]:
        c = r["compare"][name]
        print(f"{name:10s} " + " ".join(f"{w[d]:10.3f}" for d in domains)
              + f"  {c['predicted_mean']:.4f}" + ("" if c["within_caps"] else "  (over a cap)"))
    print(f"{'cap':10s} " + " ".join(f"{r['caps'][d]:10.3f}" for d in domains))
    print(f"propose: {args.out}")
    return 0


def _rebucket_args(p):
    p.add_argument("mix_dir")
    p.add_argument("--map", required=True, help="NEW=OLD+OLD,...: each new domain sums its old domains' weights")
    p.add_argument("--out", required=True, help="the re-bucketed mixture folder")


def _rebucket(args):
    from gristmill.mixing.runs import parse_mapping, rebucket

    info = rebucket(args.mix_dir, parse_mapping(args.map), args.out)
    print(f"rebucket: {info['runs']} runs over {', '.join(info['domains'])} -> {args.out}")
    return 0


def _report_args(p):
    p.add_argument("mix_dir")
    p.add_argument("--out", required=True, help="REPORT.html (report.json is written beside it)")


def _report(args):
    from gristmill.mixing.report import write_report

    info = write_report(args.mix_dir, args.out)
    print(json.dumps({"html": info["html"], "json": info["json"]}))
    return 0


COMMANDS = [
    Command("swarm", "train proxy models on sampled mixtures of a token folder (one Dask task each)",
            _swarm_args, _swarm),
    Command("import", "read an external swarm (RegMix's released CSV layout) into a mixture folder",
            _import_args, _import, runs_stages=False),
    Command("fit", "regress each metric on the mixture weights; out-of-fold scores in fit.json",
            _fit_args, _fit, runs_stages=False),
    Command("predict", "predicted metrics for the mixtures of a CSV", _predict_args, _predict, runs_stages=False),
    Command("propose", "the best predicted mixture within the caps -> WEIGHTS.yaml", _propose_args, _propose,
            runs_stages=False),
    Command("rebucket", "a swarm over merged domains (weights summed)", _rebucket_args, _rebucket,
            runs_stages=False),
    Command("report", "HTML report of a mixture folder (plots + report.json)", _report_args, _report,
            runs_stages=False),
]
