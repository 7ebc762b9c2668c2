"""The filters area's commands (collected by `gristmill.pipeline.cli`):

    gristmill filter IN... --out DIR [--rules a,b,c] [--policy P] [--eval FILE...] [--badwords FILE_OR_URL]
    gristmill dedupe IN... --out DIR [--exact] [--fuzzy] [--threshold X] [--keep RULE] [fuzzy options]
    gristmill classify train --positive IN... --negative IN... --out MODEL_DIR [fastText options]
    gristmill classify score IN... --model MODEL_DIR --out DIR
    gristmill select IN... --out DIR --column score_quality (--threshold X | --top-fraction F) [--by source]
    gristmill topics fit IN... --k K --out DIR [--method kmeans|nmf]

Stage options take their defaults, help and choices from the stages' declared parameters.
Stage modules are imported when the parser is built (they are light: no fastText, torch or
Dask until a stage runs).
"""

from __future__ import annotations

import argparse
import json

from gristmill.pipeline.commands import (Command, CliError, absolute, add_inputs_and_out, add_param_options,
                                         param_values, run_stage)
from gristmill.pipeline.params import declared

# --rules names for `gristmill filter` -> (stage, params), or a list of them
FILTER_RULES: dict[str, tuple[str, dict] | list[tuple[str, dict]]] = {
    "length": ("length_filter", {}),
    "datatrove_gopher": ("datatrove", {"step": "datatrove.pipeline.filters.GopherQualityFilter"}),
    "gopher": [("gopher_quality", {}), ("gopher_repetition", {})],
    "gopher_quality": ("gopher_quality", {}),
    "gopher_repetition": ("gopher_repetition", {}),
    "c4": ("c4_quality", {}),
    "c4_badwords": ("c4_badwords", {}),  # --badwords picks the list (default: LDNOOBW, downloaded)
    "fineweb": ("fineweb_quality", {}),
    "pii": ("pii", {}),
    "license": ("license_policy", {}),  # --policy picks the policy (default honour-opt-outs)
    "decontaminate": ("decontaminate", {}),  # needs --eval FILES
}


def _help(stage_cls, name: str) -> str:
    return next(p.help for p in declared(stage_cls.Params) if p.name == name)


def _default(stage_cls, name: str):
    return next(p.default for p in declared(stage_cls.Params) if p.name == name)


# --- gristmill filter ---------------------------------------------------------------------

def _filter_args(p: argparse.ArgumentParser) -> None:
    from gristmill.filters.c4_badwords import C4BadWordsFilter
    from gristmill.filters.decontaminate import Decontaminate
    from gristmill.filters.license_policy import LicensePolicy

    add_inputs_and_out(p)
    p.add_argument("--rules", default="length",
                   help=f"comma-separated rules, applied in order: {', '.join(FILTER_RULES)}")
    add_param_options(p, LicensePolicy, names=["policy"])           # license rule
    # decontaminate rule: several files (its `eval_files`, which has no default)
    p.add_argument("--eval", nargs="+", default=None, metavar="FILE",
                   help=f"decontaminate rule: {_help(Decontaminate, 'eval_files')}")
    add_param_options(p, C4BadWordsFilter, names=["words"])         # c4_badwords rule: --badwords


def _filter(args: argparse.Namespace) -> int:
    from gristmill.filters.c4_badwords import C4BadWordsFilter
    from gristmill.filters.license_policy import LicensePolicy

    rules = []
    for r in filter(None, (x.strip() for x in args.rules.split(","))):
        if r not in FILTER_RULES:
            raise CliError(f"unknown rule set {r!r}; choose from {', '.join(FILTER_RULES)}")
        entries = FILTER_RULES[r] if isinstance(FILTER_RULES[r], list) else [FILTER_RULES[r]]
        for stage, params in entries:
            params = dict(params)
            if stage == "license_policy":
                params.update(param_values(args, LicensePolicy, names=["policy"]))
            if stage == "c4_badwords":
                params.update(param_values(args, C4BadWordsFilter, names=["words"], paths=("words",)))
            if stage == "decontaminate":
                if not args.eval:
                    raise CliError("the decontaminate rule needs --eval FILE...")
                params["eval_files"] = [absolute(f) for f in args.eval]
            rules.append({"stage": stage, "params": params})
    return run_stage("filter_chain", {"rules": rules}, args)


# --- gristmill dedupe ---------------------------------------------------------------------

FUZZY_OPTIONS = ["threshold", "shingle_size", "bands", "rows", "verify"]


def _dedupe_args(p: argparse.ArgumentParser) -> None:
    from gristmill.filters.dedupe.exact import ExactDedupe
    from gristmill.filters.dedupe.fuzzy import FuzzyDedupe

    add_inputs_and_out(p)
    # --exact / --fuzzy choose the stage(s); they are not the fuzzy stage's `exact` switch
    p.add_argument("--exact", action="store_true", help="equal normalised text")
    p.add_argument("--fuzzy", action="store_true", help="MinHash-LSH near-duplicates")
    # --keep's default depends on which stage runs
    p.add_argument("--keep", default=None,
                   help=f"kept copy per cluster: longest, earliest or score_<name> (highest); default: "
                        f"{_default(FuzzyDedupe, 'keep')} (fuzzy), {_default(ExactDedupe, 'keep')} (exact)")
    add_param_options(p, FuzzyDedupe, names=FUZZY_OPTIONS)


