"""The decision's shortcuts give what the longer way they replace gives.

Each test sets a shortcut of the Orquesta interpreter next to the plain computation
it stands for (written out here as it was), on values chosen to reach every branch.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import pytest

from cadenza.expressions import ExpressionFailure, Scope, evaluate
from cadenza.interpreters.orquesta import rendering
from cadenza.interpreters.orquesta import state as st
from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
from cadenza.interpreters.orquesta.validation.graph import Edge
from cadenza.interpreters.orquesta.validation.model import Retry, Task, Transition
from cadenza.model.events import ExecutionStarted, TaskCompleted

SCOPE = Scope({"v": 3, "name": "x", "items": [1, 2], "m": {"k": "<% ctx().v %>"}})

VALUES: list[Any] = [
    "core.noop",
    "<% ctx().v %>",
    "{{ ctx().v }}",
    "{% if true %}a{% endif %}",
    "a <% ctx().name %> b",
    "<% ctx().m %>",
    {"value": "<% ctx().v %>", "static": "text", "<% ctx().name %>": 1},
    {"nested": {"list": ["<% ctx().v %>", "plain", 2, None, True, 1.5]}},
    ["<% ctx().items %>", {"k": "{{ ctx().name }}"}],
    ("<% ctx().v %>", "plain"),
    OrderedDict([("a", "<% ctx().v %>")]),
    7,
    None,
    False,
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_render_value_is_evaluate(value: Any) -> None:
    expected = evaluate(value, SCOPE)
    for _ in range(2):  # the second pass answers from the memo
        got = rendering.render_value(value, SCOPE)
        assert got == expected
        assert type(got) is type(expected)
    if isinstance(value, str) and got == value:
        assert got is value


def test_render_value_fails_as_evaluate() -> None:
    bad = {"ok": "<% ctx().v %>", "bad": "<% ctx().missing %>"}
    with pytest.raises(ExpressionFailure) as plain:
        evaluate(bad, SCOPE)
    with pytest.raises(ExpressionFailure) as short:
        rendering.render_value(bad, SCOPE)
    assert (short.value.kind, str(short.value)) == (plain.value.kind, str(plain.value))


ENTRIES: list[list[tuple[str, Any]]] = [
    [],
    [("v", "<% result() %>")],
    [("v", "{{ result() }}")],
    [("a", 1), ("b", None), ("c", "plain")],
    [("a", "<% ctx().v %>"), ("b", "{% set x = 1 %}")],
    [("a", {"k": "{{ ctx().v }}"})],
    [("a", {"k": "<% ctx().v %>"})],
    [("a", ["x", "{{ 1 }}"])],
    [("a", ("{{ 1 }}",))],
]


@pytest.mark.parametrize("entries", ENTRIES, ids=repr)
def test_entries_without_jinja_is_the_plain_check(entries: list[tuple[str, Any]]) -> None:
    expected = all(rendering._without_jinja(value) for _, value in entries)
    assert rendering._entries_without_jinja(entries) is expected
    assert rendering._entries_without_jinja(list(entries)) is expected
    assert rendering._entries_without_jinja(entries, memo=False) is expected


def _old_json_copy(value: Any) -> Any:
    """The copy as it was before the shallow-copy-then-replace form."""
    leaves = {str, int, float, bool, type(None)}
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in leaves else _old_json_copy(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [v if type(v) in leaves else _old_json_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _old_json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_old_json_copy(v) for v in value]
    return value


class _Dict(dict[str, Any]):
    pass


class _List(list[Any]):
    pass


SHARED = [1, 2]
TREES: list[Any] = [
    {},
    [],
    {"a": 1, "b": [1, {"c": None, "d": (1, [2])}], "e": {"f": {"g": 1.5}}, "h": True},
    [{"x": []}, ({},), "s", 0],
    {1: "int key", "t": ("a", ("b",))},
    {"sub": _Dict(a=[1]), "lsub": _List([{"b": 2}]), "od": OrderedDict(z=[1])},
    {"one": SHARED, "two": SHARED},
    {"obj": object()},
]


def _shape(value: Any) -> Any:
    """Value and exact types, for a comparison that ``==`` alone would blur."""
    if isinstance(value, dict):
        return (type(value), [(k, _shape(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value), [_shape(v) for v in value])
    return (type(value), value if isinstance(value, str | int | float | None) else id(value))


@pytest.mark.parametrize("tree", TREES, ids=repr)
def test_json_copy_is_the_old_copy(tree: Any) -> None:
    new, old = st._json_copy(tree), _old_json_copy(tree)
    assert _shape(new) == _shape(old)
    # No container is shared with the original (containers of a leaf-only tree too).
    originals = _containers(tree)
    assert not any(id(c) in originals for c in _containers_list(new))


def _containers_list(value: Any) -> list[Any]:
    found = []
    if isinstance(value, dict | list | tuple):
        found.append(value)
        for item in value.values() if isinstance(value, dict) else value:
            found.extend(_containers_list(item))
    return [c for c in found if not isinstance(c, tuple)]


def _containers(value: Any) -> set[int]:
    return {id(c) for c in _containers_list(value)}


def _run_chain() -> tuple[Any, dict[str, Any]]:
    source = """version: 1.0
