"""Imports go one way: areas on the core, the command line and the stage table on top.

Parses every module's imports (no importing) and fails on an edge that goes the wrong way:
* the core (top-level modules of pipeline/) imports no area and not the top layer;
* no area imports the top layer (gristmill.pipeline.cli);
* no module imports a module that imports it back (no cycles, within or across areas).
"""

import ast
import os

from tests.support.paths import REPO

AREAS = ("gristmill.pipeline.ingest", "gristmill.pipeline.rephrase", "gristmill.pipeline.audit",
         "gristmill.filters", "gristmill.ocr", "gristmill.tokenize", "gristmill.mixing")
TOP = ("gristmill.pipeline.cli",)
FOLDERS = {"pipeline": "gristmill.pipeline", "filters": "gristmill.filters", "ocr": "gristmill.ocr",
           "tokenize": "gristmill.tokenize", "mixing": "gristmill.mixing"}


def _modules() -> dict[str, str]:
    out = {}
    for folder, package in FOLDERS.items():
        for root, dirs, files in os.walk(os.path.join(REPO, folder)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for f in files:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(root, f), os.path.join(REPO, folder))
                    name = package + "." + rel[:-3].replace(os.sep, ".")
                    out[name.removesuffix(".__init__")] = os.path.join(root, f)
    return out


def _imports(path: str, module: str) -> set[str]:
    tree = ast.parse(open(path, encoding="utf-8").read())
    found = set()
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}  # `from pkg import module`
    return {m for m in found if m.startswith("gristmill.")}


def _layer(module: str) -> str:
    if any(module == t or module.startswith(t + ".") for t in TOP):
        return "top"
    if any(module == a or module.startswith(a + ".") for a in AREAS):
        return "area"
    return "core"


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: {i for i in _imports(p, m) if i in mods} for m, p in mods.items()}


def test_the_tree_has_all_three_layers():
    layers = {_layer(m) for m in _graph()}
    assert layers == {"core", "area", "top"}


def test_no_import_goes_the_wrong_way():
    wrong = []
    for mod, deps in _graph().items():
        for dep in deps:
            a, b = _layer(mod), _layer(dep)
            if (a == "core" and b != "core") or (a == "area" and b == "top"):
                wrong.append(f"{mod} ({a}) imports {dep} ({b})")
    assert wrong == []


def test_no_import_cycles_between_modules():
    graph = _graph()
    cycles, state = [], {}

    def visit(m, path):
        state[m] = "active"
        for d in sorted(graph[m]):
            if d == m:
                continue
            if state.get(d) == "active":
                cycles.append(" -> ".join(path[path.index(d):] + [d]))
            elif d not in state:
                visit(d, path + [d])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_checker_catches_a_wrong_edge(tmp_path):
    """The parser sees `from gristmill.filters import x` inside a core module as an edge to an area."""
    p = tmp_path / "fake.py"
    p.write_text("from gristmill.filters.length import LengthFilter\nimport gristmill.pipeline.cli\n")
    deps = _imports(str(p), "gristmill.pipeline.fake")
    assert "gristmill.filters.length" in deps and _layer("gristmill.filters.length") == "area"
    assert _layer("gristmill.pipeline.cli") == "top" and _layer("gristmill.pipeline.fake") == "core"
