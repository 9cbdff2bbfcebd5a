"""Each language's budget checks, one by one, and how the budget is configured.

A CPU clock that jumps a second at every reading makes the CPU limit
deterministic here: the first reading after some work is over any budget.
"""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable

import pytest

from cadenza.expressions import Scope, budget, evaluate, intrinsics, jsonpath
from cadenza.expressions import jsonata_language as jsonata
from cadenza.expressions.budget import ExpressionBudget, applied
from cadenza.expressions.scope import ExpressionBudgetFailure, ExpressionFailure
from cadenza.model.errors import CadenzaError, ExpressionBudgetExceeded

pytestmark = pytest.mark.timeout(60)


def leaping_clock() -> Callable[[], float]:
    """A CPU clock that moves on one second at every reading."""
    seconds = itertools.count()
    return lambda: float(next(seconds))


def limit_of(call: Callable[[], object]) -> str:
    with pytest.raises(ExpressionBudgetExceeded) as caught:
        call()
    assert caught.value.code == "expression.budget_exceeded"
    return str(caught.value.details["limit"])


# --- Jinja: what makes big values from small ones is checked before it runs -----------


@pytest.mark.parametrize(
    "text",
    [
        "{{ 'x' * 300000000 }}",
        "{{ 300000000 * 'x' }}",
        "{{ [0] * 300000000 }}",
        "{{ 2 ** 1000000000 }}",
        "{{ 'x'.center(300000000) }}",
        "{{ 'x' | center(300000000) }}",
        "{{ 'x'.ljust(300000000) }}",
        "{{ '%300000000s' % 'x' }}",
        "{{ '%300000000s' | format('x') }}",
        "{{ '{:>300000000}'.format('x') }}",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}",
        "{% for i in range(100000) %}{{ ctx('block') }}{% endfor %}",
    ],
)
def test_jinja_refuses_values_over_the_size_budget(text: str) -> None:
    scope = Scope({"block": "y" * 1000})
    assert limit_of(lambda: evaluate(text, scope)) == "max_bytes"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{{ '{} {}'.format(1, 20000000) }}", "1 20000000"),
        ("{{ 20000000 | string }}", "20000000"),
        ("{{ 2 ** 64 }}", 2**64),
        ("{{ [1, 2] * 3 }}", [1, 2, 1, 2, 1, 2]),
        ("{{ 'ab' ~ 'cd' ~ ctx('n') }}", "abcd3"),
        ("{{ 'x'.center(5) }}", "  x  "),
        ("{{ '%5s' % 'x' }}", "    x"),
        ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
    ],
)
def test_jinja_values_within_the_budget_are_untouched(text: str, value: object) -> None:
    assert evaluate(text, Scope({"n": 3})) == value


def test_a_jinja_loop_stops_at_the_cpu_budget() -> None:
    text = "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}"
    with applied(ExpressionBudget(cpu_seconds=5), cpu_clock=leaping_clock()):
        assert limit_of(lambda: evaluate(text, Scope({}))) == "cpu_seconds"


# --- YAQL: its own quota options follow the budget ----------------------------------------


def test_yaql_repetition_over_the_size_budget_is_refused() -> None:
    assert limit_of(lambda: evaluate("<% 'a' * 300000000 %>", Scope({}))) == "max_bytes"


def test_yaql_reading_too_many_items_is_refused() -> None:
    with applied(ExpressionBudget(max_items=1000)):
        assert limit_of(lambda: evaluate("<% range(0, 5000).sum() %>", Scope({}))) == "max_items"
    assert evaluate("<% range(0, 5000).sum() %>", Scope({})) == sum(range(5000))


def test_yaql_function_calls_are_where_the_cpu_budget_is_checked() -> None:
    text = "<% range(0, 1000).select($ * 2).sum() %>"
    with (
        applied(ExpressionBudget(cpu_seconds=5), cpu_clock=leaping_clock()),
        pytest.raises(ExpressionBudgetFailure) as caught,
    ):
        evaluate(text, Scope({}))
    failure = caught.value
    assert failure.details["limit"] == "cpu_seconds"
    assert failure.kind == "YaqlEvaluationException"
    assert failure.message.startswith(
        f"YaqlEvaluationException: Unable to evaluate expression '{text}'. "
        "expression.budget_exceeded: used more than 5 s of CPU time"
    )


# --- JSONata, JSONPath, intrinsics --------------------------------------------------------


