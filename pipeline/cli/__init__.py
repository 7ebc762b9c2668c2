"""`gristmill` command line: the top layer. Each area exposes its commands as
`COMMANDS` (see `gristmill.pipeline.commands`); this module collects them into one parser.
Every stage command has one shape:

    gristmill STAGE IN... --out DIR [--workers N] [--scheduler ADDRESS] [stage options]

and writes DIR/part-*.parquet, DIR/dropped/part-*.parquet and DIR/stats.json.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys

from gristmill.pipeline.commands import Command, add_to_parser
from gristmill.pipeline.errors import GristmillError
from gristmill.pipeline.timing import mark

# The areas' command tables, in the order `gristmill --help` lists them.
AREA_CLIS = (
    "gristmill.pipeline.cli.core",
    "gristmill.pipeline.ingest.cli",
    "gristmill.ocr.cli",
    "gristmill.filters.cli",
    "gristmill.tokenize.cli",
    "gristmill.mixing.cli",
    "gristmill.pipeline.audit.cli",
    "gristmill.pipeline.rephrase.cli",
)


# Which area's table holds a command, so that running one imports that area's CLI module
# only: the others import their stages at the top (OCR, VLM, rephrase, mixing: ~0.07 s of
# a `gristmill ingest`). A command missing here still runs (every area is imported then);
# tests/core/test_cli.py checks the table against the areas' COMMANDS.
COMMAND_AREAS = {
    **dict.fromkeys(("run", "inspect", "stages", "schema"), "gristmill.pipeline.cli.core"),
    **dict.fromkeys(("read", "ingest"), "gristmill.pipeline.ingest.cli"),
    "ocr": "gristmill.ocr.cli",
    **dict.fromkeys(("filter", "classify", "select", "topics", "dedupe"), "gristmill.filters.cli"),
    **dict.fromkeys(("tokenize", "train", "locate", "export"), "gristmill.tokenize.cli"),
    "mix": "gristmill.mixing.cli",
    **dict.fromkeys(("audit", "report"), "gristmill.pipeline.audit.cli"),
    "rephrase": "gristmill.pipeline.rephrase.cli",
}


def commands(chosen: str | None = None) -> list[Command]:
    """Every area's commands, or only those of the area that holds `chosen` if it is known."""
    modules = (COMMAND_AREAS[chosen],) if chosen in COMMAND_AREAS else AREA_CLIS
    out: list[Command] = []
    for module in modules:
        out.extend(importlib.import_module(module).COMMANDS)
    return out


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given this invocation's words, only the chosen command's area is imported
    and only its options are built (`gristmill --help` and unknown words: every command)."""
    parser = argparse.ArgumentParser(prog="gristmill", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = None if argv is None else [a for a in argv if not a.startswith("-")][:2]
    asks_help = argv is not None and any(a in ("-h", "--help") for a in argv[:1])
    for cmd in commands(chosen[0] if chosen and not asks_help else None):
        add_to_parser(sub, cmd, chosen)
    return parser


def _compat(argv: list[str]) -> list[str]:
    """`gristmill mix TOKENIZED --out DIR ...` (before `mix` became a group) means `mix apply`."""
    if len(argv) >= 2 and argv[0] == "mix" and not argv[1].startswith("-"):
        from gristmill.mixing.cli import COMMANDS as MIX

        group = next(c for c in MIX if c.name == "mix")
        if argv[1] not in {c.name for c in group.subcommands}:
            return ["mix", "apply", *argv[1:]]
    return argv


def main(argv: list[str] | None = None) -> int:
    as_program = argv is None  # the `gristmill` command (tests and scripts pass their argv)
    argv = _compat(list(sys.argv[1:] if argv is None else argv))
    args = build_parser(argv).parse_args(argv)
    mark("cli", argv=argv)  # with GRISTMILL_TIMINGS set: start-up (interpreter, imports, parsing) ends here
    try:
        return int(args._command.run(args) or 0)
    except BrokenPipeError:  # `gristmill stages | head`: the reader left; not an error
        sys.stderr = open(os.devnull, "w")
        return 0
    except (GristmillError, FileNotFoundError) as e:
        print(f"gristmill: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # RunFailed: one clear line, no traceback wall
        from gristmill.pipeline.runner import RunFailed

        if isinstance(e, RunFailed):
            print(f"gristmill: {e}", file=sys.stderr)
            return 1
        raise
    finally:
        if as_program:
            # The process ends next, its outputs written and closed: frozen objects are left
            # out of the interpreter's last garbage collection, a walk over every object the
            # run made and imported (~0.07 s after an ingest: lxml, trafilatura, the models).
            gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
