"""Rendering of definition values against contexts: workflow input, vars and output,
task action/input/items/delay/concurrency, and transition publishes.

Failures come back as :class:`RenderFailure` (an :class:`ExpressionFailure`) whose
``message`` is the error text Orquesta logs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cadenza.expressions import ExpressionFailure, Scope, evaluate
from cadenza.interpreters.orquesta.parameters import parse_publish, split_action

RenderFailure = ExpressionFailure


def one_key_items(entries: list[Any] | None) -> list[tuple[str, Any]]:
    """``[{name: value}, "name", ...]`` -> ``[(name, value), ...]`` (bare names -> None)."""
    pairs: list[tuple[str, Any]] = []
    for entry in entries or []:
        if isinstance(entry, Mapping):
            name, value = next(iter(entry.items()))
            pairs.append((str(name), value))
        else:
            pairs.append((str(entry), None))
    return pairs


def render_rolling(
    entries: list[tuple[str, Any]], scope: Scope
) -> tuple[dict[str, Any], dict[str, Any], list[ExpressionFailure]]:
    """Evaluate entries in order, each seeing the earlier ones.

    Returns (rolling variables, the rendered entries only, failures).
    """
    rolling = copy.deepcopy(scope.variables)
    rendered: dict[str, Any] = {}
    failures: list[ExpressionFailure] = []
    for name, value in entries:
        try:
            result = evaluate(value, scope.with_variables(rolling))
        except ExpressionFailure as exc:
            failures.append(exc)
            continue
        rolling[name] = result
        rendered[name] = result
    return rolling, rendered, failures


def render_input(
    spec: list[Any] | None, runtime: Mapping[str, Any], scope: Scope
) -> tuple[dict[str, Any], list[ExpressionFailure]]:
    """The parent context plus the declared inputs (runtime value or default), rendered."""
    entries = [(name, runtime.get(name, default)) for name, default in one_key_items(spec)]
    rolling, _, failures = render_rolling(entries, scope)
    return rolling, failures


def publish_entries(transition: Mapping[str, Any]) -> list[tuple[str, Any]]:
    publish = transition.get("publish")
    if isinstance(publish, str):
        publish = parse_publish(publish)
    return one_key_items(publish)


@dataclass
class TaskAction:
    """One action run a task asks for (one per item for with-items)."""

    action: str | None
    input: Any
    item_id: int | None = None


@dataclass
class RenderedTask:
    """A task ready to hand out: its actions and the facts that go with them."""

    name: str
    route: int
    actions: list[TaskAction] = field(default_factory=list)
    delay: int | None = None
    items_count: int | None = None
    concurrency: int | None = None
    has_items: bool = False


def task_action_and_input(spec: Mapping[str, Any]) -> tuple[str | None, Any]:
    """The task's action ref and input spec after splitting inline parameters."""
    action = spec.get("action")
    task_input = spec.get("input")
    if isinstance(action, str):
        ref, params = split_action(action)
        if params:
            return ref, params
    return action, task_input


def items_expression(items: str) -> tuple[str, list[str] | None]:
    """``"x, y in <% ... %>"`` -> (``"<% ... %>"``, ``["x", "y"]``)."""
    if " in " not in items:
        return items.strip(), None
    start = items.index(" in ")
    return items[start + 4 :].strip(), items[:start].replace(" ", "").split(",")


def render_task(name: str, route: int, spec: Mapping[str, Any], scope: Scope) -> RenderedTask:
    """Render a task's actions, inputs, delay and with-items facts; raises RenderFailure."""
    task = RenderedTask(name, route)
    action, task_input = task_action_and_input(spec)
    with_spec = spec.get("with")
    if not with_spec:
        task.actions.append(
            TaskAction(evaluate(action, scope), evaluate(task_input, scope) if task_input else None)
        )
    else:
        task.has_items = True
        expression, keys = items_expression(with_spec["items"])
        items = evaluate(expression, scope)
        if not isinstance(items, list):
            raise RenderFailure("TypeError", f'The value of "{expression}" is not type of list.')
        for index, item in enumerate(items):
            if keys and isinstance(item, list | tuple):
                item = dict(zip(keys, list(item), strict=False))
            elif keys and len(keys) == 1:
                item = {keys[0]: item}
            item_scope = scope.with_item(item)
            rendered_input = evaluate(task_input, item_scope) if task_input else None
            task.actions.append(TaskAction(evaluate(action, item_scope), rendered_input, index))
    delay = spec.get("delay")
    if delay:
        if isinstance(delay, str):
            delay = evaluate(delay, scope)
        if not isinstance(delay, int) or isinstance(delay, bool):
            raise RenderFailure("TypeError", "The value of task delay is not type of integer.")
        task.delay = delay
    if task.has_items:
        task.items_count = len(task.actions)
        concurrency = evaluate((with_spec or {}).get("concurrency"), scope)
        # 1.6.0 runs "concurrency: 0" one item at a time (1.2.0 never started any).
        task.concurrency = 1 if concurrency == 0 else concurrency
    return task
