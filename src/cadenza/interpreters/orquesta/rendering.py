"""Rendering of definition values against contexts: workflow input, vars and output,
task action/input/items/delay/concurrency, and transition publishes.

Failures come back as :class:`RenderFailure` (an :class:`ExpressionFailure`) whose
``message`` is the error text Orquesta logs.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cadenza.expressions import ExpressionFailure, Scope, evaluate, jinja_language
from cadenza.expressions.evaluation import has_expressions
from cadenza.interpreters.orquesta.validation import Task

RenderFailure = ExpressionFailure


def render_rolling(
    entries: Iterable[tuple[str, Any]], scope: Scope
) -> tuple[dict[str, Any], dict[str, Any], list[ExpressionFailure]]:
    """Evaluate entries in order, each seeing the earlier ones.

    Returns (rolling variables, the rendered entries only, failures).
    """
    # A definition's entries (publish, vars, output) are tuples and come back at every
    # step; others (the runtime input) are checked each time, never kept.
    definition_owned = type(entries) is tuple
    entries = list(entries)
    # A copy, so that an evaluation cannot change the contexts it reads: Jinja may
    # call a list's or dict's methods. YAQL only reads, given copies of mutable
    # values: for YAQL alone, a copy of the top level that takes the entries is enough.
    if _entries_without_jinja(entries, memo=definition_owned):
        rolling = dict(scope.variables)
    else:
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


_MEMO_SIZE = 4096
"""Entries kept by the memos below: a definition's texts, far fewer in practice."""

_JINJA_FREE: dict[tuple[tuple[str, Any], ...], bool] = {}
_STATIC_TEXT: dict[str, bool] = {}


def _entries_without_jinja(entries: list[tuple[str, Any]], *, memo: bool = True) -> bool:
    """``_without_jinja`` of every value, memoised (``memo``) when the entries are hashable.

    Only hashable entries are memoised (strings, numbers and tuples of them: equal
    values give equal answers, and they cannot change); others are checked each time.
    """
    if not memo:
        return all(_without_jinja(value) for _, value in entries)
    try:
        key = tuple(entries)
        found = _JINJA_FREE.get(key)
    except TypeError:  # a mapping or list value: unhashable
        return all(_without_jinja(value) for _, value in entries)
    if found is None:
        found = all(_without_jinja(value) for _, value in entries)
        if len(_JINJA_FREE) >= _MEMO_SIZE:
            _JINJA_FREE.clear()
        _JINJA_FREE[key] = found
    return found


def _is_static(text: str) -> bool:
    """Whether ``text`` holds no expression of either language (memoised per text)."""
    found = _STATIC_TEXT.get(text)
    if found is None:
        found = not has_expressions(text)
        if len(_STATIC_TEXT) >= _MEMO_SIZE:
            _STATIC_TEXT.clear()
        _STATIC_TEXT[text] = found
    return found


def render_value(value: Any, scope: Scope) -> Any:
    """``evaluate(value, scope)``, with the texts that hold no expression (an action
    ref, an input's keys) returned as they are without searching them again.

    :func:`~cadenza.expressions.evaluate` returns such a text unchanged; mappings and
    lists are walked in the same order, so failures are raised for the same element.
    """
    kind = type(value)
    if kind is str:
        return value if _is_static(value) else evaluate(value, scope)
    if kind is dict:
        return {render_value(k, scope): render_value(v, scope) for k, v in value.items()}
    if kind is list:
        return [render_value(v, scope) for v in value]
    return evaluate(value, scope)


def _without_jinja(value: Any) -> bool:
    """Whether no string in ``value`` (keys included) holds a Jinja expression."""
    if isinstance(value, str):
        return not jinja_language.has_expressions(value)
    if isinstance(value, dict):
        return all(_without_jinja(k) and _without_jinja(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_without_jinja(v) for v in value)
    return True


def render_input(
    declared: Iterable[tuple[str, Any]], runtime: Mapping[str, Any], scope: Scope
) -> tuple[dict[str, Any], list[ExpressionFailure]]:
    """The parent context plus the declared inputs (runtime value or default), rendered."""
    entries = [(name, runtime.get(name, default)) for name, default in declared]
    rolling, _, failures = render_rolling(entries, scope)
    return rolling, failures


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


def render_task(
    name: str,
    route: int,
    spec: Task | None,
    scope: Scope,
    wanted: Collection[int] | None = None,
) -> RenderedTask:
    """Render a task's actions, inputs, delay and with-items facts; raises RenderFailure.

    ``spec`` is ``None`` for a name that is not a task (an engine command): it runs no
    action, like an action-less task. ``wanted`` limits a with-items task to the
    items that may start now: rendering every item at every decision would make a
    long list cost O(items^2).
    """
    task = RenderedTask(name, route)
    if spec is None:
        task.actions.append(TaskAction(None, None))
        return task
    # Inline parameters were split from the action when the definition was loaded.
    action, task_input = spec.action, spec.input
    with_spec = spec.with_items
    if with_spec is None:
        task.actions.append(
            TaskAction(
                render_value(action, scope),
                render_value(task_input, scope) if task_input else None,
            )
        )
    else:
        task.has_items = True
        expression, keys = with_spec.expression, with_spec.names
        items = evaluate(expression, scope)
        if not isinstance(items, list):
            raise RenderFailure("TypeError", f'The value of "{expression}" is not type of list.')
        task.items_count = len(items)
        for index, item in enumerate(items):
            if wanted is not None and index not in wanted:
                continue
            if keys and isinstance(item, list | tuple):
                item = dict(zip(keys, list(item), strict=False))
            elif keys and len(keys) == 1:
                item = {keys[0]: item}
            item_scope = scope.with_item(item)
            rendered_input = render_value(task_input, item_scope) if task_input else None
            task.actions.append(TaskAction(render_value(action, item_scope), rendered_input, index))
    delay: Any = spec.delay
    if delay:
        if isinstance(delay, str):
            delay = evaluate(delay, scope)
        if not isinstance(delay, int) or isinstance(delay, bool):
            raise RenderFailure("TypeError", "The value of task delay is not type of integer.")
        task.delay = delay
    if with_spec is not None:
        concurrency = evaluate(with_spec.concurrency, scope)
        # 1.6.0 runs "concurrency: 0" one item at a time (1.2.0 never started any).
        task.concurrency = 1 if concurrency == 0 else concurrency
    return task
