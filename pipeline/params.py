"""Typed stage parameters, declared once: checked at load, shown by `gristmill stages`,
turned into CLI options and into a JSON Schema for workflow files.

A stage declares its parameters as a frozen dataclass whose fields use `param()`:

    @dataclass(frozen=True)
    class Params:
        min_words: int = param(50, "documents with fewer words are dropped", ge=0)
        engine: str = param("resiliparse", "main-text extractor", choices=("resiliparse", "trafilatura"))

`parse(Params, raw, where)` turns a workflow's `params:` mapping into an instance, or raises
ParamError naming the step, the parameter and what is allowed (with a close-match
suggestion for a misspelt name). Types understood: bool, int, float, str, list[...],
dict[...] / dict, Optional (`X | None`), Any. An int is accepted where a float is declared;
nothing else is coerced, so `min_words: "50"` is an error, not a silent string.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import MISSING, dataclass, field
from typing import Any, Union

from gristmill.pipeline.errors import GristmillError


class ParamError(GristmillError, ValueError):
    """A workflow or command gave a stage a parameter it does not declare, or a bad value."""


REQUIRED = object()  # param(REQUIRED, ...): the workflow must give it


def param(default: Any = None, help: str = "", *, choices: tuple | None = None, ge: float | None = None,
          le: float | None = None, gt: float | None = None, cli: str | None = None) -> Any:
    """A declared parameter: its default, one line of help, and what is allowed.

    Mutable defaults (lists, dicts) are copied per instance. `cli` renames the command-line
    option (default: `--name-with-dashes`)."""
    meta = {"help": help, "choices": tuple(choices) if choices else None, "ge": ge, "le": le, "gt": gt,
            "cli": cli, "required": default is REQUIRED}
    if default is REQUIRED:
        return field(default=None, metadata=meta)
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class NoParams:
    """For stages that take no parameters."""


@dataclass(frozen=True)
class ParamInfo:
    name: str
    type: Any
    default: Any
    help: str
    choices: tuple | None
    required: bool
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    cli: str | None = None

    def type_name(self) -> str:
        return _type_name(self.type)


def declared(params_cls: type) -> list[ParamInfo]:
    """The parameters a Params dataclass declares, in order."""
    hints = typing.get_type_hints(params_cls)
    out = []
    for f in dataclasses.fields(params_cls):
        meta = f.metadata or {}
        if f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = None
        out.append(ParamInfo(f.name, hints.get(f.name, Any), default, meta.get("help", ""), meta.get("choices"),
                             bool(meta.get("required")), meta.get("ge"), meta.get("le"), meta.get("gt"),
                             meta.get("cli")))
    return out


def parse(params_cls: type, raw: dict | None, where: str = "stage") -> Any:
    """A Params instance from a mapping; ParamError on an unknown key, wrong type or bad value."""
    raw = dict(raw or {})
    infos = {p.name: p for p in declared(params_cls)}
    unknown = [k for k in raw if k not in infos]
    if unknown:
        k = unknown[0]
        close = difflib.get_close_matches(str(k), list(infos), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        allowed = ", ".join(infos) or "none"
        raise ParamError(f"{where}: unknown parameter {k!r}{hint} (parameters: {allowed})")
    values = {}
    for name, info in infos.items():
        if name not in raw:
            if info.required:
                raise ParamError(f"{where}: parameter {name!r} is required ({info.help or info.type_name()})")
            continue
        values[name] = check_value(info, raw[name], where)
    return params_cls(**values)


def check_value(info: ParamInfo, value: Any, where: str) -> Any:
    try:
        value = _check_type(info.type, value)
    except TypeError as e:
        raise ParamError(f"{where}: parameter {info.name!r} must be {info.type_name()}, got {value!r} ({e})") from None
    if info.choices is not None and value is not None:
        items = value if isinstance(value, list) else [value]
        bad = [v for v in items if v not in info.choices]
        if bad:
            close = difflib.get_close_matches(str(bad[0]), [str(c) for c in info.choices], n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParamError(f"{where}: parameter {info.name!r} is {bad[0]!r}{hint}; allowed: "
                             f"{', '.join(map(repr, info.choices))}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for bound, ok, word in ((info.ge, lambda b: value >= b, ">="), (info.le, lambda b: value <= b, "<="),
                                (info.gt, lambda b: value > b, ">")):
            if bound is not None and not ok(bound):
                raise ParamError(f"{where}: parameter {info.name!r} must be {word} {bound}, got {value!r}")
    return value


def _check_type(tp: Any, value: Any) -> Any:
    """`value` if it is of type `tp` (an int accepted and returned as float for float)."""
    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _check_type(a, value)
            except TypeError as e:
                errors.append(str(e))
        raise TypeError(" or ".join(errors) or "no alternative matched")
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise TypeError(f"not one of {typing.get_args(tp)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise TypeError("not a list")
        (item,) = typing.get_args(tp)[:1] or (Any,)
        return [_check_type(item, v) for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError("not a mapping")
        kt, vt = typing.get_args(tp) or (Any, Any)
        return {_check_type(kt, k): _check_type(vt, v) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise TypeError("not true/false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("not an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("not a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise TypeError("not a string")
        return value
    if tp in (list, dict):
        if not isinstance(value, tp):
            raise TypeError(f"not a {'list' if tp is list else 'mapping'}")
        return value
    raise TypeError(f"unsupported declared type {tp!r}")


def _type_name(tp: Any) -> str:
    if tp is Any:
        return "any"
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args) + (" or null" if len(args) < len(typing.get_args(tp)) else "")
    if origin is typing.Literal:
        return " | ".join(map(repr, typing.get_args(tp)))
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        args = typing.get_args(tp)
        return f"mapping of {_type_name(args[0])} to {_type_name(args[1])}" if args else "mapping"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping"}.get(
        tp, getattr(tp, "__name__", str(tp)))


def json_schema_of(tp: Any) -> dict:
    """JSON Schema for one declared type."""
    if tp is Any:
        return {}
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return {"anyOf": [json_schema_of(a) for a in typing.get_args(tp)]}
    if tp is type(None):
        return {"type": "null"}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(tp))}
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return {"type": "array", **({"items": json_schema_of(args[0])} if args else {})}
    if origin is dict:
        args = typing.get_args(tp)
        return {"type": "object", **({"additionalProperties": json_schema_of(args[1])} if args else {})}
    return {bool: {"type": "boolean"}, int: {"type": "integer"}, float: {"type": "number"},
            str: {"type": "string"}, list: {"type": "array"}, dict: {"type": "object"}}.get(tp, {})


def params_schema(params_cls: type) -> dict:
    """JSON Schema of a stage's `params:` mapping."""
    props, required = {}, []
    for p in declared(params_cls):
        s = dict(json_schema_of(p.type))
        if p.help:
            s["description"] = p.help
        if p.choices:
            if s.get("type") == "array":
                s["items"] = {"enum": list(p.choices)}
            else:
                s["enum"] = list(p.choices) + ([None] if p.default is None else [])
        for k, key in (("ge", "minimum"), ("le", "maximum"), ("gt", "exclusiveMinimum")):
            if getattr(p, k) is not None:
                s[key] = getattr(p, k)
        if not p.required and _jsonable(p.default):
            s["default"] = p.default
        if p.required:
            required.append(p.name)
        props[p.name] = s
    out = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _jsonable(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str, list, dict))


def as_dict(params: Any) -> dict:
    return dataclasses.asdict(params)
