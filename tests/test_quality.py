"""The package stays typed, linted, and its pure core stays pure."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; install the test extras: pip install -e '.[test]'")
    return found


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_mypy_strict_is_clean() -> None:
    done = _run(_tool("mypy"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_is_clean() -> None:
    done = _run(_tool("ruff"), "check", "src", "tests")
    assert done.returncode == 0, done.stdout + done.stderr


def test_pure_packages_import_no_io_layer() -> None:
    done = _run(_tool("lint-imports"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_module_imports_itself_back() -> None:
    """No import cycle anywhere in the package, counting imports under
    ``TYPE_CHECKING`` and inside functions."""
    import cadenza
    from import_graph import find_cycle, import_graph

    graph = import_graph(Path(cadenza.__file__).parent, "cadenza")
    assert "cadenza.engine.serve" in graph and "cadenza.engine.engine" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
