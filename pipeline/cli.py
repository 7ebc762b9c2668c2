"""`gristmill` command line. Every stage command has one shape:

    gristmill STAGE IN... --out DIR [--workers N] [--scheduler ADDRESS] [stage options]

and writes DIR/part-*.parquet, DIR/dropped/part-*.parquet and DIR/stats.json.
"""

from __future__ import annotations

import argparse
import os
import sys

from gristmill.pipeline import registry
from gristmill.pipeline.workflow import Step, Workflow, WorkflowError, check_columns, load

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


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=None,
                   help="Dask worker processes on this machine (default: one per core)")
    p.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler, tcp://HOST:PORT")
    p.add_argument("--quiet", action="store_true", help="no progress bars or summary")


def _stage_cmd(sub, name: str, help: str):
    p = sub.add_parser(name, help=help)
    p.add_argument("inputs", nargs="+", metavar="IN")
    p.add_argument("--out", required=True, help="output folder")
    _common(p)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gristmill", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run a workflow YAML")
    p.add_argument("workflow")
    p.add_argument("--workdir", required=True, help="each step's output goes to WORKDIR/<step>/")
    p.add_argument("--inputs", nargs="+", default=None, help="override the workflow's inputs")
    _common(p)

    p = sub.add_parser("inspect", help="counts, columns, sources and sample rows of an output folder")
    p.add_argument("dir")
    p.add_argument("--rows", type=int, default=3)

    p = sub.add_parser("stages", help="list the registered stage names")

    p = _stage_cmd(sub, "read", "JSONL / Parquet / text files to documents")
    p.add_argument("--source", default=None, help="`source` for records that have none")

    from gristmill.pipeline.ingest import cli as ingest_cli

    ingest_cli.add_parser(sub, _common)
    p = _stage_cmd(sub, "ocr", "PDF files or ingest's PDF queue to documents (one per PDF)")
    from gristmill.ocr.cli import add_arguments as _ocr_arguments

    _ocr_arguments(p)

    p = _stage_cmd(sub, "filter", "apply filter rules")
    p.add_argument("--rules", default="length",
                   help=f"comma-separated rules, applied in order: {', '.join(FILTER_RULES)}")
    p.add_argument("--policy", default=None,
                   help="license rule: preset (permissive-only, honour-opt-outs, everything-logged) or YAML file")
    p.add_argument("--eval", nargs="+", default=None, metavar="FILE",
                   help="decontaminate rule: evaluation sets (JSONL or text files)")
    p.add_argument("--badwords", default=None, metavar="FILE_OR_URL",
                   help="c4_badwords rule: word list, one per line (default: LDNOOBW per language, downloaded)")

    from gristmill.filters import classify_cli

    classify_cli.add_parsers(sub, _common, _stage_cmd)
    from gristmill.tokenize import cli as tokenize_cli  # tokenize, mix, train, locate, export

    tokenize_cli.add_commands(sub, _stage_cmd, _common)
    p = _stage_cmd(sub, "dedupe", "remove duplicate documents corpus-wide (default: --exact and --fuzzy)")
    p.add_argument("--exact", action="store_true", help="equal normalised text")
    p.add_argument("--fuzzy", action="store_true", help="MinHash-LSH near-duplicates")
    p.add_argument("--threshold", type=float, default=0.8, help="fuzzy: Jaccard of word shingles at or above which two documents are duplicates")
    p.add_argument("--keep", default=None, help="kept copy per cluster: longest (fuzzy default), "
                   "earliest (exact default) or score_<name> (highest)")
    p.add_argument("--shingle-size", type=int, default=5, help="fuzzy: words per shingle")
    p.add_argument("--bands", type=int, default=20, help="fuzzy: LSH bands")
    p.add_argument("--rows", type=int, default=5, help="fuzzy: MinHash values per band")
    p.add_argument("--verify", choices=["jaccard", "minhash"], default="jaccard",
                   help="fuzzy: check LSH candidates by exact shingle Jaccard (default) or the MinHash estimate")
    return parser


