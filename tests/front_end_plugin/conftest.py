"""The toml-steps plug-in, "installed" the way pip would, without pip.

``plugin_site`` lays out a folder as a site-packages directory holding the
plug-in: a copy of its package, and a ``<name>-<version>.dist-info`` folder
whose ``METADATA`` and ``entry_points.txt`` come from the plug-in's own
``pyproject.toml``. ``importlib.metadata`` finds distributions by scanning
``sys.path``, so putting that folder on ``sys.path`` (in-process) or on
``PYTHONPATH`` (for ``cadenza`` processes) installs the plug-in, and taking it
off uninstalls it. Cadenza itself is not touched: it finds the language through
its ``cadenza.front_ends`` entry-point group like any other.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .support import CadenzaCommand

#: The plug-in's source: an installable package with its own pyproject.toml.
PLUGIN = Path(__file__).resolve().parent / "toml_steps"


def _normalized(name: str) -> str:
    """A distribution name as it is spelled in a .dist-info folder's name."""
    return name.replace("-", "_").replace(".", "_").lower()


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site-packages folder with the plug-in installed in it (not yet on any path)."""
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    name, version = project["name"], project["version"]
    site = tmp_path_factory.mktemp("site-packages")
    packages = sorted(p.name for p in PLUGIN.iterdir() if (p / "__init__.py").is_file())
    for package in packages:
        shutil.copytree(
            PLUGIN / package, site / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    dist_info = site / f"{_normalized(name)}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        + "".join(f"Requires-Dist: {r}\n" for r in project.get("dependencies", [])),
        encoding="utf-8",
    )
    sections = []
    for group, entries in sorted(project.get("entry-points", {}).items()):
        lines = "".join(f"{key} = {value}\n" for key, value in sorted(entries.items()))
        sections.append(f"[{group}]\n{lines}")
    (dist_info / "entry_points.txt").write_text("\n".join(sections), encoding="utf-8")
    (dist_info / "top_level.txt").write_text("".join(f"{p}\n" for p in packages))
    (dist_info / "INSTALLER").write_text("the test suite\n")
    return site


@pytest.fixture
def installed(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The plug-in installed in this process for the test (``sys.path``), and
    uninstalled afterwards so that no other test sees a third front end."""
    monkeypatch.syspath_prepend(str(plugin_site))  # also invalidates import caches
    yield plugin_site


@pytest.fixture
def plugin_env(plugin_site: Path) -> dict[str, str]:
    """The environment of a ``cadenza`` process with the plug-in installed."""
    env = {k: v for k, v in os.environ.items() if k not in ("CADENZA_STORE", "PYTHONPATH")}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(plugin_site), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    )
    return env


@pytest.fixture
def cadenza(plugin_env: dict[str, str], tmp_path: Path) -> CadenzaCommand:
    """Run ``cadenza ARGS...`` as a user would, with the plug-in installed, in ``tmp_path``."""

    def run(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> Any:
        return subprocess.run(
            [sys.executable, "-m", "cadenza", *args],
            cwd=tmp_path,
            env=plugin_env if env is None else env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
