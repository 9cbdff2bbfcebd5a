"""Evaluate Orquesta values: strings holding YAQL or Jinja, and containers of them.

Mappings and lists are evaluated element by element, keys included. A string with no
expression is returned unchanged.
"""

from __future__ import annotations

import datetime
from typing import Any

from cadenza.expressions import jinja_language, yaql_language
from cadenza.expressions.scope import Scope


def evaluate(value: Any, scope: Scope) -> Any:
    """The value of ``value`` in ``scope``; raises ``ExpressionFailure`` on a failed expression."""
    if isinstance(value, dict):
        return {evaluate(k, scope): evaluate(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate(v, scope) for v in value]
    if isinstance(value, str):
        if yaql_language.has_expressions(value):
            return recordable(yaql_language.evaluate(value, scope))
        if jinja_language.has_expressions(value):
            return recordable(jinja_language.evaluate(value, scope))
    return value


def recordable(value: Any) -> Any:
    """``value`` with the non-JSON values expressions can produce turned into JSON.

    Whatever an expression yields may end up in history (published into the
    context, sent as an action's input), so a date or time becomes its ISO
    8601 text and a duration its number of seconds, inside lists and
    mappings too. Inside one expression they keep their type for arithmetic.
    """
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {recordable(k): recordable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [recordable(v) for v in value]
    return value


def has_expressions(value: str) -> bool:
    """Whether the string ``value`` holds an expression of either language."""
    return yaql_language.has_expressions(value) or jinja_language.has_expressions(value)
