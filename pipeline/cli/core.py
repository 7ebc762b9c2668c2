"""The commands that belong to no area: run a workflow, look inside outputs, list stages,
print the workflow JSON Schema."""

from __future__ import annotations

import json

from gristmill.pipeline.commands import Command


def _run_args(p) -> None:
    p.add_argument("workflow")
    p.add_argument("--workdir", required=True, help="each step's output goes to WORKDIR/<step>/")
    p.add_argument("--inputs", nargs="+", default=None, help="override the workflow's inputs")


def _run(args) -> int:
    from gristmill.pipeline import runner
    from gristmill.pipeline.workflow import load

    wf = load(args.workflow, inputs=args.inputs)
    runner.run(wf, workdir=args.workdir, scheduler=args.scheduler, workers=args.workers, quiet=args.quiet)
    return 0


def _inspect_args(p) -> None:
    p.add_argument("dir")
    p.add_argument("--rows", type=int, default=3)


def _inspect(args) -> int:
    from gristmill.pipeline.inspection import inspect

    print(inspect(args.dir, rows=args.rows))
    return 0


def _stages_args(p) -> None:
    p.add_argument("--json", action="store_true", help="one JSON object per stage")
    p.add_argument("names", nargs="*", help="only these stages (name or name@N)")


def _stages(args) -> int:
    from gristmill.pipeline.cli.describe import describe_stages

    print(describe_stages(args.names, as_json=args.json))
    return 0


def _schema_args(p) -> None:
    p.add_argument("--out", default=None, help="write to this file (default: standard output)")


def _schema(args) -> int:
    from gristmill.pipeline.workflow import json_schema

    text = json.dumps(json_schema(), indent=1, sort_keys=True) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        print(text, end="")
    return 0


COMMANDS = [
    Command("run", "run a workflow YAML", _run_args, _run),
    Command("inspect", "counts, columns, sources and sample rows of an output folder", _inspect_args, _inspect,
            runs_stages=False),
    Command("stages", "every registered stage: version, kind, columns read/added, parameters", _stages_args,
            _stages, runs_stages=False),
    Command("schema", "JSON Schema for workflow files (editors validate YAML recipes with it)", _schema_args,
            _schema, runs_stages=False),
]
