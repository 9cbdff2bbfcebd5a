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
def _parse(expression: str) -> tuple[Any, str | None]:
    if not expression.strip():
        return None, "the expression is empty"
    try:
        return Jsonata(expression).ast, None
    except Exception as exc:  # jsonata-python raises JException and, rarely, others
        return None, str(exc) or type(exc).__name__


def syntax_problem(expression: str) -> str | None:
    """The parser's complaint about ``expression``, or None when it parses."""
    return _parse(expression)[1]


# AST attributes that are not evaluated against the top-level context: later
# path steps, predicates and stages, group-by, lambda bodies, sort terms.
_RELATIVE_ATTRIBUTES = frozenset(
    {"steps", "stages", "predicate", "group", "body", "terms", "procedure", "_outer_instance"}
)


def top_level_references(expression: str) -> list[str]:
    """Field names ``expression`` reads with no context to read them from.

    Step Functions evaluates JSONata with no input document: data comes from
    ``$states`` and variables. A path that starts with a bare name outside any
    path step, filter or lambda reads nothing, and AWS refuses it.
    """
    ast, problem = _parse(expression)
    if problem is not None or ast is None:
        return []
    found: list[str] = []
    _walk_top_level(ast, found, depth=0)
    return found


def _is_node(value: object) -> bool:
    return hasattr(value, "type") and hasattr(value, "value")


def _walk_top_level(node: Any, found: list[str], depth: int) -> None:
    if depth > 200:
        return
    kind = getattr(node, "type", None)
    if kind == "lambda":
        return
    if kind == "name":
        found.append(str(node.value))
        return
    if kind == "path":
        steps = getattr(node, "steps", None) or []
        if steps:
            _walk_top_level(steps[0], found, depth + 1)
        return
    for attribute, value in vars(node).items():
        if attribute in _RELATIVE_ATTRIBUTES:
            continue
        for child in _children(value):
            _walk_top_level(child, found, depth + 1)


def _children(value: object) -> list[Any]:
    if _is_node(value):
        return [value]
    if isinstance(value, list | tuple):
        out: list[Any] = []
        for item in value:
            out.extend(_children(item))
        return out
    return []


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
        return
    for name in top_level_references(expression):
        checker.report(
            location,
            messages.top_level_reference(name),
            code=Code.UNSUPPORTED_JSONATA_EXPRESSION,
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
