"""Workflow recipes (YAML): load, resolve stages, and check columns before any work.

    name: quickstart
    inputs: [sample_data/]            # relative to this file, or s3:// / https://
    steps:
      - name: read                    # output folder: WORKDIR/read/
        stage: read_documents         # registry name, name@N, or module:Class
      - name: length
        stage: length_filter@1
        params: {min_words: 50}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq

from gristmill.pipeline import registry
from gristmill.pipeline.errors import GristmillError
from gristmill.pipeline.params import ParamError, parse
from gristmill.pipeline.shards import PATHS_LISTS, expand_inputs
from gristmill.pipeline.stage import Stage

ALWAYS_PROVIDED = ("id", "text")
STEP_KEYS = ("name", "stage", "params", "sources")
WORKFLOW_KEYS = ("name", "description", "inputs", "steps", "scheduler", "workers")


class WorkflowError(GristmillError, ValueError):
    pass


@dataclass
class Step:
    name: str
    stage: Stage


@dataclass
class Workflow:
    name: str
    inputs: list[str]
    steps: list[Step]
    scheduler: str | None = None
    workers: int | None = None
    description: str = ""
    base_dir: str = "."
    extra: dict[str, Any] = field(default_factory=dict)


def _resolve_input(p: str, base_dir: str) -> str:
    if "://" in p or os.path.isabs(p):
        return p
    return os.path.normpath(os.path.join(base_dir, p))


def _paths_relative_to(params: dict, base_dir: str) -> dict:
    """Paths in a recipe are relative to the recipe: a string param (or list item) that names
    an existing file or folder next to the YAML becomes that absolute path."""
    def fix(v):
        if isinstance(v, str) and v and "://" not in v and not os.path.isabs(v) and "\n" not in v:
            candidate = os.path.join(base_dir, v)
            if os.path.exists(candidate):
                return os.path.normpath(candidate)
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        return v

    return {k: fix(v) for k, v in params.items()} if base_dir else params


def build(spec: dict, base_dir: str = ".", inputs: list[str] | None = None) -> Workflow:
    """Workflow from a parsed YAML mapping; raises WorkflowError on any problem."""
    if not isinstance(spec, dict) or not isinstance(spec.get("steps"), list) or not spec["steps"]:
        raise WorkflowError("a workflow needs a non-empty `steps:` list")
    unknown = [k for k in spec if k not in WORKFLOW_KEYS and not str(k).startswith("x-")]
    if unknown:
        raise WorkflowError(f"unknown workflow key {unknown[0]!r}; a workflow has {', '.join(WORKFLOW_KEYS)} "
                            "(and x-... keys for your own notes)")
    steps: list[Step] = []
    seen: set[str] = set()
    for i, raw in enumerate(spec["steps"]):
        if isinstance(raw, str):
            raw = {"stage": raw}
        if not isinstance(raw, dict) or "stage" not in raw:
            raise WorkflowError(f"step {i}: needs a `stage:` key, got {raw!r}")
        extra_keys = [k for k in raw if k not in STEP_KEYS]
        if extra_keys:
            raise WorkflowError(f"step {i} ({raw.get('name', raw['stage'])}): unknown key {extra_keys[0]!r}; "
                                f"a step has {', '.join(STEP_KEYS)} (stage parameters go under `params:`)")
        try:
            cls = registry.resolve(str(raw["stage"]))
        except (registry.UnknownStage, ImportError, AttributeError, TypeError) as e:
            raise WorkflowError(f"step {i} ({raw.get('name', raw['stage'])}): {e}") from e
        name = str(raw.get("name") or cls.name)
        if name in seen:
            raise WorkflowError(f"step name {name!r} is used twice; give each step a unique `name:`")
        seen.add(name)
        params = raw.get("params") or {}
        if not isinstance(params, dict):
            raise WorkflowError(f"step {name}: `params:` must be a mapping")
        params = _paths_relative_to(params, base_dir)
        try:  # declared parameters first: an unknown key or bad value names the step
            parse(cls.Params, params, f"step {name!r} ({cls.versioned()})")
        except ParamError as e:
            raise WorkflowError(str(e)) from e
        try:
            stage = cls(**params)
            if raw.get("sources"):
                from gristmill.pipeline.scoped import SourceScoped

                stage = SourceScoped(stage, list(raw["sources"]))
        except ParamError as e:
            raise WorkflowError(f"step {name!r}: {e}") from e
        except (TypeError, ValueError, OSError) as e:
            raise WorkflowError(f"step {name!r} ({cls.versioned()}): bad params: {e}") from e
        steps.append(Step(name=name, stage=stage))
    raw_inputs = inputs if inputs is not None else spec.get("inputs") or []
    if isinstance(raw_inputs, str):
        raw_inputs = [raw_inputs]
    resolved: list[str] = []
    for p in raw_inputs:
        if isinstance(p, str) and p.endswith(PATHS_LISTS):  # warc.paths.gz: the files it lists
            p = {"paths": _resolve_input(p, base_dir)}
        if isinstance(p, dict):  # e.g. {crawl: CC-MAIN-2024-22, segments: [...]}: the source stage expands it
            if "paths" in p:
                p = {**p, "paths": _resolve_input(str(p["paths"]), base_dir)}
            try:
                resolved += steps[0].stage.expand_input(p)
            except (ValueError, OSError) as e:
                raise WorkflowError(f"input {p!r}: {e}") from e
        else:
            resolved.append(_resolve_input(str(p), base_dir))
    wf = Workflow(
        name=str(spec.get("name", "workflow")),
        inputs=resolved,
        steps=steps,
        scheduler=spec.get("scheduler"),
        workers=spec.get("workers"),
        description=str(spec.get("description", "")),
        base_dir=base_dir,
        extra={k: v for k, v in spec.items()
               if k not in {"name", "inputs", "steps", "scheduler", "workers", "description"}},
    )
    check_columns(wf)
    return wf


def load(path: str, inputs: list[str] | None = None) -> Workflow:
    import yaml  # here: commands that build their workflow in code (ingest, filter ...) never parse YAML

    with open(path) as f:
        try:
            spec = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise WorkflowError(f"{path}: not valid YAML: {e}") from e
    return build(spec, base_dir=os.path.dirname(os.path.abspath(path)), inputs=inputs)


# Files a source step reads; a document step named one directly would fail on every shard
_SOURCE_FILES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".ndjson", ".txt", ".md", ".pdf",
                 ".warc", ".warc.gz", ".arc", ".arc.gz", ".html", ".htm")


def input_columns(wf: Workflow) -> set[str]:
    """Columns the first map stage can count on from Parquet inputs (read from the footer only).
    Inputs that are raw files (JSONL, WARC, PDF) are refused here, with what reads them."""
    try:
        files = expand_inputs(wf.inputs, suffixes=(".parquet",))
    except FileNotFoundError as e:
        raise WorkflowError(str(e)) from e
    raw = [f for f in files if f.lower().endswith(_SOURCE_FILES)]
    if raw:
        more = f" (and {len(raw) - 1} more)" if len(raw) > 1 else ""
        raise WorkflowError(
            f"step {wf.steps[0].name!r} ({wf.steps[0].stage.versioned_name}) reads gristmill's document Parquet, "
            f"and {raw[0]}{more} is not: read it first with `gristmill read` (JSONL, text), `gristmill ingest` "
            "(WARC/ARC) or `gristmill ocr` (PDF) and give this command that output; in a workflow, make a "
            "source step (`read_any@1` reads all of them) the first step")
    for f in files:  # a damaged part fails its own shard when it runs (counted), not the plan
        try:
            return set(pq.read_schema(f).names)
        except (OSError, ValueError):  # ArrowInvalid is a ValueError
            continue
    return set()


def check_columns(wf: Workflow) -> None:
    """Fail if a step reads a column that neither the inputs nor an earlier step provides."""
    if not wf.steps:
        raise WorkflowError("workflow has no steps")
    for step in wf.steps[1:]:
        if step.stage.kind == "source":
            raise WorkflowError(f"step {step.name}: source stage {step.stage.name} can only be the first step")
    for before, step in zip(wf.steps, wf.steps[1:]):
        if before.stage.kind == "sink" and step.stage.kind != "sink":
            raise WorkflowError(f"step {step.name!r} ({step.stage.versioned_name}) follows the sink "
                                f"{before.name!r} ({before.stage.versioned_name}), which writes no documents: "
                                "only sinks may follow a sink")
    first = wf.steps[0].stage
    available = set(ALWAYS_PROVIDED)
    if first.kind != "source" and wf.inputs:
        available |= input_columns(wf)
    for step in wf.steps:
        missing = [c for c in step.stage.reads if c not in available]
        if missing:
            raise WorkflowError(
                f"step {step.name!r} (stage {step.stage.versioned_name}) reads column(s) "
                f"{', '.join(missing)} that no earlier step or input provides; "
                f"available: {', '.join(sorted(available))}")
        available |= set(step.stage.provides())


def json_schema() -> dict:
    """JSON Schema for workflow files, generated from every registered stage's declared
    parameters (`gristmill schema`); editors validate YAML recipes with it."""
    from gristmill.pipeline.params import params_schema

    variants = []
    for key in registry.available():
        try:
            cls = registry.resolve(key)
        except Exception:  # noqa: BLE001 - a broken third-party stage must not break the schema
            continue
        base = key.split("@")[0]
        names = [key] + ([base] if registry.resolve(base) is cls else [])
        variants.append({
            "if": {"properties": {"stage": {"enum": names}}, "required": ["stage"]},
            "then": {"properties": {"params": params_schema(cls.Params)}},
        })
    step = {
        "type": "object", "required": ["stage"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "description": "output folder WORKDIR/<name>/ (default: the stage name)"},
            "stage": {"type": "string", "description": "name, name@N or module:Class",
                      "examples": registry.available()},
            "params": {"type": "object"},
            "sources": {"type": "array", "items": {"type": "string"},
                        "description": "apply a map stage to these sources only; others pass through"},
        },
        "allOf": variants,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "gristmill workflow",
        "type": "object", "required": ["steps"],
        "properties": {
            "name": {"type": "string"}, "description": {"type": "string"},
            "inputs": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
            "scheduler": {"type": ["string", "null"]}, "workers": {"type": ["integer", "null"]},
            "steps": {"type": "array", "minItems": 1, "items": {"anyOf": [{"type": "string"}, step]}},
        },
        "patternProperties": {"^x-": {}},
        "additionalProperties": False,
    }
