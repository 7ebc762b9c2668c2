"""`gristmill stages`: every registered stage with its version, kind, the columns it reads
and adds, and its declared parameters."""

from __future__ import annotations

import json

from gristmill.pipeline import registry
from gristmill.pipeline.params import declared


def stage_info(key: str) -> dict:
    cls = registry.resolve(key)
    return {
        "stage": key, "kind": cls.kind, "class": f"{cls.__module__}:{cls.__qualname__}",
        "summary": (cls.__doc__ or "").strip().split("\n")[0],
        "reads": list(cls.reads) if isinstance(cls.reads, (tuple, list)) else ["(depends on params)"],
        "adds": list(cls.adds) if isinstance(cls.adds, (tuple, list)) else ["(depends on params)"],
        "params": [{"name": p.name, "type": p.type_name(), "default": p.default, "required": p.required,
                    "choices": list(p.choices) if p.choices else None, "help": p.help}
                   for p in declared(cls.Params)],
    }


def describe_stages(names: list[str] | None = None, as_json: bool = False) -> str:
    keys = registry.available()
    if names:
        keys = [k for k in keys if k in names or k.split("@")[0] in names]
    infos = [stage_info(k) for k in keys]
    if as_json:
        return "\n".join(json.dumps(i, default=str) for i in infos)
    lines = []
    for i in infos:
        lines.append(f"{i['stage']}  [{i['kind']}]  {i['summary']}")
        lines.append(f"    reads: {', '.join(i['reads']) or '-'}    adds: {', '.join(i['adds']) or '-'}")
        for p in i["params"]:
            allowed = f" one of {', '.join(map(str, p['choices']))};" if p["choices"] else ""
            default = "required" if p["required"] else f"default {p['default']!r}"
            lines.append(f"    {p['name']}: {p['type']} ({default};{allowed} {p['help']})".replace(";)", ")"))
        lines.append("")
    return "\n".join(lines).rstrip()
