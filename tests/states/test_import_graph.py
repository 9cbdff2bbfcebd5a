"""The modules of ``cadenza.interpreters.states`` import each other without a cycle.

The graph is read from the source with :mod:`ast`, not from ``sys.modules``, so
it counts every import statement wherever it stands: at the top, inside
``if TYPE_CHECKING:`` and inside functions. ``from package import name`` is an
edge to the module ``package.name`` when there is one, else to ``package``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cadenza.interpreters.states

PACKAGE = "cadenza.interpreters.states"


def package_modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package under ``root``, by dotted name."""
    modules: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join([package, *parts])] = path
    return modules


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ``modules`` that module ``name`` imports, anywhere in its code."""
    is_package = path.name == "__init__.py"
    own_package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()

    def add(target: str) -> None:
        # ``import a.b.c`` or an unknown name: the longest prefix that is a module here.
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target:
            found.add(target)

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = own_package.split(".")
                base = ".".join(base_parts[: len(base_parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                add(submodule if submodule in modules else base)
    return found


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    modules = package_modules(root, package)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (its modules, the first repeated at the end), or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in visiting:
            return [*visiting[visiting.index(name) :], name]
        if name in done:
            return None
        visiting.append(name)
        for target in sorted(graph.get(name, ())):
            cycle = visit(target)
            if cycle is not None:
                return cycle
        visiting.pop()
        done.add(name)
        return None

    for name in sorted(graph):
        cycle = visit(name)
        if cycle is not None:
            return cycle
    return None


def test_the_states_package_has_no_import_cycle() -> None:
    root = Path(cadenza.interpreters.states.__file__).parent
    graph = import_graph(root, PACKAGE)
    assert f"{PACKAGE}.interpreter" in graph  # the walk found the package's modules
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_runtime_does_not_import_the_work_of_state_types() -> None:
    root = Path(cadenza.interpreters.states.__file__).parent
    imported = import_graph(root, PACKAGE)[f"{PACKAGE}.runtime"]
    work = {f"{PACKAGE}.{name}" for name in ("simple_states", "tasks", "concurrency")}
    assert not imported & work


@pytest.mark.parametrize(
    ("a_source", "b_source"),
    [
        ("from pkg import b\n", "import pkg.a\n"),
        ("from . import b\n", "from .a import thing\n"),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n",
            "def f():\n    from pkg.a import A\n    return A\n",
        ),
        ("from .sub.c import C\n", ""),
    ],
    ids=["absolute", "relative", "type-checking-and-function", "through-subpackage"],
)
def test_the_check_sees_every_kind_of_import(tmp_path: Path, a_source: str, b_source: str) -> None:
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "a.py").write_text(a_source)
    (tmp_path / "b.py").write_text(b_source)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "__init__.py").write_text("")
    (tmp_path / "sub" / "c.py").write_text("from ..a import x\n")
    cycle = find_cycle(import_graph(tmp_path, "pkg"))
    assert cycle is not None
    assert cycle[0] == cycle[-1]


def test_the_check_passes_an_acyclic_package(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text('"""A package."""\n')
    (tmp_path / "a.py").write_text("from pkg import b\nimport json\n")
    (tmp_path / "b.py").write_text("from pkg.c import C\n")
    (tmp_path / "c.py").write_text("import pkg\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.b"}
    assert find_cycle(graph) is None