def _jsonata(text: str) -> object:
    return jsonata.evaluate(text, {"states": {"input": {}}}, jsonata.Clock(0.0, bytes))


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("$pad('x', 300000000)", "max_bytes"),
        ("$pad('x', -300000000)", "max_bytes"),
        ("$count([1..5000000])", "max_items"),
        ("($f := function($s, $n){ $n = 0 ? $s : $f($s & $s, $n - 1) }; $f('x', 40))", "max_bytes"),
    ],
)
def test_jsonata_values_over_the_budget_are_refused(text: str, limit: str) -> None:
    assert limit_of(lambda: _jsonata(text)) == limit


def test_jsonata_nodes_are_where_the_cpu_budget_is_checked() -> None:
    with applied(ExpressionBudget(cpu_seconds=5), cpu_clock=leaping_clock()):
        assert limit_of(lambda: _jsonata("$sum([1..100].($ * 2))")) == "cpu_seconds"
    assert _jsonata("$pad('x', 3)") == "x  "


def test_a_jsonpath_result_over_the_budget_is_refused() -> None:
    data = {"a": ["x" * 200] * 10}
    with applied(ExpressionBudget(max_bytes=1000)):
        assert limit_of(lambda: jsonpath.select("$.a[*]", data)) == "max_bytes"
        # A definite path reads one node of the input: nothing new is made.
        assert jsonpath.select("$.a[0]", data) == "x" * 200


def test_an_intrinsic_over_the_budget_is_an_intrinsic_failure_too() -> None:
    call = intrinsics.parse_call("States.Array($.a, $.a, $.a)")
    with (
        applied(ExpressionBudget(max_bytes=100)),
        pytest.raises(intrinsics.IntrinsicBudgetExceeded) as caught,
    ):
        intrinsics.evaluate(call, lambda path: "z" * 50, bytes)
    assert isinstance(caught.value, intrinsics.IntrinsicError)
    assert str(caught.value).startswith("States.Array: expression.budget_exceeded")


def test_intrinsic_json_nested_beyond_the_stack_is_a_budget_failure() -> None:
    call = intrinsics.parse_call("States.StringToJson($.text)")
    deep = "[" * 100_000 + "]" * 100_000
    assert limit_of(lambda: intrinsics.evaluate(call, lambda path: deep, bytes)) == "max_depth"


# --- configuration --------------------------------------------------------------------------


def test_a_block_budget_applies_inside_the_block_only() -> None:
    text = "{{ 'x' * 200 }}"
    with applied(ExpressionBudget(max_bytes=100)):
        assert limit_of(lambda: evaluate(text, Scope({}))) == "max_bytes"
    assert evaluate(text, Scope({})) == "x" * 200


def test_the_process_budget_is_configurable_and_restorable() -> None:
    before = budget.current_settings()
    try:
        budget.configure(ExpressionBudget(max_bytes=50))
        assert limit_of(lambda: evaluate("<% 'x' * 60 %>", Scope({}))) == "max_bytes"
    finally:
        budget.configure(before.budget, cpu_clock=before.cpu_clock)
    assert evaluate("<% 'x' * 60 %>", Scope({})) == "x" * 60


def test_without_a_cpu_clock_only_the_cpu_limit_is_off() -> None:
    loop = "{% for i in range(2000) %}{{ i }}{% endfor %}"
    with applied(ExpressionBudget(cpu_seconds=1e-9, max_bytes=100), cpu_clock=None):
        assert limit_of(lambda: evaluate(loop, Scope({}))) == "max_bytes"
        assert evaluate("{% for i in range(20) %}{% endfor %}ok", Scope({})) == "ok"


@pytest.mark.parametrize("field", ["cpu_seconds", "max_bytes", "max_items"])
@pytest.mark.parametrize("value", [0, -1, True, "1"])
def test_a_budget_must_be_positive_numbers(field: str, value: object) -> None:
    with pytest.raises(CadenzaError, match=f"ExpressionBudget.{field} must be a positive"):
        ExpressionBudget(**{field: value})  # type: ignore[arg-type]


def test_budget_failures_survive_pickling() -> None:
    failures: list[Exception] = [
        ExpressionBudgetFailure("JinjaEvaluationException", "text", "{{ x }}", "max_bytes"),
        jsonata.JsonataBudgetExceeded("detail", expression="$x", limit="cpu_seconds"),
        intrinsics.IntrinsicBudgetExceeded("detail", expression="States.Array", limit="max_bytes"),
    ]
    for failure in failures:
        copy = pickle.loads(pickle.dumps(failure))
        assert type(copy) is type(failure)
        assert isinstance(copy, ExpressionBudgetExceeded)
        assert copy.to_dict() == failure.to_dict()  # type: ignore[attr-defined]
    first = pickle.loads(pickle.dumps(failures[0]))
    assert isinstance(first, ExpressionFailure)
    assert first.message == "JinjaEvaluationException: text"
