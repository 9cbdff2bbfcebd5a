"""Choice rules of the Amazon States Language, evaluated against an event's data.

The subset Triggerflow's state machines use: a rule has a ``Variable`` (a
JSONPath into the data: ``$``, ``$.a.b``, ``$.items[0]``) and one comparison,
or is ``And``/``Or`` (a list of rules) or ``Not`` (one rule). Comparisons:
``String*``, ``Numeric*`` and ``Boolean*`` equality and order (``Equals``,
``LessThan``, ``GreaterThan``, ``LessThanEquals``, ``GreaterThanEquals``),
``IsPresent``, ``IsNull``, ``IsString``, ``IsNumeric``, ``IsBoolean``.
A comparison whose value has the wrong type is false, as in Step Functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\['([^']*)'\]")
_MISSING = object()

_ORDER = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThanEquals": lambda a, b: a >= b,
}
_TYPES: Mapping[str, Any] = {
    "String": lambda v: isinstance(v, str),
    "Numeric": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "Boolean": lambda v: isinstance(v, bool),
}
#: Every comparison operator a rule may use.
OPERATORS = frozenset(
    [f"{kind}{order}" for kind in _TYPES for order in _ORDER if kind != "Boolean"]
    + ["BooleanEquals", "IsPresent", "IsNull", "IsString", "IsNumeric", "IsBoolean"]
)


def path_problem(path: Any) -> str | None:
    """Why ``path`` is not a JSONPath this module reads (None if it is one)."""
    if not isinstance(path, str) or not path.startswith("$"):
        return "a Variable is a JSONPath starting with $"
    rest = path[1:]
    position = 0
    for found in _STEP.finditer(rest):
        if found.start() != position:
            break
        position = found.end()
    if position != len(rest):
        return f"cannot read the JSONPath {path!r} (use $.name, $.list[0], $['key'])"
    return None


def select(path: str, data: Any) -> Any:
    """The value at ``path`` in ``data``, or ``_MISSING``."""
    value = data
    for found in _STEP.finditer(path[1:]):
        name, index, quoted = found.groups()
        if index is not None:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
        else:
            key = name if name is not None else quoted
            if not isinstance(value, dict) or key not in value:
                return _MISSING
            value = value[key]
    return value


def rule_problems(rule: Any, where: str) -> list[tuple[str, str]]:
    """``(path, message)`` for everything wrong with ``rule``."""
    if not isinstance(rule, Mapping):
        return [(where, "a choice rule is an object")]
    if "And" in rule or "Or" in rule:
        key = "And" if "And" in rule else "Or"
        rules = rule[key]
        if not isinstance(rules, list) or not rules:
            return [(f"{where}.{key}", f"{key} takes a non-empty list of rules")]
        return [p for i, r in enumerate(rules) for p in rule_problems(r, f"{where}.{key}[{i}]")]
    if "Not" in rule:
        return rule_problems(rule["Not"], f"{where}.Not")
    operators = [key for key in rule if key in OPERATORS]
    out = []
    if len(operators) != 1:
        known = ", ".join(sorted(OPERATORS))
        out.append((where, f"a rule has exactly one comparison (one of {known})"))
    problem = path_problem(rule.get("Variable"))
    if problem:
        out.append((f"{where}.Variable", problem))
    return out


def matches(rule: Mapping[str, Any], data: Any) -> bool:
    """Whether ``rule`` holds for ``data`` (a checked rule: see ``rule_problems``)."""
    if "And" in rule:
        return all(matches(r, data) for r in rule["And"])
    if "Or" in rule:
        return any(matches(r, data) for r in rule["Or"])
    if "Not" in rule:
        return not matches(rule["Not"], data)
    value = select(rule["Variable"], data)
    (operator,) = [key for key in rule if key in OPERATORS]
    expected = rule[operator]
    if operator == "IsPresent":
        return (value is not _MISSING) == bool(expected)
    if value is _MISSING:
        return False
    if operator == "IsNull":
        return (value is None) == bool(expected)
    if operator.startswith("Is"):
        return bool(_TYPES[operator[2:]](value)) == bool(expected)
    kind = next(k for k in _TYPES if operator.startswith(k))
    is_kind = _TYPES[kind]
    if not is_kind(value) or not is_kind(expected):
        return False
    return bool(_ORDER[operator[len(kind) :]](value, expected))
