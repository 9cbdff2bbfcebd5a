"""Choice rules: JSONPath comparisons and combinators, JSONata conditions."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

from cadenza.expressions import jsonpath
from cadenza.interpreters.states.dataflow import Env, dumps

__all__ = ["matches_jsonata", "matches_jsonpath", "parse_timestamp"]

_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
)


def parse_timestamp(text: Any) -> datetime.datetime | None:
    """An RFC 3339 timestamp with a zone (``T`` and ``Z``/offset required), else None."""
    if not isinstance(text, str):
        return None
    m = _TIMESTAMP.match(text)
    if m is None:
        return None
    fraction = (m.group(7) or ".0")[1:7].ljust(6, "0")
    zone = m.group(8)
    try:
        offset = (
            datetime.timedelta(0)
            if zone == "Z"
            else (1 if zone[0] == "+" else -1)
            * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        )
        year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
        return datetime.datetime(
            year,
            month,
            day,
            hour,
            minute,
            second,
            int(fraction),
            tzinfo=datetime.timezone(offset),
        )
    except ValueError:
        return None


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _string_matches(value: str, pattern: str) -> bool:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(out), value, re.DOTALL) is not None


def _compare(op: str, value: Any, expected: Any) -> bool:
    parts = re.match(r"(String|Numeric|Boolean|Timestamp)(.*)", op)
    assert parts is not None
    kind, relation = parts.group(1), parts.group(2)
    a: Any
    b: Any
    if kind == "String":
        if not isinstance(value, str) or not isinstance(expected, str):
            return False
        if relation == "Matches":
            return _string_matches(value, expected)
        a, b = value, expected
    elif kind == "Numeric":
        if not _is_number(value) or not _is_number(expected):
            return False
        a, b = value, expected
    elif kind == "Boolean":
        if not isinstance(value, bool) or not isinstance(expected, bool):
            return False
        return bool(value is expected) if relation == "Equals" else False
    else:
        ta, tb = parse_timestamp(value), parse_timestamp(expected)
        if ta is None or tb is None:
            return False
        a, b = ta, tb
    return bool(
        {
            "Equals": a == b,
            "LessThan": a < b,
            "GreaterThan": a > b,
            "LessThanEquals": a <= b,
            "GreaterThanEquals": a >= b,
        }[relation]
    )


_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: parse_timestamp(v) is not None,
}


def matches_jsonpath(rule: dict[str, Any], data: Any, env: Env) -> bool:
    """Whether a JSONPath-mode choice rule holds for ``data``."""
    if "And" in rule:
        return all(matches_jsonpath(r, data, env) for r in rule["And"])
    if "Or" in rule:
        return any(matches_jsonpath(r, data, env) for r in rule["Or"])
    if "Not" in rule:
        return not matches_jsonpath(rule["Not"], data, env)
    path = str(rule.get("Variable", "$"))
    if "IsPresent" in rule:
        try:
            env.read(path, data)
            present = True
        except jsonpath.PathNotFound:
            present = False
        return present is bool(rule["IsPresent"])
    try:
        value = env.read(path, data)
    except jsonpath.PathNotFound:
        raise env.failure(
            "States.Runtime",
            f"Invalid path '{path}' : No results for path: {jsonpath.canonical(path)}",
        ) from None
    for op, expected in rule.items():
        if op in _TYPE_TESTS:
            return bool(_TYPE_TESTS[op](value)) is bool(expected)
        if op.endswith("Path") and op[:-4] in _COMPARATORS:
            try:
                other = env.read(str(expected), data)
            except jsonpath.PathNotFound:
                raise env.failure(
                    "States.Runtime",
                    f"Invalid path '{expected}' : No results for path: "
                    f"{jsonpath.canonical(str(expected))}",
                ) from None
            return _compare(op[:-4], value, other)
        if op in _COMPARATORS:
            return _compare(op, value, expected)
    raise env.failure("States.Runtime", f"Unsupported choice rule {dumps(rule)}")


_COMPARATORS = frozenset(
    f"{kind}{relation}"
    for kind in ("String", "Numeric", "Timestamp")
    for relation in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
) | {"BooleanEquals", "StringMatches"}


def matches_jsonata(rule: dict[str, Any], env: Env) -> bool:
    """Whether a JSONata-mode rule's ``Condition`` is true."""
    condition = rule.get("Condition")
    if isinstance(condition, bool):
        return condition
    return bool(env.jsonata_typed(condition, "Condition", "boolean", lambda v: isinstance(v, bool)))
