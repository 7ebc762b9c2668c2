"""The command-line contract: names, output files and stats.json fields."""

import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq

from tests.support.paths import REPO

CLI = [sys.executable, "-m", "gristmill.pipeline.cli"]


def _run(args, **kw):
    return subprocess.run(CLI + args, capture_output=True, text=True, timeout=300, cwd=REPO, **kw)


def test_filter_on_users_parquet_with_only_id_and_text(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    texts = ["", "short doc", "word " * 80]
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": texts}), src / "mine.parquet")
    r = _run(["filter", str(src), "--out", str(tmp_path / "out"), "--rules", "length", "--workers", "1"])
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    assert os.path.exists(out / "part-00000.parquet") and os.path.exists(out / "dropped" / "part-00000.parquet")
    stats = json.load(open(out / "stats.json"))
    assert (stats["docs_in"], stats["docs_out"], stats["docs_dropped"]) == (3, 1, 2)
    assert stats["dropped_by_reason"] == {"empty": 1, "too_few_words": 1}
    kept = pq.read_table(out / "part-00000.parquet")
    assert kept.column("id").to_pylist() == ["c"] and "url" in kept.column_names

    r = _run(["inspect", str(out)])
    assert r.returncode == 0, r.stderr
    assert "1 documents" in r.stdout and "too_few_words" in r.stdout


def test_bad_workflow_exits_2_with_a_message(tmp_path):
    wf = tmp_path / "wf.yaml"
    wf.write_text("steps:\n  - stage: no_such_stage\n")
    r = _run(["run", str(wf), "--workdir", str(tmp_path / "w")])
    assert r.returncode == 2 and "unknown stage" in r.stderr


def test_unknown_filter_rule_is_rejected(tmp_path):
    r = _run(["filter", str(tmp_path), "--out", str(tmp_path / "o"), "--rules", "nope"])
    assert r.returncode == 2 and "unknown rule" in r.stderr


def test_stages_lists_registry():
    r = _run(["stages"])
    assert "length_filter@1" in r.stdout.split()


def test_a_command_builds_only_its_own_options():
    """`gristmill ingest` does not import the dedupe or classifier modules (pandas, numba, torch)
    just to build the parser; `gristmill --help` still lists every command."""
    code = ("import sys; from gristmill.pipeline.cli import build_parser; "
            "build_parser(['ingest', 'x']).parse_args(['ingest', 'x', '--out', 'y']); "
            "print(sorted(m for m in ('pandas', 'numba', 'torch', 'dask.dataframe') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.stdout.strip() == "[]", r.stderr
    help_text = _run(["--help"]).stdout
    for name in ("run", "ingest", "ocr", "filter", "dedupe", "classify", "tokenize", "mix", "train", "stages"):
        assert name in help_text


def test_each_command_is_found_in_the_area_the_table_names():
    """`gristmill CMD` imports only COMMAND_AREAS[CMD]; the table must name every command's
    own area (a command missing from it still runs, with every area imported)."""
    import importlib

    from gristmill.pipeline import cli

    listed = {}
    for module in cli.AREA_CLIS:
        for cmd in importlib.import_module(module).COMMANDS:
            listed[cmd.name] = module
    assert cli.COMMAND_AREAS == listed
    code = ("import sys; from gristmill.pipeline.cli import build_parser; "
            "build_parser(['ingest', 'x']).parse_args(['ingest', 'x', '--out', 'y']); "
            "print(sorted(m for m in ('gristmill.ocr.cli', 'gristmill.pipeline.rephrase.cli', "
            "'gristmill.mixing.cli', 'gristmill.filters.cli') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.stdout.strip() == "[]", r.stderr
    assert [c.name for c in cli.commands("nosuch")] == list(listed)  # unknown word: every command


def test_main_called_with_argv_leaves_the_collector_alone():
    """Only the `gristmill` program itself (argv from sys.argv) freezes its objects at the end."""
    import gc

    from gristmill.pipeline.cli import main

    before = gc.get_freeze_count()
    assert main(["schema"]) == 0
    assert gc.get_freeze_count() == before


def test_every_command_takes_workers_and_scheduler():
    """DESIGN's command line: every command takes --workers and --scheduler, including those
    that run no Dask stage (a check passing them to `classify train` got 'unrecognized')."""
    import argparse

    from gristmill.pipeline.cli import build_parser

    def leaves(parser, words=()):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield words, parser
        for sub in subs:
            for name, p in sub.choices.items():
                yield from leaves(p, (*words, name))

    found = list(leaves(build_parser()))
    assert len(found) > 25
    lacking = [" ".join(w) for w, p in found if not {"--workers", "--scheduler"} <= set(p._option_string_actions)]
    assert not lacking, lacking
    args = build_parser(["classify", "train"]).parse_args(
        ["classify", "train", "--positive", "a", "--negative", "b", "--out", "m", "--workers", "1"])
    assert args.workers == 1
