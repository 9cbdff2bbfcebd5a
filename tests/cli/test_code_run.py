"""``cadenza run`` and ``validate`` on a workflow written as Python, named by reference."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "code"


def cadenza(*args: str, cwd: Path = EXAMPLE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_a_code_workflow_from_the_current_directory(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'cadenza.db'}"
    done = cadenza(
        "run", "pirates:PirateBusiness@1", "--store", store, "--quiet", "--json",
        "--activities", "pirates:register",
        "--queue", "money", "--queue", "boats", "--queue", "tavern",
        "--input", '{"goal": 1200}',
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    assert result["output"]["crew"] and result["output"]["parrot"]


def test_validate_a_code_reference_and_refuse_a_wrong_one(tmp_path: Path) -> None:
    ok = cadenza("validate", "pirates:PirateBusiness")
    assert ok.returncode == 0, ok.stderr
    wrong = cadenza("validate", "pirates:NoSuchFlow", "--kind", "code")
    assert wrong.returncode == 2
    assert "NoSuchFlow" in wrong.stderr
