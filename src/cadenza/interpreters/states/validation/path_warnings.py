"""Warnings, where Step Functions warns: a path written where a literal is taken.

None of these make a definition invalid; each is a likely mistake in a
JSONPath state (JSONata states have no paths):

* ``NO_DOLLAR`` — a payload template (``Parameters``, ``ResultSelector``,
  ``ItemSelector``) has a field whose value looks like a path or an intrinsic
  function call but whose name lacks ``.$``, so the text itself is passed on;
* ``NO_PATH`` — a Choice comparison's value looks like a path but the
  operator is not its ``...Path`` form, so the text itself is compared;
* ``PASS_RESULT_IS_STATIC`` — a Pass state's ``Result`` holds a path (as a
  value, or a ``.$`` field name): ``Result`` is never evaluated.

The walk runs after the checks of :func:`~.api.diagnose` found no error, on
the loaded document; locations are AWS's (``/States/X/Parameters/key``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from cadenza.interpreters.states.validation.choice import COMBINATORS, COMPARISONS
from cadenza.interpreters.states.validation.context import JSONPATH, line_of
from cadenza.interpreters.states.validation.diagnostics import Category, Code, Diagnostic
from cadenza.interpreters.states.validation.loading import child_location, item_location

__all__ = ["path_warnings"]

_PATH = re.compile(r"^\$(\$|\.|\[|$)")
_INTRINSIC = re.compile(r"^States\.[A-Za-z]+\(")
_TEMPLATES = ("Parameters", "ResultSelector", "ItemSelector")


def path_warnings(document: Mapping[str, Any], lines: Mapping[str, int]) -> list[Diagnostic]:
    """Every warning of a (valid) definition, in document order."""
    found: list[tuple[str, str]] = []
    language = str(document.get("QueryLanguage", JSONPATH))
    _walk_scope(document, "/", language, found)
    return [
        Diagnostic(
            code=code,
            message=_MESSAGES[code],
            location=location,
            severity="WARNING",
            line=line_of(lines, location),
            category=Category.EXPRESSION,
        )
        for code, location in found
    ]


_MESSAGES: dict[str, str] = {
    Code.NO_DOLLAR: "This value looks like a path or an intrinsic function, but the field "
    "name does not end with '.$': it is passed on as text",
    Code.NO_PATH: "This value looks like a path, but the operator does not end with 'Path': "
    "the text itself is compared",
    Code.PASS_RESULT_IS_STATIC: "A Pass state's Result is never evaluated: this path is "
    "passed on as text (use Parameters to select from the input)",
}


def _walk_scope(
    scope: Mapping[str, Any], location: str, language: str, found: list[tuple[str, str]]
) -> None:
    states = scope.get("States")
    if not isinstance(states, Mapping):
        return
    states_location = child_location(location, "States")
    for name, state in states.items():
        if isinstance(state, Mapping):
            _check_state(state, child_location(states_location, str(name)), language, found)


def _check_state(
    state: Mapping[str, Any], location: str, language: str, found: list[tuple[str, str]]
) -> None:
    if str(state.get("QueryLanguage", language)) == JSONPATH:
        for field in _TEMPLATES:
            if field in state:
                for where in _undollared(state[field], child_location(location, field)):
                    found.append((Code.NO_DOLLAR, where))
        if state.get("Type") == "Choice" and isinstance(state.get("Choices"), list):
            choices_location = child_location(location, "Choices")
            for index, rule in enumerate(state["Choices"]):
                for where in _pathlike_operands(rule, item_location(choices_location, index)):
                    found.append((Code.NO_PATH, where))
        if state.get("Type") == "Pass" and "Result" in state:
            for where in _static_paths(state["Result"], child_location(location, "Result")):
                found.append((Code.PASS_RESULT_IS_STATIC, where))
    # Nested scopes take the machine's query language, not their state's.
    if isinstance(state.get("Branches"), list):
        branches_location = child_location(location, "Branches")
        for index, branch in enumerate(state["Branches"]):
            if isinstance(branch, Mapping):
                _walk_scope(branch, item_location(branches_location, index), language, found)
    for field in ("ItemProcessor", "Iterator"):
        if isinstance(state.get(field), Mapping):
            _walk_scope(state[field], child_location(location, field), language, found)


def _looks_like_path(value: Any) -> bool:
    return isinstance(value, str) and _PATH.match(value) is not None


def _undollared(template: Any, location: str) -> Iterator[str]:
    if isinstance(template, Mapping):
        for key, value in template.items():
            where = child_location(location, str(key))
            if str(key).endswith(".$"):
                continue
            if _looks_like_path(value) or (
                isinstance(value, str) and _INTRINSIC.match(value) is not None
            ):
                yield where
            else:
                yield from _undollared(value, where)
    elif isinstance(template, list):
        for index, item in enumerate(template):
            yield from _undollared(item, item_location(location, index))


def _pathlike_operands(rule: Any, location: str) -> Iterator[str]:
    if not isinstance(rule, Mapping):
        return
    for operator, operand in rule.items():
        where = child_location(location, str(operator))
        if operator in COMBINATORS:
            if isinstance(operand, list):
                for index, inner in enumerate(operand):
                    yield from _pathlike_operands(inner, item_location(where, index))
            else:
                yield from _pathlike_operands(operand, where)
        elif (
            COMPARISONS.get(str(operator)) == "string"
            and not str(operator).endswith("Path")
            and _looks_like_path(operand)
        ):
            yield where


def _static_paths(result: Any, location: str) -> Iterator[str]:
    if isinstance(result, Mapping):
        for key, value in result.items():
            where = child_location(location, str(key))
            if str(key).endswith(".$") or _looks_like_path(value):
                yield where
            else:
                yield from _static_paths(value, where)
    elif isinstance(result, list):
        for index, item in enumerate(result):
            yield from _static_paths(item, item_location(location, index))
