"""YAQL and Jinja evaluation: values, re-evaluation, functions and Orquesta's error texts."""

from __future__ import annotations

from typing import Any

import pytest

from cadenza.expressions import CurrentTask, ExpressionFailure, Scope, evaluate


class Facts:
    def task_status(self, name: str, route: int) -> str:
        return {"t1": "succeeded", "t2": "failed"}.get(name, "null")

    def task_record(self, name: str, route: int) -> dict[str, Any] | None:
        if name != "t1":
            return None
        return {"task_id": "t1", "route": route, "status": "succeeded", "result": 7}


def scope(**variables: Any) -> Scope:
    return Scope(variables, CurrentTask("t1", 0, {"x": 1}), facts=Facts(), kv={"k": "v"})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("<% ctx(a) %>", 1),
        ("<% ctx().a %>", 1),
        ("{{ ctx('a') }}", 1),
        ("{{ ctx().a }}", 1),
        ("n=<% ctx(a) %>", "n=1"),
        ("<% ctx(l) %>", [1, 2]),
        ("<% result().x %>", 1),
        ("{{ succeeded() }}", True),
        ("<% failed() %>", False),
        ("<% task_status(t2) %>", "failed"),
        ("<% task(t1).result %>", 7),
        ("<% st2kv('k') %>", "v"),
        ("<% zip(list(1, 2), list(3), pad => 0) %>", [[1, 3], [2, 0]]),
        ("<% json('{\"a\": 1}') %>", {"a": 1}),
        ("{% for x in ctx().l %}{{ x }}{% endfor %}", "12"),
        ("{% raw %}{{ x }}{% endraw %}", "{{ x }}"),
        ("<% ctx(expr) %>", 1),
        ("plain", "plain"),
    ],
)
def test_values(text: str, value: Any) -> None:
    assert evaluate(text, scope(a=1, l=[1, 2], expr="<% ctx(a) %>")) == value


def test_containers_are_evaluated_keys_included() -> None:
    assert evaluate({"<% ctx(a) %>": ["{{ ctx('a') }}"]}, scope(a="k")) == {"k": ["k"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "<% ctx(q) %>",
            "YaqlEvaluationException: Unable to evaluate expression '<% ctx(q) %>'. "
            'VariableUndefinedError: The variable "q" is undefined.',
        ),
        (
            "<% ctx().q %>",
            "YaqlEvaluationException: Unable to resolve key 'q' in expression "
            "'<% ctx().q %>' from context.",
        ),
        (
            "<% $.a %>",
            "YaqlEvaluationException: Unable to evaluate expression '<% $.a %>'. "
            'NoFunctionRegisteredException: Unknown function "#property#a"',
        ),
        ("{{ a }}", "JinjaEvaluationException: There are unresolved variables: a"),
        (
            "<% json(dict(k => 1)) %>",
            "YaqlEvaluationException: Unable to evaluate expression '<% json(dict(k => 1)) %>'. "
            "TypeError: Given object is not typeof string.",
        ),
    ],
)
def test_failures_read_like_orquesta(text: str, message: str) -> None:
    with pytest.raises(ExpressionFailure) as caught:
        evaluate(text, scope(a=1))
    assert caught.value.message == message


def test_task_functions_need_a_current_task() -> None:
    with pytest.raises(ExpressionFailure, match=r"The current task is not set in the context\."):
        evaluate("<% result() %>", Scope({}))


def test_random_is_driven_by_the_scope() -> None:
    draws = iter([0.0, 0.999])
    fixed = Scope({}, draw=lambda: next(draws))
    assert evaluate("<% random(1, 10) %>", fixed) == 1
    assert evaluate("<% random(1, 10) %>", fixed) == 10


def test_private_variables_are_inaccessible() -> None:
    with pytest.raises(ExpressionFailure, match="VariableInaccessibleError"):
        evaluate("<% ctx('__state') %>", scope())
