"""Versioned stage names -> stage classes, imported lazily: the mechanism, not the table.

Workflows name stages as ``name`` (newest version) or ``name@N`` (pinned). A stage's
behaviour under a given ``name@N`` never changes; a change in behaviour is a new version,
so an old workflow keeps producing the same corpus. A stage may also be named as
``package.module:ClassName``.

Names come from installed packages' entry points, so gristmill's own stages and a
third party's are found the same way:
* group ``gristmill.stage_tables``: each entry names a mapping ``{"name@N": "module:Class"}``
  (gristmill's built-in table is `gristmill.pipeline.cli.builtin:STAGES`, on top of the areas);
* group ``gristmill.stages``: each entry names one stage class (``name`` or ``name@N``).
Nothing is imported until a stage is used, so a workflow that never tokenizes never
imports torch.
"""

from __future__ import annotations

import functools
import importlib
import re
from importlib.metadata import entry_points

from gristmill.pipeline.errors import GristmillError
from gristmill.pipeline.stage import Stage

TABLE_GROUP = "gristmill.stage_tables"
STAGE_GROUP = "gristmill.stages"

_NAME = re.compile(r"^(?P<name>[a-z0-9_]+)(@(?P<version>\d+))?$")


class UnknownStage(GristmillError, KeyError):
    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0]) if self.args else ""


@functools.lru_cache(maxsize=1)
def _all_entries() -> dict[str, str]:
    entries: dict[str, str] = {}
    for ep in sorted(entry_points(group=TABLE_GROUP), key=lambda e: (e.name != "builtin", e.name)):
        table = ep.load()
        for k, v in table.items():
            entries.setdefault(k, v)
    try:
        for ep in entry_points(group=STAGE_GROUP):
            entries.setdefault(ep.name if "@" in ep.name else f"{ep.name}@1", ep.value)
    except Exception:  # broken third-party metadata must not break built-ins
        pass
    if not entries:
        raise GristmillError("no stages are registered: gristmill's package metadata is missing "
                             "(install it with `pip install .` or `pip install -e .`)")
    return entries


def _load(target: str) -> type[Stage]:
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise TypeError(f"{target} is not a gristmill Stage subclass")
    return cls


def resolve(name: str) -> type[Stage]:
    """Stage class for `name`, `name@N` or `module:Class`."""
    if ":" in name:
        return _load(name)
    m = _NAME.match(name)
    if not m:
        raise UnknownStage(f"bad stage name {name!r}: use name, name@N or module:Class")
    entries = _all_entries()
    base, version = m.group("name"), m.group("version")
    if version is not None:
        key = f"{base}@{version}"
        if key not in entries:
            raise UnknownStage(f"unknown stage {key!r}{_suggest(key, entries)}; known: {', '.join(sorted(entries))}")
        return _load(entries[key])
    versions = sorted(int(k.split("@")[1]) for k in entries if k.split("@")[0] == base)
    if not versions:
        raise UnknownStage(f"unknown stage {name!r}{_suggest(name, entries)}; known: {', '.join(available())}")
    return _load(entries[f"{base}@{versions[-1]}"])


def available() -> list[str]:
    return sorted(_all_entries())


def _suggest(name: str, entries: dict[str, str]) -> str:
    import difflib

    bases = sorted({k.split("@")[0] for k in entries} | set(entries))
    close = difflib.get_close_matches(name, bases, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