def _dedupe(args: argparse.Namespace) -> int:
    from gristmill.filters.dedupe.exact import ExactDedupe
    from gristmill.filters.dedupe.fuzzy import FuzzyDedupe

    keep = {"keep": args.keep} if args.keep else {}
    if args.exact and not args.fuzzy:
        return run_stage(ExactDedupe, keep, args)
    # --fuzzy, or neither flag: fuzzy, joining exact duplicates too unless only --fuzzy was asked
    params = {**keep, **param_values(args, FuzzyDedupe, names=FUZZY_OPTIONS), "exact": args.exact or not args.fuzzy}
    return run_stage(FuzzyDedupe, params, args)


# --- gristmill classify train | score -----------------------------------------------------

TRAIN_OPTIONS = ["heldout", "group_by", "max_per_class", "seed", "tune_trials", "tune_folds", "tune_max_per_class"]
FASTTEXT_OPTIONS = ["lr", "epoch", "dim", "wordNgrams", "bucket", "minCount", "thread"]


def _train_args(p: argparse.ArgumentParser) -> None:
    from gristmill.filters.quality import QualityClassifier

    p.add_argument("--positive", nargs="+", required=True, metavar="IN", help="reference documents (Parquet)")
    p.add_argument("--negative", nargs="+", required=True, metavar="IN", help="e.g. random crawl documents")
    p.add_argument("--out", required=True, metavar="MODEL_DIR", help="writes model.bin and metadata.json")
    # a model trained by hand is named here: "quality" unless told
    add_param_options(p, QualityClassifier, names=["name"], defaults={"name": "quality"})
    add_param_options(p, QualityClassifier, names=TRAIN_OPTIONS + FASTTEXT_OPTIONS)


def _train(args: argparse.Namespace) -> int:
    from gristmill.filters import training_groups as tg
    from gristmill.filters.quality import (QualityClassifier, column_names, headline, read_training, search_summary,
                                           train_classifier)

    v = param_values(args, QualityClassifier, names=["name"] + TRAIN_OPTIONS + FASTTEXT_OPTIONS)
    try:
        column = tg.group_column(column_names(args.positive) | column_names(args.negative), v["group_by"])
    except ValueError as e:
        raise CliError(f"--group-by: {e}") from e
    pos_text, pos_keys = read_training(args.positive, column)
    neg_text, neg_keys = read_training(args.negative, column)
    meta = train_classifier(pos_text, neg_text, args.out, name=v["name"], positive_groups=pos_keys,
                            negative_groups=neg_keys,
                            group_by=column or (tg.NONE if v["group_by"] == tg.NONE else tg.NEAR_DUPLICATES),
                            params={k: v[k] for k in FASTTEXT_OPTIONS if k in v}, heldout=v["heldout"],
                            seed=v["seed"], max_per_class=v.get("max_per_class"), tune_trials=v["tune_trials"],
                            tune_folds=v["tune_folds"], tune_max_per_class=v.get("tune_max_per_class"),
                            data_info={"positive": args.positive, "negative": args.negative})
    search = meta["search"]
    print(json.dumps({"model": args.out, "heldout": meta["heldout"], "search": search_summary(search),
                      "params": meta["params"], "lr_attempts": meta["lr_attempts"], "data": meta["data"]}, indent=1))
    print(headline(meta))
    return 0


def _score_args(p: argparse.ArgumentParser) -> None:
    from gristmill.filters.quality import QualityScore

    add_inputs_and_out(p)
    add_param_options(p, QualityScore, names=["model", "name"], required=("model",))


def _score(args: argparse.Namespace) -> int:
    from gristmill.filters.quality import QualityScore

    return run_stage(QualityScore, param_values(args, QualityScore, names=["model", "name"], paths=("model",)), args)


# --- gristmill select ---------------------------------------------------------------------

def _select_args(p: argparse.ArgumentParser) -> None:
    from gristmill.filters.select import Select

    add_inputs_and_out(p)
    add_param_options(p, Select, names=["column"], required=("column",))
    add_param_options(p.add_mutually_exclusive_group(required=True), Select, names=["threshold", "top_fraction"])
    add_param_options(p, Select, names=["by"])


def _select(args: argparse.Namespace) -> int:
    from gristmill.filters.select import Select

    return run_stage(Select, param_values(args, Select, names=["column", "threshold", "top_fraction", "by"]), args)


# --- gristmill topics fit -----------------------------------------------------------------

TOPIC_OPTIONS = ["k", "method", "sample_size", "seed"]


def _topics_args(p: argparse.ArgumentParser) -> None:
    from gristmill.filters.topics import TopicModel

    add_inputs_and_out(p)
    add_param_options(p, TopicModel, names=TOPIC_OPTIONS, required=("k",), defaults={"k": None})


def _topics(args: argparse.Namespace) -> int:
    from gristmill.filters.topics import TopicModel

    return run_stage(TopicModel, param_values(args, TopicModel, names=TOPIC_OPTIONS), args)


COMMANDS: list[Command] = [
    Command("filter", "apply filter rules", _filter_args, _filter),
    Command("classify", "train a fastText quality classifier, or score documents with one", subcommands=[
        Command("train", "train from positive and negative Parquet documents", _train_args, _train,
                runs_stages=False),
        Command("score", "add score_<name> to documents", _score_args, _score),
    ]),
    Command("select", "keep documents above a score threshold or the top fraction per source", _select_args,
            _select),
    Command("topics", "unsupervised topic model", subcommands=[
        Command("fit", "fit on a sample and add `topic` to every document", _topics_args, _topics),
    ]),
    Command("dedupe", "remove duplicate documents corpus-wide (default: --exact and --fuzzy)", _dedupe_args,
            _dedupe),
]
