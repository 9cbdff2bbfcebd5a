"""Runaway expressions fail alone, with ``expression.budget_exceeded``, and fast.

Each hostile expression is tried twice: in the expression layer (it raises an
``ExpressionBudgetExceeded`` naming the expression and the limit) and end to
end, in a workflow run by an ``Engine`` on SQLite next to 50 ordinary
executions (the bad one fails with that error as data, all the others
succeed, and the store still reads back).

The default budget (1 s of CPU, 10 MiB) is used throughout; the per-test
timeout is the bound on "fast" (a runaway used to spin for minutes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.expressions import Scope, evaluate, intrinsics, jsonpath
from cadenza.expressions import jsonata_language as jsonata
from cadenza.expressions.scope import ExpressionFailure
from cadenza.model.errors import ExpressionBudgetExceeded
from cadenza.testing.clock import FakeClock

pytestmark = [pytest.mark.usefixtures("cpu_clock"), pytest.mark.timeout(60)]

MIB = 1024 * 1024
RANGE_SUM = "<% range(0, 300000000).sum() %>"
JINJA_REPEAT = "{{ 'x' * 300000000 }}"
VARS_REPEAT = '{{ "x" * 100000000 }}'
FIBONACCI = "($f := function($n){ $n < 2 ? $n : $f($n-1) + $f($n-2) }; $f(40))"
BOTTOMLESS = "($f := function($n){ 1 + $f($n+1) }; $f(0))"


def _nested_text(depth: int, size: int) -> Any:
    """A ``size``-character string under ``depth`` objects: ``$..*`` returns it
    once per level, so the result is about ``depth`` times the input."""
    value: Any = "x" * size
    for _ in range(depth):
        value = {"k": value}
    return value


def _clock() -> jsonata.Clock:
    return jsonata.Clock(0.0, lambda n: b"\x07" * n)


def _assert_budget_error(exc: ExpressionBudgetExceeded, expression: str, limit: str) -> None:
    assert exc.code == "expression.budget_exceeded"
    assert exc.details["limit"] == limit
    assert exc.details["expression"] == expression
    assert f"limit {limit}=" in exc.message or f"limit {limit} " in exc.message
    assert "expression.budget_exceeded" in exc.message


# --- the expression layer ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit"),
    [(RANGE_SUM, "cpu_seconds"), (JINJA_REPEAT, "max_bytes"), (VARS_REPEAT, "max_bytes")],
)
def test_orquesta_expressions_stop_at_the_budget(text: str, limit: str) -> None:
    with pytest.raises(ExpressionBudgetExceeded) as caught:
        evaluate(text, Scope({}))
    _assert_budget_error(caught.value, text, limit)
    # The interpreters catch ExpressionFailure: the overrun reaches them that way.
    assert isinstance(caught.value, ExpressionFailure)
    assert text in caught.value.message


@pytest.mark.parametrize(("text", "limit"), [(FIBONACCI, "cpu_seconds"), (BOTTOMLESS, "max_depth")])
def test_a_recursive_jsonata_function_stops_at_the_budget(text: str, limit: str) -> None:
    with pytest.raises(ExpressionBudgetExceeded) as caught:
        jsonata.evaluate(text, {"states": {}}, _clock())
    _assert_budget_error(caught.value, text, limit)
    assert isinstance(caught.value, jsonata.JsonataError)


def test_a_huge_jsonpath_result_stops_at_the_size_budget() -> None:
    data = _nested_text(depth=12, size=MIB)
    with pytest.raises(ExpressionBudgetExceeded) as caught:
        jsonpath.select("$..*", data)
    _assert_budget_error(caught.value, "$..*", "max_bytes")
    assert "'$..*'" in caught.value.message
    # Not a PathNotFound: a Choice's IsPresent must not read it as "absent".
    assert not isinstance(caught.value, jsonpath.PathNotFound)


def test_jsonpath_descents_that_multiply_are_refused_before_the_search() -> None:
    data = {"items": [{"a": [i, i + 1]} for i in range(300)]}
    with pytest.raises(ExpressionBudgetExceeded) as caught:
        jsonpath.select("$..*..*..*", data)
    _assert_budget_error(caught.value, "$..*..*..*", "max_items")


def test_an_intrinsic_that_would_make_a_billion_numbers_fails_at_once() -> None:
    call = intrinsics.parse_call("States.ArrayRange(0, 1000000000, 1)")
    with pytest.raises(intrinsics.IntrinsicError, match="more than 1000 elements"):
        intrinsics.evaluate(call, lambda path: None, lambda n: b"\x00" * n)


def test_an_intrinsic_result_over_the_size_budget_is_refused() -> None:
    big = "y" * (6 * MIB)
    call = intrinsics.parse_call("States.Format('{}{}', $.a, $.a)")
    with pytest.raises(ExpressionBudgetExceeded) as caught:
        intrinsics.evaluate(call, lambda path: big, lambda n: b"\x00" * n)
    assert isinstance(caught.value, intrinsics.IntrinsicError)
    _assert_budget_error(caught.value, "States.Format", "max_bytes")


# --- end to end ------------------------------------------------------------------------

ORDINARY = """\
version: 1.0
input: [n]
vars:
  - doubled: <% ctx(n) * 2 %>
