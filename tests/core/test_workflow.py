import os
import time

import pytest
import yaml

from gristmill.pipeline import registry
from gristmill.pipeline.workflow import WorkflowError, build, load
from tests.support.paths import QUICKSTART


def test_quickstart_workflow_loads():
    wf = load(QUICKSTART)
    assert wf.steps[0].stage.kind == "source"
    assert wf.inputs and all(os.path.isabs(p) for p in wf.inputs)


def test_missing_column_fails_fast_naming_step_and_column():
    spec = {"inputs": [], "steps": [{"stage": "read_documents"},
                                    {"name": "pick", "stage": "tests.support.stages:ReadsScore"}]}
    t0 = time.perf_counter()
    with pytest.raises(WorkflowError) as e:
        build(spec)
    assert time.perf_counter() - t0 < 1.0
    assert "pick" in str(e.value) and "score_quality" in str(e.value)


def test_column_added_by_earlier_step_satisfies_later_step():
    spec = {"steps": [{"stage": "read_documents"}, {"stage": "tests.support.stages:AddsScore"},
                      {"stage": "tests.support.stages:ReadsScore"}]}
    assert len(build(spec).steps) == 3


def test_parquet_inputs_columns_count(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["a"], "text": ["t"], "score_quality": [0.1]}), tmp_path / "x.parquet")
    wf = build({"inputs": [str(tmp_path)], "steps": [{"stage": "tests.support.stages:ReadsScore"}]})
    assert wf.steps[0].name == "reads_score"


def test_raw_files_given_to_a_document_step_are_refused_with_what_reads_them(tmp_path, capsys):
    """`gristmill filter data.jsonl` (what a datatrove user types) was a pyarrow traceback:
    the column check read the JSONL as Parquet. Now one error line says what reads it."""
    from gristmill.pipeline.cli import main

    (tmp_path / "data.jsonl").write_text('{"id": "a", "text": "one two three"}\n')
    (tmp_path / "b.warc.gz").write_bytes(b"")
    with pytest.raises(WorkflowError, match=r"data\.jsonl \(and 1 more\) is not: read it first with `gristmill read`"):
        build({"inputs": [str(tmp_path / "data.jsonl"), str(tmp_path / "b.warc.gz")],
               "steps": [{"stage": "length_filter"}]})
    assert main(["filter", str(tmp_path / "data.jsonl"), "--out", str(tmp_path / "o"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gristmill: error: step") and "Traceback" not in err and err.count("\n") == 1
    # a source step reads them as before
    assert build({"inputs": [str(tmp_path / "data.jsonl")], "steps": [{"stage": "read_documents"}]}).steps


def test_a_damaged_parquet_input_does_not_stop_the_plan(tmp_path):
    """The columns come from the first input whose footer reads; the damaged part fails its own
    shard when the run reaches it (reported per shard), not the whole command before it starts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "a.parquet").write_bytes(b"not parquet at all")
    pq.write_table(pa.table({"id": ["a"], "text": ["t"], "score_quality": [0.1]}), tmp_path / "b.parquet")
    wf = build({"inputs": [str(tmp_path)], "steps": [{"stage": "tests.support.stages:ReadsScore"}]})
    assert wf.steps[0].name == "reads_score"


@pytest.mark.parametrize("spec, message", [
    ({"steps": []}, "non-empty"),
    ({"steps": [{"stage": "no_such_stage"}]}, "unknown stage"),
    ({"steps": [{"stage": "length_filter@99"}]}, "length_filter@99"),
    ({"steps": [{"stage": "length_filter"}, {"stage": "length_filter"}]}, "used twice"),
    ({"steps": [{"stage": "length_filter"}, {"stage": "read_documents"}]}, "first step"),
    ({"steps": [{"stage": "length_filter", "params": [1]}]}, "mapping"),
])
def test_bad_workflows_are_rejected_with_a_reason(spec, message):
    with pytest.raises(WorkflowError, match=message):
        build(spec)


def test_bad_yaml_file(tmp_path):
    p = tmp_path / "wf.yaml"
    p.write_text("steps: [unclosed")
    with pytest.raises(WorkflowError, match="YAML"):
        load(str(p))


def test_registry_versions_and_module_paths():
    assert registry.resolve("length_filter").version == 1
    assert registry.resolve("length_filter@1").name == "length_filter"
    assert registry.resolve("gristmill.filters.length:LengthFilter").name == "length_filter"
    assert "read_documents@1" in registry.available()
    with pytest.raises(TypeError):
        registry.resolve("yaml:safe_load")
    # every built-in entry imports and names itself consistently
    from gristmill.pipeline.cli.builtin import STAGES

    assert set(STAGES) <= set(registry.available())  # found through the entry point, not imported by the core
    for key, target in STAGES.items():
        cls = registry.resolve(target)
        assert f"{cls.name}@{cls.version}" == key


def test_quickstart_yaml_is_plain_yaml():
    with open(QUICKSTART) as f:
        spec = yaml.safe_load(f)
    assert {"name", "inputs", "steps"} <= set(spec)


def test_folder_inputs_take_only_what_the_source_stage_reads():
    from gristmill.pipeline.runner import plan_inputs
    from tests.support.paths import SAMPLE

    wf = build({"inputs": [SAMPLE], "steps": [{"stage": "read_documents"}]})
    files = plan_inputs(wf)
    assert len(files) >= 12 and all(f.endswith((".jsonl.gz", ".jsonl")) for f in files)
    assert not any("/LICENSES/" in f or "/warc/" in f or "/pdf/" in f for f in files)
    assert files == sorted(files)


def test_sources_scope_applies_a_stage_to_some_sources_only():
    import pyarrow as pa

    from gristmill.pipeline.schema import conform

    wf = build({"steps": [{"stage": "read_documents"},
                          {"name": "len", "stage": "length_filter", "sources": ["web"], "params": {"min_words": 3}}]})
    stage = wf.steps[1].stage
    t = conform(pa.table({"id": ["a", "b", "c"], "text": ["x", "x", "one two three"],
                          "source": ["web", "code", "web"]}))
    out = stage.process(t)
    assert sorted(out.table.column("id").to_pylist()) == ["b", "c"]
    assert out.drops.column("id").to_pylist() == ["a"]
    assert out.counters["rows_out_of_scope"] == 1


def test_param_paths_are_relative_to_the_recipe(tmp_path):
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "e.jsonl").write_text("{}\n")
    wf_path = tmp_path / "wf.yaml"
    wf_path.write_text(yaml.safe_dump({"steps": [{"stage": "tests.support.stages:TakesPaths",
                                                  "params": {"f": "evals/e.jsonl", "g": "not-a-file"}}]}))
    stage = load(str(wf_path)).steps[0].stage
    assert stage.params["f"] == str(tmp_path / "evals" / "e.jsonl") and stage.params["g"] == "not-a-file"


def test_every_bundled_workflow_loads_and_checks():
    """Each recipe in workflows/ parses, names registered stages with valid parameters, and
    passes the column check (including those not run here, e.g. the vLLM one)."""
    import glob
    import os

    from tests.support.paths import REPO

    paths = sorted(glob.glob(os.path.join(REPO, "workflows", "*.yaml")))
    assert len(paths) >= 7
    for path in paths:
        wf = load(path)
        assert wf.steps, path
