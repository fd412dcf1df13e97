"""The shape of the code: no import cycles, nothing hidden in functions, a pure engine."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "programs"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(path): path
    for path in sorted(PACKAGE.rglob("*.py"))
    if "migrations" not in path.parts
}


def imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """Return the programs modules an import statement loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        # "from package import module" loads the module; "from module import
        # name" loads the module the name is in.
        names = [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
            for alias in node.names
        ]
    found = []
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name.startswith("programs"):
            found.append(name)
    return found


def top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.update(imported(node))
    return found


def type_checking_only(tree: ast.Module) -> set[int]:
    """Return the ids of imports under ``if TYPE_CHECKING:``: never run."""
    return {
        id(inner)
        for node in tree.body
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }


def nested_imports(path: Path) -> list[tuple[int, str]]:
    """Return the programs imports made inside functions or classes."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body} | type_checking_only(tree)
    return [
        (node.lineno, name)
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top
        for name in imported(node)
    ]


GRAPH = {
    name: {m for m in top_level_imports(path) if m != name and m in MODULES}
    for name, path in MODULES.items()
}


def test_programs_has_no_import_cycle():
    visiting: list[str] = []
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycles.append([*visiting[visiting.index(name) :], name])
            return
        visiting.append(name)
        for other in sorted(GRAPH[name]):
            # A package's __init__ importing nothing of its own does not count.
            visit(other)
        visiting.pop()
        done.add(name)

    for name in sorted(GRAPH):
        visit(name)
    assert cycles == []


#: The one allowed nested import: Django's documented place to register checks.
ALLOWED_NESTED = {("programs.apps", "programs.checks")}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_hides_an_import_in_a_function(name):
    nested = [
        (line, other)
        for line, other in nested_imports(MODULES[name])
        if (name, other) not in ALLOWED_NESTED
    ]
    assert nested == []


PURE = [
    "programs.engine.text",
    "programs.engine.contract",
    "programs.engine.matching",
    "programs.engine.shadowing",
]


@pytest.mark.parametrize("name", PURE)
def test_the_engine_touches_no_database(name):
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    modules = {
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not [m for m in modules if m.startswith(("django.db", "programs.models"))]
    assert not [m for m in GRAPH[name] if not m.startswith("programs.engine")]


def test_the_rule_language_builds_sql_conditions_but_runs_no_query():
    source = MODULES["programs.engine.rules"].read_text(encoding="utf-8")
    assert "programs.models" not in source
    assert "cursor" not in source
    assert ".objects" not in source
    assert not [
        m for m in GRAPH["programs.engine.rules"] if not m.startswith("programs.engine")
    ]