tasks:
  t1:
    action: core.noop
output:
  - n: <% ctx(n) %>
  - doubled: '{{ ctx("doubled") }}'
"""

YAQL_RUNAWAY = f"""\
version: 1.0
tasks:
  t1:
    action: core.echo message="{RANGE_SUM}"
"""

JINJA_RUNAWAY = """\
version: 1.0
tasks:
  t1:
    action: core.echo
    input:
      message: "{{ 'x' * 300000000 }}"
"""

VARS_RUNAWAY = f"""\
version: 1.0
vars:
  - big: '{VARS_REPEAT}'
tasks:
  t1:
    action: core.noop
"""

JSONATA_RUNAWAY = {
    "QueryLanguage": "JSONata",
    "StartAt": "Spin",
    "States": {"Spin": {"Type": "Pass", "Output": "{% " + FIBONACCI + " %}", "End": True}},
}

JSONPATH_RUNAWAY = {
    "StartAt": "Grow",
    "States": {"Grow": {"Type": "Pass", "Parameters": {"all.$": "$..*"}, "End": True}},
}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return Engine(f"sqlite:///{tmp_path / 'budgets.db'}", clock=FakeClock())


@pytest.mark.parametrize(
    ("kind", "source", "run_input", "text"),
    [
        pytest.param("orquesta", YAQL_RUNAWAY, {}, RANGE_SUM, id="yaql-range-sum"),
        pytest.param("orquesta", JINJA_RUNAWAY, {}, JINJA_REPEAT, id="jinja-repeat"),
        pytest.param("orquesta", VARS_RUNAWAY, {}, VARS_REPEAT, id="jinja-vars-repeat"),
        pytest.param("states", json.dumps(JSONATA_RUNAWAY), {}, "$f(40)", id="jsonata-recursion"),
        pytest.param(
            "states",
            json.dumps(JSONPATH_RUNAWAY),
            _nested_text(depth=12, size=MIB),
            "$..*",
            id="jsonpath-huge-result",
        ),
    ],
)
def test_a_runaway_execution_fails_alone_beside_fifty_ordinary_ones(
    engine: Engine, kind: str, source: str, run_input: Any, text: str
) -> None:
    bad_definition = engine.register(source, kind=kind)
    ordinary = engine.register(ORDINARY, kind="orquesta")
    bad = engine.start(bad_definition, run_input)
    others = [engine.start(ordinary, {"n": n}) for n in range(50)]

    engine.run_until_idle(skip_time=True, max_rounds=500)

    failed = engine.get(bad)
    assert failed.status == "failed"
    shown = " ".join(str(v) for e in failed.errors if isinstance(e, dict) for v in e.values())
    assert "expression.budget_exceeded" in shown
    assert text in shown
    for n, execution_id in enumerate(others):
        record = engine.get(execution_id)
        assert record.status == "succeeded", record.errors
        assert record.output == {"n": n, "doubled": 2 * n}
    # The store still reads back: the bad execution's history and the listing.
    assert engine.history(bad)
    assert len(engine.store.list_executions(limit=100)) == 51


def test_a_jsonata_overrun_is_a_query_evaluation_error_naming_the_budget(engine: Engine) -> None:
    """A JSONata overrun is a States.QueryEvaluationError whose cause names the budget."""
    definition = engine.register(json.dumps(JSONATA_RUNAWAY), kind="states")
    execution_id = engine.start(definition, {})
    engine.run_until_idle(skip_time=True, max_rounds=50)
    record = engine.get(execution_id)
    assert record.status == "failed"
    (error,) = record.errors
    assert isinstance(error, dict)
    assert error["error"] == "States.QueryEvaluationError"
    assert "cpu_seconds=1" in str(error["cause"])
