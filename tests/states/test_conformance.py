"""Every shared ASL execution case through the pure interpreter, compared by the shared
comparator at level ``events`` (and again at ``outcome``).

``invalid_definition`` and ``validate`` cases belong to the validation tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from .cases import cases_dir, comparator, known_gap, load_cases
from .driver import run_case

if not cases_dir().is_dir():
    pytest.skip(f"no ASL conformance cases at {cases_dir()}", allow_module_level=True)

CASES = load_cases("execution")
COMPARE = comparator()


def _params(level: str) -> list[Any]:
    out = []
    for case in CASES:
        gap = known_gap(case, level)
        marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
        out.append(pytest.param(case, id=case["name"], marks=marks))
    return out


@pytest.mark.parametrize("case", _params("events"))
def test_case_events(case: dict[str, Any]) -> None:
    problems = COMPARE.compare_case(case, run_case(case), "events")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", _params("outcome"))
def test_case_outcome(case: dict[str, Any]) -> None:
    problems = COMPARE.compare_case(case, run_case(case), "outcome")
    assert not problems, "\n".join(problems)
