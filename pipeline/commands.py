"""The command-line protocol every area uses (the top-level `gristmill` parser collects them).

An area exposes `COMMANDS: list[Command]` in its `cli` module. A command either runs
stages (then it gets `--workers`, `--scheduler` and `--quiet`, and runs them with
`run_stages`, a workflow of one or more steps on the same runner as `gristmill run`) or does
something else (train, locate, export). Stage options come from the stage's declared
parameters (`add_param_options` / `param_values`), so defaults and help are written once.
Every user error is a GristmillError (CliError for options); the parser prints it as one
line and exits 2.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from gristmill.pipeline.errors import CliError, GristmillError  # noqa: F401 - re-exported for areas
from gristmill.pipeline.params import ParamInfo, declared


@dataclass
class Command:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    run: Callable[[argparse.Namespace], int] | None = None
    runs_stages: bool = True          # adds --workers / --scheduler / --quiet
    subcommands: list["Command"] = field(default_factory=list)  # a group: `gristmill mix apply ...`


def add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=None,
                   help="Dask worker processes on this machine (default: one per core)")
    p.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler, tcp://HOST:PORT")
    p.add_argument("--quiet", action="store_true", help="no progress bars or summary")


def add_in_process_options(p: argparse.ArgumentParser) -> None:
    """`--workers` / `--scheduler` for a command that runs no Dask stage (train, inspect, mix
    fit, ...): every command takes them, so one command line works for all (a script or check
    that passes them everywhere), and they say so here instead of failing as unknown."""
    note = "accepted by every command; this one works in this process, without a Dask cluster"
    for flag, kw in (("--workers", {"type": int}), ("--scheduler", {})):
        if flag not in p._option_string_actions:
            p.add_argument(flag, default=None, help=note, **kw)


def add_inputs_and_out(p: argparse.ArgumentParser, metavar: str = "IN", out_help: str = "output folder") -> None:
    p.add_argument("inputs", nargs="+", metavar=metavar)
    p.add_argument("--out", required=True, help=out_help)


def add_to_parser(sub, cmd: Command, chosen: list[str] | None = None) -> argparse.ArgumentParser:
    """Add `cmd` to a subparsers object. With `chosen` (the command words of this invocation),
    only the chosen command's options are built: building them imports its stage modules
    (pandas, numba, ...), which a `gristmill ingest` should not pay for `gristmill dedupe`."""
    p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
    if chosen is not None and (not chosen or chosen[0] != cmd.name):
        return p  # listed in `gristmill --help`; its options are built when it is the one run
    rest = chosen[1:] if chosen is not None else None
    if cmd.subcommands:
        inner = p.add_subparsers(dest=f"{cmd.name}_command", required=True, metavar="COMMAND")
        for c in cmd.subcommands:
            add_to_parser(inner, c, rest)
        return p
    if cmd.arguments:
        cmd.arguments(p)
    if cmd.runs_stages:
        add_run_options(p)
    else:
        add_in_process_options(p)
    p.set_defaults(_command=cmd)
    return p


def option_name(info: ParamInfo) -> str:
    return info.cli or "--" + info.name.replace("_", "-")


def add_param_options(p, stage_cls, names: list[str] | None = None, exclude: tuple[str, ...] = (),
                      defaults: dict[str, Any] | None = None, required: tuple[str, ...] = ()) -> None:
    """argparse options for a stage's declared parameters (all, or `names`): type, default,
    choices and help from the declaration. Lists take several values; booleans become
    --flag / --no-flag."""
    infos = {i.name: i for i in declared(stage_cls.Params)}
    for name in names or list(infos):
        if name in exclude:
            continue
        info = infos[name]
        default = (defaults or {}).get(name, info.default)
        flag = option_name(info)
        help = info.help + (f" (default: {default})" if default not in (None, "", [], {}) else "")
        kw: dict[str, Any] = {"dest": f"param_{name}", "help": help}
        metavar = name.upper()
        base = _scalar(info.type)
        if base is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, **kw)
            continue
        if base is list:
            kw["nargs"] = "+"
            base = _item(info.type)
        if base in (int, float, str):
            kw["type"] = base
        if info.choices:
            kw["choices"] = info.choices
        else:
            kw["metavar"] = metavar
        p.add_argument(flag, default=default, required=name in required, **kw)


def param_values(args: argparse.Namespace, stage_cls, names: list[str] | None = None,
                 paths: tuple[str, ...] = ()) -> dict[str, Any]:
    """The stage parameters set by `add_param_options` (None left out: the stage's default).
    Values of `paths` are made absolute, since stages run in worker processes."""
    out = {}
    for info in declared(stage_cls.Params):
        if names is not None and info.name not in names:
            continue
        key = f"param_{info.name}"
        if not hasattr(args, key) or getattr(args, key) is None:
            continue
        v = getattr(args, key)
        if info.name in paths:
            v = [absolute(x) for x in v] if isinstance(v, list) else absolute(v)
        out[info.name] = v
    return out


def absolute(path: str) -> str:
    return path if "://" in path else os.path.abspath(path)


def run_stages(steps: list[tuple[str, Any]], inputs: list[str], out_dirs: dict[str, str],
               args: argparse.Namespace, name: str | None = None) -> list:
    """Run `steps` [(step name, Stage)] as a workflow on the runner: the one way commands run
    stages. Inputs are made absolute; columns are checked before any work."""
    from gristmill.pipeline import runner
    from gristmill.pipeline.workflow import Step, Workflow, check_columns

    wf = Workflow(name=name or steps[0][0], inputs=[absolute(p) for p in inputs],
                  steps=[Step(name=n, stage=s) for n, s in steps])
    check_columns(wf)
    return runner.run(wf, out_dirs=out_dirs, scheduler=getattr(args, "scheduler", None),
                      workers=getattr(args, "workers", None), quiet=getattr(args, "quiet", False))


def run_stage(stage_or_name, params: dict, args: argparse.Namespace, out: str | None = None,
              inputs: list[str] | None = None) -> int:
    """One stage standalone: a one-step workflow whose output folder is --out."""
    from gristmill.pipeline import registry
    from gristmill.pipeline.params import ParamError

    cls = registry.resolve(stage_or_name) if isinstance(stage_or_name, str) else stage_or_name
    try:
        stage = cls(**params)
    except ParamError:
        raise
    except (TypeError, ValueError, OSError) as e:
        raise CliError(f"{cls.versioned()}: {e}") from e
    run_stages([(stage.name, stage)], inputs if inputs is not None else args.inputs,
               {stage.name: out or args.out}, args)
    return 0


def _scalar(tp):
    import types
    import typing

    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _scalar(args[0]) if len(args) == 1 else str
    if origin in (list, tuple):
        return list
    return tp


def _item(tp):
    import types
    import typing

    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _item([a for a in typing.get_args(tp) if a is not type(None)][0])
    args = typing.get_args(tp)
    return args[0] if args else str
