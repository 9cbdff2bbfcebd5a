"""The console's built assets shipped in the package are the build of its
sources: a change to ``console/`` without a rebuild fails here.

Rebuild with ``cd console && npm ci && npm run build``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cadenza.ui import static_dir

pytestmark = pytest.mark.slow


def files_under(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# npm ci and a build come first, the first time (session fixture).
@pytest.mark.timeout(600)
def test_the_shipped_assets_match_a_fresh_build_of_the_sources(fresh_build: Path) -> None:
    shipped = files_under(static_dir())
    built = files_under(fresh_build / "out")
    assert "index.html" in shipped, (
        "no console in the package: cd console && npm ci && npm run build"
    )
    assert sorted(shipped) == sorted(built), (
        "the shipped console differs from a build of console/: "
        "cd console && npm ci && npm run build"
    )
    differing = [name for name in built if built[name] != shipped[name]]
    assert not differing, f"stale shipped assets {differing}: cd console && npm ci && npm run build"


def test_the_page_loads_nothing_from_other_hosts() -> None:
    # Air-gapped use: no CDN, no web font, no absolute URL in the page or its assets.
    for name, content in files_under(static_dir()).items():
        text = content.decode("utf-8", errors="replace")
        for marker in ("https://fonts.", "cdn.", "@import url(", "//unpkg", "//cdnjs"):
            assert marker not in text, f"{name} refers to another host ({marker})"
