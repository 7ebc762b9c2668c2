"""Typed stage parameters: checked when a workflow loads, listed by `gristmill stages`,
exported as a JSON Schema, and the same declaration feeds the command line."""

import json
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest
import yaml

from gristmill.pipeline.params import REQUIRED, ParamError, param, parse, params_schema
from gristmill.pipeline.workflow import WorkflowError, build
from tests.support.paths import QUICKSTART, copy_sample


@dataclass(frozen=True)
class Example:
    n: int = param(3, "a count", ge=1)
    rate: float = param(0.5, "a rate", le=1.0)
    mode: str = param("fast", "how", choices=("fast", "exact"))
    tags: list[str] = param([], "labels")
    weights: dict[str, float] | None = param(None, "per-domain weights")
    path: str | None = param(REQUIRED, "where")


def test_parse_fills_defaults_and_accepts_good_values():
    p = parse(Example, {"path": "x", "rate": 1, "tags": ["a"], "weights": {"web": 1}})
    assert (p.n, p.rate, p.mode, p.tags, p.weights, p.path) == (3, 1.0, "fast", ["a"], {"web": 1.0}, "x")
    assert isinstance(p.rate, float)


@pytest.mark.parametrize("raw, words", [
    ({"path": "x", "nn": 3}, ["unknown parameter 'nn'", "did you mean 'n'"]),
    ({"path": "x", "n": "3"}, ["'n' must be integer"]),
    ({"path": "x", "n": True}, ["'n' must be integer"]),
    ({"path": "x", "n": 0}, ["'n' must be >= 1"]),
    ({"path": "x", "rate": 2}, ["'rate' must be <= 1.0"]),
    ({"path": "x", "mode": "fsat"}, ["'mode' is 'fsat'", "did you mean 'fast'", "allowed: 'fast', 'exact'"]),
    ({"path": "x", "tags": "a"}, ["'tags' must be list of string"]),
    ({"path": "x", "weights": {"web": "high"}}, ["'weights' must be"]),
    ({}, ["'path' is required"]),
])
def test_parse_rejects_with_a_message_naming_the_parameter(raw, words):
    with pytest.raises(ParamError) as e:
        parse(Example, raw, "step 'x' (example@1)")
    for w in words:
        assert w in str(e.value)
    assert str(e.value).startswith("step 'x' (example@1)")


def test_schema_of_a_declaration():
    s = params_schema(Example)
    assert s["additionalProperties"] is False and s["required"] == ["path"]
    assert s["properties"]["mode"]["enum"] == ["fast", "exact"]
    assert s["properties"]["n"] == {"type": "integer", "description": "a count", "minimum": 1, "default": 3}


def _wf(tmp_path, step):
    copy_sample(tmp_path / "in", 1)
    return {"inputs": [str(tmp_path / "in")], "steps": [{"stage": "read_documents"}, step]}


def test_misspelt_parameter_fails_at_load_naming_step_and_parameter(tmp_path):
    """The issue's example: `min_word: 5000` used to run and keep everything."""
    t0 = time.perf_counter()
    with pytest.raises(WorkflowError) as e:
        build(_wf(tmp_path, {"name": "len", "stage": "length_filter@1", "params": {"min_word": 5000}}))
    assert time.perf_counter() - t0 < 1.0
    msg = str(e.value)
    assert "step 'len'" in msg and "length_filter@1" in msg and "'min_word'" in msg and "'min_words'" in msg


def test_wrong_type_and_unknown_step_key_fail_at_load(tmp_path):
    with pytest.raises(WorkflowError, match="'min_words' must be integer"):
        build(_wf(tmp_path, {"stage": "length_filter", "params": {"min_words": "50"}}))
    with pytest.raises(WorkflowError, match="unknown key 'parms'"):
        build(_wf(tmp_path, {"stage": "length_filter", "parms": {"min_words": 5}}))


def test_bad_choice_fails_at_load_not_per_file(tmp_path):
    with pytest.raises(WorkflowError) as e:
        build({"inputs": [str(tmp_path)], "steps": [{"stage": "read_any", "params": {"warc_pdfs": "bogus"}}]})
    assert "warc_pdfs" in str(e.value) and "'ocr'" in str(e.value) and "'queue'" in str(e.value)


def test_every_builtin_stage_declares_typed_params():
    from gristmill.pipeline import registry
    from gristmill.pipeline.params import declared

    for key in registry.available():
        cls = registry.resolve(key)
        for p in declared(cls.Params):
            assert p.help, f"{key}: parameter {p.name} has no help line"
            assert p.type_name() != "any" or p.name in ("step_args", "policy"), f"{key}.{p.name} is untyped"


def test_quickstart_params_all_validate():
    spec = yaml.safe_load(open(QUICKSTART))
    from gristmill.pipeline import registry

    for step in spec["steps"]:
        parse(registry.resolve(step["stage"]).Params, step.get("params"), step["name"])


def _gristmill(*args):
    return subprocess.run([sys.executable, "-m", "gristmill.pipeline.cli", *args], capture_output=True, text=True)


def test_stages_command_lists_every_stage_with_kind_columns_and_params():
    from gristmill.pipeline import registry

    r = _gristmill("stages", "--json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert sorted(x["stage"] for x in rows) == registry.available()
    length = next(x for x in rows if x["stage"] == "length_filter@1")
    assert length["kind"] == "map" and length["reads"] == ["text"]
    assert {p["name"]: p["default"] for p in length["params"]} == {"min_words": 50, "max_words": 100_000}
    sinks = {x["stage"] for x in rows if x["kind"] == "sink"}
    assert {"token_shards@1", "train_model@1"} <= sinks
    text = _gristmill("stages", "length_filter").stdout
    assert "min_words: integer (default 50" in text


def test_json_schema_validates_the_quickstart_and_rejects_a_misspelling(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    r = _gristmill("schema", "--out", str(tmp_path / "schema.json"))
    assert r.returncode == 0, r.stderr
    schema = json.load(open(tmp_path / "schema.json"))
    spec = yaml.safe_load(open(QUICKSTART))
    jsonschema.validate(spec, schema)
    spec["steps"][1]["params"] = {"min_word": 5000}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(spec, schema)


def test_committed_workflow_schema_is_current():
    """workflows/workflow.schema.json (named by the recipes for editors) equals `gristmill schema`."""
    import os

    from gristmill.pipeline.workflow import json_schema
    from tests.support.paths import REPO

    path = os.path.join(REPO, "workflows", "workflow.schema.json")
    assert json.load(open(path)) == json.loads(json.dumps(json_schema())), \
        "regenerate it: gristmill schema --out workflows/workflow.schema.json"
