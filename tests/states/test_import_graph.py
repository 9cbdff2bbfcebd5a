"""The modules of ``cadenza.interpreters.states`` import each other without a cycle
(see ``import_graph`` for how the graph is read)."""

from __future__ import annotations

from pathlib import Path

import pytest

import cadenza.interpreters.states
from import_graph import find_cycle, import_graph

PACKAGE = "cadenza.interpreters.states"


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
