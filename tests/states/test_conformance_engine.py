"""Every shared ASL execution case through the real Engine on SQLite, compared by the
shared comparator at level ``events`` (and again at ``outcome``).

One engine and one SQLite file per case, a fake clock, Lambda functions as registry
activities and activity workers through ``engine.external`` (see ``engine_driver``).
Cases the interpreter cannot reproduce carry the pure driver's xfail reasons
(``cases.KNOWN_GAPS``); cases only the engine fails carry ``engine_driver.ENGINE_GAPS``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .cases import cases_dir, comparator, known_gap, load_cases
from .engine_driver import engine_gap, run_case_on_engine

if not cases_dir().is_dir():
    pytest.skip(
        f"no ASL conformance cases at {cases_dir()} (set CADENZA_ASL_CASES)",
        allow_module_level=True,
    )

CASES = load_cases("execution")
COMPARE = comparator()


def _params(level: str) -> list[Any]:
    out = []
    for case in CASES:
        gap = known_gap(case, level) or engine_gap(case, level)
        marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
        out.append(pytest.param(case, id=case["name"], marks=marks))
    return out


@pytest.mark.parametrize("case", _params("events"))
def test_case_events_on_engine(case: dict[str, Any], tmp_path: Path) -> None:
    actual = run_case_on_engine(case, tmp_path / "cadenza.sqlite")
    problems = COMPARE.compare_case(case, actual, "events")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", _params("outcome"))
def test_case_outcome_on_engine(case: dict[str, Any], tmp_path: Path) -> None:
    actual = run_case_on_engine(case, tmp_path / "cadenza.sqlite")
    problems = COMPARE.compare_case(case, actual, "outcome")
    assert not problems, "\n".join(problems)