input:
  - v: 0
tasks:
  s1:
    action: core.noop
    input:
      value: <% ctx().v %>
    retry:
      count: 2
    next:
      - when: <% succeeded() %>
        publish:
          - v: <% result() %>
          - w: "{{ ctx().v }}"
        do: [s2, s3]
  s2:
    action: core.noop
  s3:
    action: core.noop
output:
  - v: <% ctx().v %>
"""
    interpreter = OrquestaFrontEnd().compile(source, origin="shortcuts.yaml")
    state = interpreter.new_state()
    interpreter.decide(state, [ExecutionStarted(input={"v": 1}, seed=5)], 1.0)
    interpreter.decide(state, [TaskCompleted(task_id="s1.0.0", result={"r": [1, 2]})], 2.0)
    return interpreter, state


def test_snapshot_is_a_json_round_trip() -> None:
    interpreter, state = _run_chain()
    snap = st.snapshot(state)
    assert json.dumps(snap) == json.dumps(json.loads(json.dumps(state)))
    # Later changes to the live state do not reach the snapshot.
    before = json.dumps(snap)
    interpreter.decide(state, [TaskCompleted(task_id="s2.0.0", result=2)], 3.0)
    interpreter.decide(state, [TaskCompleted(task_id="s3.0.0", result=3)], 3.0)
    assert json.dumps(snap) == before


def test_has_status_is_any() -> None:
    _, state = _run_chain()
    cases: list[set[str] | frozenset[str]] = [
        set(),
        {"running"},
        {"succeeded", "x"},
        frozenset({"failed"}),
    ]
    for statuses in cases:
        expected = any(state["counts"].get(s) for s in statuses)
        assert st.has_status(state, statuses) is expected


def test_cached_edge_ids_and_retry_policy() -> None:
    edge = Edge("a", "b", 0, None, 2)
    assert (edge.transition_id, edge.backref) == ("b__t2", "a__t2")
    assert (edge.transition_id, edge.backref) == ("b__t2", "a__t2")
    assert edge == Edge("a", "b", 0, None, 2)
    assert hash(edge) == hash(Edge("a", "b", 0, None, 2))
    task = Task(
        name="t",
        action=None,
        action_text=None,
        inline_input=None,
        input_block=None,
        join=None,
        with_items=None,
        retry=Retry(count=1, when=None, delay=None),
        delay=None,
        next=(Transition(0, "<% failed() %>", (), ("retry",)),),
    )
    assert task.retry_policy == Retry(count=3, when="<% failed() %>", delay=None)
    assert task.retry_policy is task.retry_policy