def cmd_dedupe(args) -> int:
    keep = {"keep": args.keep} if args.keep else {}
    if args.exact and not args.fuzzy:
        return run_single("dedupe_exact", keep, args)
    # --fuzzy, or neither flag: fuzzy, joining exact duplicates too unless only --fuzzy was asked
    return run_single("dedupe_fuzzy", {**keep, "threshold": args.threshold, "shingle_size": args.shingle_size,
                                        "bands": args.bands, "rows": args.rows, "verify": args.verify,
                                        "exact": args.exact or not args.fuzzy}, args)


def run_single(stage_name: str, params: dict, args) -> int:
    """Run one stage standalone: a one-step workflow whose output folder is --out."""
    from gristmill.pipeline import runner

    stage = registry.resolve(stage_name)(**params)
    wf = Workflow(name=stage.name, inputs=[os.path.abspath(p) if "://" not in p else p for p in args.inputs],
                  steps=[Step(name=stage.name, stage=stage)])
    check_columns(wf)
    runner.run(wf, out_dirs={stage.name: args.out}, scheduler=args.scheduler, workers=args.workers,
               quiet=args.quiet)
    return 0


def cmd_filter(args) -> int:
    rules = []
    for r in filter(None, (x.strip() for x in args.rules.split(","))):
        if r not in FILTER_RULES:
            raise WorkflowError(f"unknown rule set {r!r}; choose from {', '.join(FILTER_RULES)}")
        entries = FILTER_RULES[r] if isinstance(FILTER_RULES[r], list) else [FILTER_RULES[r]]
        for stage, params in entries:
            params = dict(params)
            if stage == "license_policy" and args.policy:
                params["policy"] = args.policy
            if stage == "c4_badwords" and args.badwords:
                params["words"] = args.badwords if "://" in args.badwords else os.path.abspath(args.badwords)
            if stage == "decontaminate":
                if not args.eval:
                    raise WorkflowError("the decontaminate rule needs --eval FILE...")
                params["eval_files"] = [os.path.abspath(f) for f in args.eval]
            rules.append({"stage": stage, "params": params})
    return run_single("filter_chain", {"rules": rules}, args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            from gristmill.pipeline import runner

            wf = load(args.workflow, inputs=args.inputs)
            runner.run(wf, workdir=args.workdir, scheduler=args.scheduler, workers=args.workers, quiet=args.quiet)
            return 0
        if args.command == "inspect":
            from gristmill.pipeline.inspection import inspect

            print(inspect(args.dir, rows=args.rows))
            return 0
        if args.command == "stages":
            print("\n".join(registry.available()))
            return 0
        if args.command == "read":
            return run_single("read_documents", {"source": args.source} if args.source else {}, args)
        if args.command == "filter":
            return cmd_filter(args)
        if args.command == "ingest":
            from gristmill.pipeline.ingest import cli as ingest_cli

            return ingest_cli.run(args, run_single)
        from gristmill.filters import classify_cli

        if args.command in classify_cli.COMMANDS:
            return classify_cli.run(args, run_single)
        from gristmill.tokenize import cli as tokenize_cli

        if args.command in tokenize_cli.COMMANDS:
            return tokenize_cli.run(args)
        if args.command == "ocr":
            from gristmill.ocr.cli import resolve_inputs, stage_and_params

            args.inputs = resolve_inputs(args.inputs)
            if not args.inputs:
                raise WorkflowError("no PDF files or PDF queue shards found in the inputs")
            stage, params = stage_and_params(args)  # origin_file keeps each path as given
            return run_single(stage, params, args)
        if args.command == "dedupe":
            return cmd_dedupe(args)
    except (WorkflowError, FileNotFoundError) as e:
        print(f"gristmill: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # RunFailed and friends: one clear line, no traceback wall
        from gristmill.pipeline.runner import RunFailed

        if isinstance(e, RunFailed):
            print(f"gristmill: {e}", file=sys.stderr)
            return 1
        raise
    return 2


if __name__ == "__main__":
    sys.exit(main())
