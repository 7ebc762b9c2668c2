"""Versioned stage names -> stage classes, imported lazily.

Workflows name stages as ``name`` (newest version) or ``name@N`` (pinned). A stage's
behaviour under a given ``name@N`` never changes; a change in behaviour is a new version,
so an old workflow keeps producing the same corpus. Users can also name their own stage
class as ``package.module:ClassName``, or publish it under the ``gristmill.stages``
entry-point group.
"""

from __future__ import annotations

import importlib
import re
from importlib.metadata import entry_points

from gristmill.pipeline.stage import Stage

# name@version -> "module:Class". Imports happen only when a stage is used, so a
# workflow that never tokenizes never imports torch.
BUILTIN: dict[str, str] = {
    "read_documents@1": "gristmill.pipeline.readers:ReadDocuments",
    "length_filter@1": "gristmill.filters.length:LengthFilter",
    "datatrove@1": "gristmill.pipeline.datatrove_adapter:DatatroveStage",
    "filter_chain@1": "gristmill.filters.chain:FilterChain",
    "ingest@1": "gristmill.pipeline.ingest.stage:Ingest",
    "read_any@1": "gristmill.pipeline.ingest.mixed:ReadAny",
    "quality_score@1": "gristmill.filters.quality:QualityScore",
    "quality_classifier@1": "gristmill.filters.quality:QualityClassifier",
    "select@1": "gristmill.filters.select:Select",
    "topics@1": "gristmill.filters.topics:TopicModel",
    "tokenize@1": "gristmill.tokenize.stages:TokenizeDocuments",
    "token_shards@1": "gristmill.tokenize.stages:TokenShards",
    "train_model@1": "gristmill.tokenize.stages:TrainModel",
    "ocr@1": "gristmill.ocr.stage:OcrStage",
    "ocr_gpu@1": "gristmill.ocr.stage:OcrGpuStage",
    "ocr_vlm@1": "gristmill.ocr.vlm_stage:OcrVlmStage",
    "gopher_quality@1": "gristmill.filters.gopher_quality:GopherQualityFilter",
    "gopher_repetition@1": "gristmill.filters.gopher_repetition:GopherRepetitionFilter",
    "c4_quality@1": "gristmill.filters.c4:C4QualityFilter",
    "c4_badwords@1": "gristmill.filters.c4_badwords:C4BadWordsFilter",
    "fineweb_quality@1": "gristmill.filters.fineweb:FineWebQualityFilter",
    "pii@1": "gristmill.filters.pii:PIIFilter",
    "license_policy@1": "gristmill.filters.license_policy:LicensePolicy",
    "decontaminate@1": "gristmill.filters.decontaminate:Decontaminate",
    "dedupe_exact@1": "gristmill.filters.dedupe.exact:ExactDedupe",
    "dedupe_fuzzy@1": "gristmill.filters.dedupe.fuzzy:FuzzyDedupe",
}

_NAME = re.compile(r"^(?P<name>[a-z0-9_]+)(@(?P<version>\d+))?$")


class UnknownStage(KeyError):
    pass


def _all_entries() -> dict[str, str]:
    entries = dict(BUILTIN)
    try:
        for ep in entry_points(group="gristmill.stages"):
            entries.setdefault(ep.name if "@" in ep.name else f"{ep.name}@1", ep.value)
    except Exception:  # broken third-party metadata must not break built-ins
        pass
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
            raise UnknownStage(f"unknown stage {key!r}; known: {', '.join(sorted(entries))}")
        return _load(entries[key])
    versions = sorted(int(k.split("@")[1]) for k in entries if k.split("@")[0] == base)
    if not versions:
        raise UnknownStage(f"unknown stage {name!r}; known: {', '.join(available())}")
    return _load(entries[f"{base}@{versions[-1]}"])


def available() -> list[str]:
    return sorted(_all_entries())
