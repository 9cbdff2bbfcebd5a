"""Every shared Orquesta conformance case, driven with the fifo policy, strict comparison."""

from __future__ import annotations

from typing import Any

import pytest

from .cases import cases_dir, compare_strict, load_cases, target_facts
from .fifo import run_case

if not cases_dir().is_dir():
    pytest.skip(f"no conformance cases at {cases_dir()}", allow_module_level=True)

CASES = load_cases()

# Features the interpreter does not reproduce yet: feature -> reason.
KNOWN_GAPS: dict[str, str] = {}


def _gap(case: dict[str, Any]) -> str | None:
    for feature in [*case.get("tags", []), *case.get("requires", [])]:
        if feature in KNOWN_GAPS:
            return KNOWN_GAPS[feature]
    return None


def _param(case: dict[str, Any]) -> Any:
    gap = _gap(case)
    marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
    return pytest.param(case, id=case["name"], marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    target = target_facts(case)
    actual = run_case(case)
    problems = compare_strict(target, actual)
    assert not problems, "\n".join(problems)
