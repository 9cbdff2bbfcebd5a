"""ASL conformance: definition validation against what AWS Step Functions recorded.

Cases come from the directory named by ``$CADENZA_ASL_CASES`` (default: the
shared suite beside this repository). Each ``invalid_definition`` case must be
refused with AWS's exact message; each ``validate`` case must get AWS's exact
response; every ``execution`` case's definition must be accepted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cadenza.interpreters.states.validation import (
    InvalidStatesDefinition,
    UnloadableStatesDefinition,
    validate_definition,
    validate_state_machine_definition,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = Path(
    os.environ.get(
        "CADENZA_ASL_CASES", str(REPO_ROOT / ".." / "shared" / "conformance" / "asl" / "cases")
    )
)

if not CASES_DIR.is_dir():
    pytest.skip(
        f"ASL conformance cases not found at {CASES_DIR} (set CADENZA_ASL_CASES)",
        allow_module_level=True,
    )


def _load_cases() -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(CASES_DIR.glob("*.json")):
        if path.name == "INDEX.json":
            continue
        case = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(case, dict) and "kind" in case:
            by_kind.setdefault(case["kind"], []).append(case)
    return by_kind


CASES = _load_cases()


def _source(case: dict[str, Any]) -> str | dict[str, Any]:
    """The definition as the recorder sent it: its text when it was not JSON."""
    if "definition_text" in case:
        text: str = case["definition_text"]
        return text
    definition: dict[str, Any] = case["definition"]
    return definition


def _params(kind: str) -> list[Any]:
    return [pytest.param(case, id=case["name"]) for case in CASES.get(kind, [])]


@pytest.mark.parametrize("case", _params("invalid_definition"))
def test_invalid_definition(case: dict[str, Any]) -> None:
    machine_type = case.get("state_machine", {}).get("type", "STANDARD")
    with pytest.raises((InvalidStatesDefinition, UnloadableStatesDefinition)) as caught:
        validate_definition(_source(case), machine_type=machine_type)
    error = caught.value
    assert error.to_aws() == case["expected_error"]
    assert error.message == case["expected_error"]["message"]
    assert error.problems, "every refusal lists its problems"


@pytest.mark.parametrize("case", _params("validate"))
def test_validate(case: dict[str, Any]) -> None:
    source = _source(case)
    text = source if isinstance(source, str) else json.dumps(source)
    request = case.get("request", {})
    response = validate_state_machine_definition(
        text,
        machine_type=request.get("type", "STANDARD"),
        severity=request.get("severity"),
        max_results=request.get("maxResults"),
    )
    assert response == case["expected_response"]


@pytest.mark.parametrize("case", _params("execution"))
def test_execution_definition_is_valid(case: dict[str, Any]) -> None:
    machine_type = case["state_machine"].get("type", "STANDARD")
    source = _source(case)
    try:
        validate_definition(source, machine_type=machine_type, origin=case["name"])
    except (InvalidStatesDefinition, UnloadableStatesDefinition) as exc:
        pytest.fail(f"{case['name']}: AWS accepted this definition, we refused it: {exc.message}")
    if not isinstance(source, str):
        text_response = validate_state_machine_definition(
            json.dumps(source, indent=2), machine_type=machine_type
        )
        assert text_response == {"result": "OK", "diagnostics": [], "truncated": False}
