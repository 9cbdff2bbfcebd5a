"""The ``actions`` check: tasks call known actions with parameters their metadata allows.

StackStorm inspects a workflow against the metadata of the actions it calls before
running it (spec §14, last note): a required parameter that is neither given nor
defaulted, and a parameter the action does not declare, are refused. We add two checks
StackStorm only makes when the action runs: a literal value of the wrong type, and a
value given for an ``immutable`` parameter (which StackStorm would silently override).

Only tasks whose action is written literally and has a spec are checked; an input
written as one expression (``input: <% ctx(params) %>``) is only known at run time, and
a value holding an expression is checked for its name only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cadenza.expressions.syntax import has_expressions
from cadenza.interpreters.orquesta.actions import ActionCatalog, ActionSpec
from cadenza.interpreters.orquesta.validation.model import OrquestaDefinition, Task
from cadenza.model.errors import Problem
from cadenza.model.secrets import MASK

#: The category of the problems found here (as for unknown actions).
CATEGORY = "actions"


def action_input_problems(definition: OrquestaDefinition, catalog: ActionCatalog) -> list[Problem]:
    """Every parameter problem of every task that calls an action ``catalog`` knows."""
    found: list[Problem] = []
    for name, task in definition.tasks.items():
        spec = catalog.get(task.action)
        if spec is None or task.action is None or has_expressions(task.action):
            continue
        found += _task_problems(name, task, spec)
    return found


def _task_problems(name: str, task: Task, spec: ActionSpec) -> list[Problem]:
    given = task.input
    if isinstance(given, str):
        return []  # one expression: its keys are known only when it is rendered
    inline = task.inline_input is not None
    base = f"tasks.{name}.action" if inline else f"tasks.{name}.input"
    values: Mapping[str, Any] = given or {}
    found: list[Problem] = []
    for key, value in values.items():
        where = base if inline else f"{base}.{key}"
        param = spec.parameter(str(key))
        if param is None:
            if spec.closed:
                found.append(_problem(where, f'Action "{spec.ref}" has unexpected input "{key}".'))
            continue
        if param.immutable:
            found.append(
                _problem(
                    where,
                    f'The parameter "{key}" of action "{spec.ref}" is immutable: it always '
                    f"has its default ({MASK if param.secret else _shown(param.default)}) "
                    "and cannot be set.",
                )
            )
        elif not _holds_expression(value) and not param.accepts(value):
            found.append(
                _problem(
                    where,
                    f'The parameter "{key}" of action "{spec.ref}" must be of type '
                    f"{param.type}, not {_json_type(value)}.",
                )
            )
    for param in spec.parameters:
        if param.required and not param.has_default and param.name not in values:
            found.append(
                _problem(
                    f"tasks.{name}.action" if inline or not values else base,
                    f'Action "{spec.ref}" is missing required input "{param.name}".',
                )
            )
    return found


def _problem(spec_path: str, message: str) -> Problem:
    return Problem(spec_path=spec_path, message=message, category=CATEGORY)


def _holds_expression(value: Any) -> bool:
    if isinstance(value, str):
        return has_expressions(value)
    if isinstance(value, Mapping):
        return any(_holds_expression(k) or _holds_expression(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_expression(v) for v in value)
    return False


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "null" if value is None else type(value).__name__


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
