"""The JSON schema of an Orquesta definition, and the syntax check that uses it.

The schema is written from the key tables of the spec (§2-§4) and follows JSON-schema
Draft 4, as orquesta's does, so that the schema paths of problems read the same as
orquesta's (``properties.tasks.patternProperties.^\\w+$.properties.next.items...``).

Two places are deliberately stricter than orquesta, because orquesta accepts the
definition and then crashes or misbehaves at run time:

* ``with`` requires ``items`` (orquesta fails when it renders the task);
* task names outside ``^\\w+$`` are reported by :func:`task_name_problems`, not left to
  crash later (orquesta: ``AttributeError`` during inspection).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cadenza.interpreters.orquesta.validation.paths import format_path
from cadenza.model.errors import Problem

if TYPE_CHECKING:
    import jsonschema

TASK_NAME = re.compile(r"^\w+$")

_NONEMPTY_STRING: dict[str, Any] = {"type": "string", "minLength": 1}
_NON_NEGATIVE_INTEGER: dict[str, Any] = {"type": "integer", "minimum": 0}
# A count or a number of seconds: a literal, or an expression that yields one.
_STRING_OR_NON_NEGATIVE_INTEGER: dict[str, Any] = {
    "oneOf": [_NONEMPTY_STRING, _NON_NEGATIVE_INTEGER]
}
_UNIQUE_STRING_LIST: dict[str, Any] = {
    "type": "array",
    "items": _NONEMPTY_STRING,
    "uniqueItems": True,
    "minItems": 1,
}
# `{name: value}`: the value may be anything, null included. The pattern lists the names
# that are expected without forbidding others (spec §2: `key.with.periods` is accepted).
_ONE_KEY_MAPPING: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "patternProperties": {r"^\w+$": {}},
}
_NONEMPTY_MAPPING: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "patternProperties": {r"^\w+$": {}},
}
_UNIQUE_ONE_KEY_MAPPING_LIST: dict[str, Any] = {
    "type": "array",
    "items": _ONE_KEY_MAPPING,
    "uniqueItems": True,
    "minItems": 1,
}
_UNIQUE_NAME_OR_ONE_KEY_MAPPING_LIST: dict[str, Any] = {
    "type": "array",
    "items": {"oneOf": [_NONEMPTY_STRING, _ONE_KEY_MAPPING]},
    "uniqueItems": True,
    "minItems": 1,
}

_EXPRESSION = r"(<%.*?%>|\{\{.*?\}\})"
#: ``<expr>`` or ``name1, name2 in <expr>``, blanks allowed around it (spec §12).
ITEMS_PATTERN = rf"^\s*{_EXPRESSION}\s*$|^\s*(\w+\s*,\s*)*\w+\s+in\s+{_EXPRESSION}\s*$"

_TRANSITION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "when": _NONEMPTY_STRING,
        "publish": {"oneOf": [_NONEMPTY_STRING, _UNIQUE_ONE_KEY_MAPPING_LIST]},
        "do": {"oneOf": [_NONEMPTY_STRING, _UNIQUE_STRING_LIST]},
    },
    "additionalProperties": False,
}

_TASK: dict[str, Any] = {
    "type": "object",
    "properties": {
        "delay": _STRING_OR_NON_NEGATIVE_INTEGER,
        "join": {"oneOf": [{"enum": ["all"]}, _NON_NEGATIVE_INTEGER]},
        "with": {
            "type": "object",
            "properties": {
                "items": {"type": "string", "minLength": 1, "pattern": ITEMS_PATTERN},
                "concurrency": _STRING_OR_NON_NEGATIVE_INTEGER,
            },
            "required": ["items"],
            "additionalProperties": False,
        },
        "action": _NONEMPTY_STRING,
        "input": {"oneOf": [_NONEMPTY_STRING, _NONEMPTY_MAPPING]},
        "retry": {
            "type": "object",
            "properties": {
                "when": _NONEMPTY_STRING,
                "count": _STRING_OR_NON_NEGATIVE_INTEGER,
                "delay": _STRING_OR_NON_NEGATIVE_INTEGER,
            },
            "required": ["count"],
            "additionalProperties": False,
        },
        "next": {"type": "array", "items": _TRANSITION},
    },
    "additionalProperties": False,
}

#: The whole definition's schema (Draft 4).
WORKFLOW_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "properties": {
        "version": {"enum": ["1.0", 1.0]},
        "name": _NONEMPTY_STRING,
        "description": _NONEMPTY_STRING,
        "tags": _UNIQUE_STRING_LIST,
        "input": _UNIQUE_NAME_OR_ONE_KEY_MAPPING_LIST,
        "vars": _UNIQUE_ONE_KEY_MAPPING_LIST,
        "output": _UNIQUE_ONE_KEY_MAPPING_LIST,
        "tasks": {
            "type": "object",
            "minProperties": 1,
            "patternProperties": {r"^\w+$": _TASK},
        },
    },
    "required": ["tasks"],
    "additionalProperties": False,
}


@functools.cache
def _validator() -> jsonschema.Draft4Validator:
    """The schema's validator, built on first use.

    ``jsonschema`` takes about a tenth of a second to import, so a process that
    validates no Orquesta definition does not import it. The schema itself is
    checked against Draft 4 by the tests, not at every start-up.
    """
    import jsonschema

    return jsonschema.Draft4Validator(WORKFLOW_SCHEMA)


def syntax_problems(document: Mapping[str, Any]) -> list[Problem]:
    """Every place where ``document`` breaks the schema, plus badly named tasks."""
    problems = [_problem(error) for error in _validator().iter_errors(document)]
    problems.extend(task_name_problems(document))
    return problems


def task_name_problems(document: Mapping[str, Any]) -> list[Problem]:
    """One problem per task whose name is not made of letters, digits and underscores."""
    tasks = document.get("tasks")
    if not isinstance(tasks, Mapping):
        return []
    return [
        Problem(
            format_path(("tasks", name)),
            f'The task name "{name}" is not valid: a task name may contain only letters, '
            "digits and underscores.",
            category="syntax",
            schema_path="properties.tasks.patternProperties",
        )
        for name in tasks
        if not TASK_NAME.match(name)
    ]


def _problem(error: jsonschema.ValidationError) -> Problem:
    return Problem(
        format_path(error.absolute_path),
        _message(error),
        category="syntax",
        schema_path=format_path(error.absolute_schema_path),
    )


def _message(error: jsonschema.ValidationError) -> str:
    """The validator's message; for ``oneOf`` also why each alternative failed."""
    if error.validator == "pattern" and error.schema.get("pattern") == ITEMS_PATTERN:
        return (
            f"{error.instance!r} is not a with-items expression: expected an expression "
            '("<% ... %>" or "{{ ... }}") or "name1, name2 in <expression>".'
        )
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return str(error.message)
    reasons: list[str] = []
    for sub in error.context:
        where = format_path(sub.relative_path)
        reason = f"{where}: {sub.message}" if where else str(sub.message)
        if reason not in reasons:
            reasons.append(reason)
    return f"{error.message} ({'; '.join(reasons)})"
