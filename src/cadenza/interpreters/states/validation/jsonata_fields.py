"""JSONata mode: ``{% … %}`` strings, parsed with ``jsonata-python``.

A string is a JSONata expression when the whole of it is ``{%`` … ``%}``;
anything else is a literal. Expressions may sit at any depth of ``Arguments``,
``Output``, ``Assign``, ``Items``, ``ItemSelector`` and in the scalar fields
that accept them. Each is parsed once here, so a syntax error is refused at
registration with its location, instead of failing the execution later.
"""

from __future__ import annotations

import functools
from typing import Any

from jsonata import Jsonata

from cadenza.interpreters.states.validation import messages
from cadenza.interpreters.states.validation.context import Checker
from cadenza.interpreters.states.validation.diagnostics import Category, Code
from cadenza.interpreters.states.validation.loading import child_location, item_location

OPEN = "{%"
CLOSE = "%}"


def expression_of(value: object) -> str | None:
    """The JSONata text inside ``value`` when it is a ``{% … %}`` string, else None."""
    if (
        isinstance(value, str)
        and len(value) >= len(OPEN) + len(CLOSE)
        and value.startswith(OPEN)
        and value.endswith(CLOSE)
    ):
        return value[len(OPEN) : -len(CLOSE)]
    return None


@functools.lru_cache(maxsize=4096)
def syntax_problem(expression: str) -> str | None:
    """The parser's complaint about ``expression``, or None when it parses."""
    if not expression.strip():
        return "the expression is empty"
    try:
        Jsonata(expression)
    except Exception as exc:  # jsonata-python raises JException and, rarely, others
        return str(exc) or type(exc).__name__
    return None


def check_expression(checker: Checker, value: str, field: str, location: str) -> None:
    """Report ``value`` (a ``{% … %}`` string) at ``location`` when it does not parse."""
    expression = expression_of(value)
    if expression is None:
        return
    problem = syntax_problem(expression)
    if problem is not None:
        checker.report(
            location,
            messages.invalid_jsonata(field, problem),
            code=Code.INVALID_JSONATA_EXPRESSION,
            category=Category.EXPRESSION,
            expression=value,
        )


def check_template(checker: Checker, value: Any, field: str, location: str) -> None:
    """Parse every ``{% … %}`` string found at any depth of ``value``."""
    if isinstance(value, str):
        check_expression(checker, value, field, location)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_template(checker, item, str(key), child_location(location, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_template(checker, item, field, item_location(location, index))


def check_scalar(
    checker: Checker,
    value: Any,
    field: str,
    location: str,
    *,
    literal_ok: type | tuple[type, ...],
    expected: str,
) -> bool:
    """A field that holds a literal of ``literal_ok`` or a JSONata expression.

    Returns True when ``value`` is a literal (for further range checks).
    """
    if isinstance(value, bool) and bool not in _as_tuple(literal_ok):
        checker.report(location, messages.wrong_type(field, expected))
        return False
    if isinstance(value, literal_ok):
        return True
    if expression_of(value) is not None:
        check_expression(checker, value, field, location)
        return False
    checker.report(location, messages.wrong_type(field, expected))
    return False


def _as_tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)
