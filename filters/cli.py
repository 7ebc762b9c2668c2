"""Command-line parts for classifiers, selection and topics (called from pipeline/cli.py):

    gristmill classify train --positive IN... --negative IN... --out MODEL_DIR [fastText options]
    gristmill classify score IN... --model MODEL_DIR --out DIR
    gristmill select IN... --out DIR --column score_quality (--threshold X | --top-fraction F) [--by source]
    gristmill topics fit IN... --k K --out DIR [--method kmeans|nmf]
"""

from __future__ import annotations

import json

COMMANDS = ("classify", "select", "topics")


def add_parsers(sub, common, stage_cmd) -> None:
    p = sub.add_parser("classify", help="train a fastText quality classifier, or score documents with one")
    csub = p.add_subparsers(dest="classify_command", required=True)
    t = csub.add_parser("train", help="train from positive and negative Parquet documents")
    t.add_argument("--positive", nargs="+", required=True, metavar="IN", help="reference documents (Parquet)")
    t.add_argument("--negative", nargs="+", required=True, metavar="IN", help="e.g. random crawl documents")
    t.add_argument("--out", required=True, metavar="MODEL_DIR", help="writes model.bin and metadata.json")
    t.add_argument("--name", default="quality", help="scores go to score_<name> (default: quality)")
    t.add_argument("--heldout", type=float, default=0.1, help="fraction of each class held out for metrics")
    t.add_argument("--max-per-class", type=int, default=None)
    t.add_argument("--seed", type=int, default=0)
    for flag, typ, key in [("--lr", float, "lr"), ("--epoch", int, "epoch"), ("--dim", int, "dim"),
                           ("--word-ngrams", int, "wordNgrams"), ("--bucket", int, "bucket"),
                           ("--min-count", int, "minCount"), ("--threads", int, "thread")]:
        t.add_argument(flag, type=typ, default=None, dest=f"ft_{key}", help=f"fastText {key}")
    s = csub.add_parser("score", help="add score_<name> to documents")
    s.add_argument("inputs", nargs="+", metavar="IN")
    s.add_argument("--model", required=True, metavar="MODEL_DIR")
    s.add_argument("--out", required=True)
    s.add_argument("--name", default=None, help="column score_<name> (default: the model's name)")
    common(s)

    p = stage_cmd(sub, "select", "keep documents above a score threshold or the top fraction per source")
    p.add_argument("--column", required=True, help="score column, e.g. score_quality")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--threshold", type=float)
    g.add_argument("--top-fraction", type=float)
    p.add_argument("--by", default="source", help="group for --top-fraction (default: source)")

    p = sub.add_parser("topics", help="unsupervised topic model")
    tsub = p.add_subparsers(dest="topics_command", required=True)
    f = tsub.add_parser("fit", help="fit on a sample and add `topic` to every document")
    f.add_argument("inputs", nargs="+", metavar="IN")
    f.add_argument("--out", required=True)
    f.add_argument("--k", type=int, required=True, help="number of topics")
    f.add_argument("--method", choices=("nmf", "kmeans"), default="nmf")
    f.add_argument("--sample-size", type=int, default=20_000)
    f.add_argument("--seed", type=int, default=0)
    common(f)


def run(args, run_single) -> int:
    if args.command == "classify" and args.classify_command == "train":
        from gristmill.filters.quality import read_text, train_classifier

        params = {k[3:]: v for k, v in vars(args).items() if k.startswith("ft_") and v is not None}
        meta = train_classifier(read_text(args.positive), read_text(args.negative), args.out, name=args.name,
                                params=params, heldout=args.heldout, seed=args.seed,
                                max_per_class=args.max_per_class,
                                data_info={"positive": args.positive, "negative": args.negative})
        print(json.dumps({"model": args.out, "heldout": meta["heldout"], "lr_attempts": meta["lr_attempts"],
                          "data": meta["data"]}, indent=1))
        return 0
    if args.command == "classify":
        params = {"model": args.model, **({"name": args.name} if args.name else {})}
        return run_single("quality_score", params, args)
    if args.command == "select":
        params = {"column": args.column, "by": args.by}
        params.update({"threshold": args.threshold} if args.threshold is not None
                      else {"top_fraction": args.top_fraction})
        return run_single("select", params, args)
    if args.command == "topics":
        return run_single("topics", {"k": args.k, "method": args.method, "sample_size": args.sample_size,
                                     "seed": args.seed}, args)
    return 2
