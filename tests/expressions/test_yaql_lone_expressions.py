"""A lone ``<% %>`` computed directly, outside the meter, keeps YAQL's outcome and budget."""

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
from cadenza.model.errors import ExpressionBudgetExceeded

VARIABLES: dict[str, Any] = {
    "v": 7,
    "f": 0.5,
    "s": "abcdef",
    "n": None,
    "b": False,
    "d": {"k": "value"},
    "again": "<% ctx().v %>",
    "__hidden": 1,
}


def make_scope() -> Scope:
    return Scope(dict(VARIABLES), CurrentTask("t", 0, 3))


def outcome(text: str) -> tuple[str, Any]:
    try:
        value = yaql_language.evaluate(text, make_scope())
    except ExpressionBudgetExceeded as exc:
        return ("over", (type(exc).__name__, str(exc), exc.details))
    except ExpressionFailure as exc:
        return ("failure", (type(exc).__name__, exc.kind, str(exc)))
    return ("value", (type(value).__name__, value))


def yaql_only(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    with monkeypatch.context() as patch:
        patch.setattr(yaql_direct, "compiled", lambda body: None)
        return outcome(text)


def metered_only(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    """The outcome when every expression goes through the meter, as before."""
    with monkeypatch.context() as patch:
        patch.setattr(yaql_language, "_lone_body", lambda text: None)
        return outcome(text)


LONE = [
    "<% ctx().v %>",
    "<% ctx().f %>",
    "<% ctx().s %>",
    "<% ctx().n %>",
    "<% ctx().b %>",
    "<% ctx().d %>",
    "<% ctx().d.k %>",
    "<% ctx().again %>",
    "<% ctx().__hidden %>",
    "<% ctx(__hidden) %>",
    "<% ctx().missing %>",
    "<% result() %>",
    "<% succeeded() %>",
    "<% ctx().v + 1 %>",
    "<% ctx().s + ctx().s %>",
    "<% ctx().s + ctx().s = 'abcdefabcdef' %>",
    "<%ctx().v%>",
    " <% ctx().v %>",
    "<% ctx().v %> ",
    "<% ctx().v %><% ctx().v %>",
]


@pytest.mark.parametrize("text", LONE)
def test_lone_expressions_evaluate_as_yaql_does(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert outcome(text) == yaql_only(text, monkeypatch)


@pytest.mark.parametrize("max_bytes", [1, 5, 9, 20])
@pytest.mark.parametrize("text", LONE)
def test_lone_expressions_keep_the_size_budget(
    text: str, max_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small budgets put scalar results and concatenations on both sides of the limit.
    with budget.applied(ExpressionBudget(max_bytes=max_bytes)):
        assert outcome(text) == metered_only(text, monkeypatch)


def test_a_result_over_the_size_budget_is_refused() -> None:
    with budget.applied(ExpressionBudget(max_bytes=5)):
        found = outcome("<% ctx().s %>")
    assert found[0] == "over"
    assert found[1][2]["limit"] == "max_bytes"


def test_a_concatenation_over_the_budget_inside_a_comparison_is_refused() -> None:
    # Only the concatenation is over: the boolean result alone would pass.
    with budget.applied(ExpressionBudget(max_bytes=10)):
        found = outcome("<% ctx().s + ctx().s = 'abcdefabcdef' %>")
    assert found[0] == "over"


def test_a_context_read_is_compiled_and_skips_private_names() -> None:
    run = yaql_direct.compiled("ctx().v")
    assert run is not None
    assert run(make_scope()) == 7
    assert outcome("<% ctx().__hidden %>")[0] == "failure"
