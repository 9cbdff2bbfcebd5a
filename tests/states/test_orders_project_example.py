"""The how-to "Move a Step Functions project to Cadenza", run as written.

``examples/states/orders-project`` is a SAM project: its definition has
``${...}`` substitutions, its mocked test cases are in Step Functions Local's
``MockConfigFile.json``, its function is an ordinary Lambda handler. The
steps of the how-to are repeated here in a scratch folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "states" / "orders-project"


def _cadenza(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("orders")
    done = subprocess.run(
        [
            sys.executable,
            str(PROJECT / "render_definition.py"),
            str(PROJECT / "statemachine" / "orders.asl.json"),
            str(PROJECT / "substitutions.json"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    path = folder / "Orders.asl.json"
    path.write_text(done.stdout)
    assert "${" not in done.stdout and "$.Payload.approved" in done.stdout
    return path


def test_the_rendered_definition_is_valid(rendered: Path) -> None:
    done = _cadenza(rendered.parent, "validate", str(rendered))
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("case", "status"),
    [("HappyPath", "succeeded"), ("RetryThenApproved", "succeeded"), ("Rejected", "failed")],
)
def test_the_projects_mocked_test_cases_pass(rendered: Path, case: str, status: str) -> None:
    done = _cadenza(
        rendered.parent,
        "run",
        str(rendered),
        "--store",
        f"sqlite:///{rendered.parent / (case + '.db')}",
        "--input-file",
        str(PROJECT / "order.json"),
        "--mock-config",
        str(PROJECT / "statemachine" / "test" / "MockConfigFile.json"),
        "--test-case",
        case,
        "--json",
        "--quiet",
    )
    result = json.loads(done.stdout)
    assert result["status"] == status, done.stderr
    if status == "failed":
        assert result["errors"][0]["error"] == "OrderRejected"


def test_the_project_runs_with_its_own_function_through_the_resource_map(
    rendered: Path,
) -> None:
    done = _cadenza(
        rendered.parent,
        "run",
        str(rendered),
        "--store",
        f"sqlite:///{rendered.parent / 'real.db'}",
        "--input-file",
        str(PROJECT / "order-too-big.json"),
        "--resources",
        str(PROJECT / "resources.yaml"),
        "--json",
        "--quiet",
    )
    result = json.loads(done.stdout)
    assert result["status"] == "failed", done.stderr
    assert result["errors"][0] == {
        "error": "OrderRejected",
        "cause": "orders over 1000 need a person",
    }
