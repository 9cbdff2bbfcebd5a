"""What the long-running commands do to their own process before serving."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from cadenza.cli.main import main


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """The test process's collector as it was: nothing frozen before, nothing after."""
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()


def test_a_worker_freezes_what_it_made_while_starting(
    tmp_path: Path, unfrozen: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # The engine, its store and the compiled front ends live as long as the
    # process: frozen, so that full collections do not walk them again.
    (tmp_path / "tiny.yaml").write_text("version: 1.0\ntasks:\n  only:\n    action: core.noop\n")
    store = f"sqlite:///{tmp_path / 'w.db'}"
    assert main(["run", str(tmp_path / "tiny.yaml"), "--store", store, "--detach"]) == 0
    assert gc.get_freeze_count() == 0
    assert main(["worker", "--store", store, "--exit-when-idle"]) == 0
    assert gc.get_freeze_count() > 0
    assert main(["ps", "--store", store]) == 0
    assert "succeeded" in capsys.readouterr().out
