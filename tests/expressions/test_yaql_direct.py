"""Direct evaluation of simple YAQL gives exactly what YAQL itself gives."""

from __future__ import annotations

from typing import Any

import pytest

from cadenza.expressions import (
    CurrentTask,
    ExpressionBudget,
    ExpressionFailure,
    Scope,
    budget,
    yaql_direct,
    yaql_language,
)


class Facts:
    def task_status(self, name: str, route: int) -> str:
        return {"t1": "succeeded", "t2": "failed"}.get(name, "null")

    def task_record(self, name: str, route: int) -> dict[str, Any] | None:
        return None


VARIABLES: dict[str, Any] = {
    "v": 1,
    "f": 2.5,
    "s": "abc",
    "n": None,
    "b": True,
    "l": [1, [2, 3], {"k": "x"}],
    "d": {"a": {"b": 4}, "l": [1, 2], "n": None},
    "nested_expression": "<% ctx().v + 1 %>",
    "__private": 9,
    "big": list(range(50)),
}


def make_scope(with_task: bool = True) -> Scope:
    current = CurrentTask("t1", 0, {"x": 1, "y": [1]}) if with_task else None
    return Scope(dict(VARIABLES), current, facts=Facts())


EXPRESSIONS = [
    # Variables and attribute paths.
    "<% ctx().v %>",
    "<% ctx(v) %>",
    "<% ctx('s') %>",
    '<% ctx("f") %>',
    "<% ctx() %>",
    "<% ctx(d) %>",
    "<% ctx().d.a.b %>",
    "<% ctx().d.l %>",
    "<% ctx().d.n %>",
    "<% ctx().l %>",
    "<% ctx().n %>",
    "<% ctx().nested_expression %>",
    # Missing keys, private and undefined variables, attributes of non-mappings.
    "<% ctx().missing %>",
    "<% ctx(missing) %>",
    "<% ctx().d.missing %>",
    "<% ctx().d.a.b.c %>",
    "<% ctx().n.x %>",
    "<% ctx().s.x %>",
    "<% ctx().l.k %>",
    "<% ctx().__private %>",
    "<% ctx(__private) %>",
    # Task functions.
    "<% result() %>",
    "<% result().x %>",
    "<% result().y %>",
    "<% result().z %>",
    "<% succeeded() %>",
    "<% failed() %>",
    "<% completed() %>",
    "<% item() %>",
    "<% item(x) %>",
    # Literals.
    "<% 1 %>",
    "<% 1.5 %>",
    "<% -2 %>",
    "<% 'text' %>",
    "<% null %>",
    "<% true %>",
    "<% false %>",
    # Arithmetic: ints, floats, None, booleans, strings.
    "<% ctx().v + 1 %>",
    "<% ctx().v - 3 %>",
    "<% ctx().f + ctx().v %>",
    "<% ctx().v + 0.5 %>",
    "<% -ctx().v %>",
    "<% -ctx().s %>",
    "<% ctx().n + 1 %>",
    "<% ctx().b + 1 %>",
    "<% ctx().s + 1 %>",
    "<% 1 + ctx().s %>",
    "<% ctx().s + 'def' %>",
    "<% ctx().s + ctx().s %>",
    "<% ctx().s - 'a' %>",
    "<% ctx().l + ctx().l %>",
    "<% ctx().missing + 1 %>",
    # Comparisons.
    "<% ctx().v = 1 %>",
    "<% ctx().v = 1.0 %>",
    "<% ctx().v != 2 %>",
    "<% ctx().v < 2 %>",
    "<% ctx().f >= 2.5 %>",
    "<% ctx().s > 'abb' %>",
    "<% ctx().s <= 'abc' %>",
    "<% ctx().s = 'abc' %>",
    "<% ctx().v = '1' %>",
    "<% ctx().v < 's' %>",
    "<% ctx().n = null %>",
    "<% ctx().n < 1 %>",
    "<% ctx().b = true %>",
    "<% ctx().b > 0 %>",
    "<% ctx().l = ctx().l %>",
    # Text around and between expressions.
    "v=<% ctx().v %>",
    "<% ctx().v %> and <% ctx().s %>",
    "<% ctx().d %>!",
    # Forms left to YAQL.
    "<% ctx().l.len() %>",
    "<% ctx().v * 2 %>",
    "<% ctx().v / 2 %>",
    "<% ctx().l[0] %>",
    "<% task_status(t2) %>",
    "<% $.v %>",
]


def outcome(text: str, scope: Scope) -> tuple[str, Any]:
    try:
        value = yaql_language.evaluate(text, scope)
    except ExpressionFailure as exc:
        return ("failure", (type(exc).__name__, exc.kind, str(exc)))
    return ("value", (type(value).__name__, value))


def yaql_only(text: str, scope: Scope, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    with monkeypatch.context() as patch:
        patch.setattr(yaql_direct, "compiled", lambda body: None)
        return outcome(text, scope)


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_direct_evaluation_matches_yaql(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert outcome(text, make_scope()) == yaql_only(text, make_scope(), monkeypatch)


@pytest.mark.parametrize("text", ["<% result() %>", "<% succeeded() %>", "<% result().x %>"])
def test_without_a_current_task_errors_match_yaql(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = outcome(text, make_scope(with_task=False))
    assert direct[0] == "failure"
    assert direct == yaql_only(text, make_scope(with_task=False), monkeypatch)


def test_collections_over_the_item_budget_are_refused_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with budget.applied(ExpressionBudget(max_items=10)):
        direct = outcome("<% ctx().big %>", make_scope())
        assert direct == yaql_only("<% ctx().big %>", make_scope(), monkeypatch)
    assert direct[0] == "failure"


def test_concatenation_over_the_size_budget_is_refused_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "<% ctx().s + ctx().s %>"
    with budget.applied(ExpressionBudget(max_bytes=5)):
        direct = outcome(text, make_scope())
        assert direct == yaql_only(text, make_scope(), monkeypatch)
    assert direct[0] == "failure"


@pytest.mark.parametrize(
    "body",
    ["ctx().v", "ctx(v)", "ctx('v')", "ctx().a.b", "result()", "succeeded()", "ctx().v + 1", "1"],
)
def test_simple_forms_are_compiled(body: str) -> None:
    assert yaql_direct.compiled(body) is not None


@pytest.mark.parametrize(
    "body", ["ctx().l.len()", "random()", "now()", "ctx().v * 2", "ctx().l[0]", "$.v"]
)
def test_other_forms_are_left_to_yaql(body: str) -> None:
    assert yaql_direct.compiled(body) is None


def test_compiled_expressions_read_the_scope_they_are_given() -> None:
    run = yaql_direct.compiled("ctx().v + 1")
    assert run is not None
    assert run(make_scope()) == 2
    other = Scope({"v": 41})
    assert run(other) == 42
