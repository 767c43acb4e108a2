"""The shape of the code, checked: no import cycle inside a plane, no private name used across modules, no code
that switches the formatter off.

import-linter (pyproject.toml) keeps the planes layered; these rules keep each plane readable from the inside.
Type-checking imports count: a cycle that only type hints close is still two modules that cannot be read apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PLANES = ("model", "lint", "compat", "scaffold", "signing", "registry", "runtime", "cli")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("crmctl")


def _cycles(graph: grimp.ImportGraph, plane: str) -> list[tuple[str, str]]:
    modules = {m for m in graph.modules if m == f"crmctl.{plane}" or m.startswith(f"crmctl.{plane}.")}
    found = set()
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module) & modules:
            if imported != module and graph.chain_exists(importer=imported, imported=module):
                found.add((min(module, imported), max(module, imported)))
    return sorted(found)


@pytest.mark.parametrize("plane", PLANES)
def test_no_import_cycle_inside_a_plane(graph: grimp.ImportGraph, plane: str) -> None:
    assert _cycles(graph, plane) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("crmctl", "crmctl.runtime", "crmctl.runtime.a", "crmctl.runtime.b", "crmctl.runtime.c"):
        graph.add_module(name)
    graph.add_import(importer="crmctl.runtime.a", imported="crmctl.runtime.b")
    graph.add_import(importer="crmctl.runtime.b", imported="crmctl.runtime.c")
    assert _cycles(graph, "runtime") == []
    graph.add_import(importer="crmctl.runtime.c", imported="crmctl.runtime.a")
    assert _cycles(graph, "runtime") == [
        ("crmctl.runtime.a", "crmctl.runtime.b"),
        ("crmctl.runtime.a", "crmctl.runtime.c"),
        ("crmctl.runtime.b", "crmctl.runtime.c"),
    ]


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def private_imports(source: str, module: str, *, package: bool = False) -> list[str]:
    """`from X import _name` of another module, and imports of a `_module` from outside its package (`package`:
    `module` is a package's `__init__`)."""
    found = []
    home = module if package else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or node.level or not (node.module or "").startswith("crmctl"):
            continue
        target = node.module or ""
        private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
        if private and target != module:
            found.append(f"{module}:{node.lineno}: {target} {', '.join(private)}")
        parts = target.split(".")
        for depth, part in enumerate(parts):
            owner = ".".join(parts[:depth])
            if part.startswith("_") and not part.startswith("__") and not (home + ".").startswith(owner + "."):
                found.append(f"{module}:{node.lineno}: private module {target}")
                break
    return found


def test_no_private_name_is_imported_from_another_module() -> None:
    found = []
    for path in sorted((SRC / "crmctl").rglob("*.py")):
        found += private_imports(path.read_text(encoding="utf-8"), _module_name(path), package=path.stem == "__init__")
    assert found == []


def test_the_private_import_finder_finds_them() -> None:
    assert private_imports("from crmctl.runtime._store import Store", "crmctl.cli.main") == [
        "crmctl.cli.main:1: private module crmctl.runtime._store"
    ]
    assert private_imports("from crmctl.runtime._store import Store", "crmctl.runtime.replay") == []
    assert private_imports("def f():\n    from crmctl.model.cel import _walk", "crmctl.model.tree") == [
        "crmctl.model.tree:2: crmctl.model.cel _walk"
    ]
    assert private_imports("from crmctl.model.cel import walk, __all__", "crmctl.model.tree") == []
    assert private_imports("from crmctl.runtime._store import Store", "crmctl.runtime", package=True) == []


def test_the_formatter_is_never_switched_off() -> None:
    # `ruff format --check` in CI only means something if no code opts out of it.
    markers = ("fmt: " + "skip", "fmt: " + "off", "yapf: " + "disable")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for top in ("src", "tests", "benchmarks", "scripts", "examples")
        for path in sorted((ROOT / top).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if any(marker in line for marker in markers)
    ]
    assert not found, f"formatter switched off at {found}"
