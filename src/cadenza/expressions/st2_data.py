"""StackStorm's pure data helpers for expressions (spec §10.2), the cheap ones.

JSON and YAML conversion, regular expressions, paths, durations and semantic versions.
They depend on their arguments only, so both languages register them as they are.
The regular-expression ones are those of :data:`functions.REGEX_FUNCTIONS`, which
run their patterns under the expression budget; the only patterns run on ``re``
here are this module's own fixed ones.
"""

from __future__ import annotations

import datetime
import json
import posixpath
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from cadenza.expressions.functions import REGEX_FUNCTIONS
from cadenza.expressions.scope import FunctionFailure


def _plain(value: Any) -> Any:
    """YAQL hands frozen mappings and tuples to functions; dump them as plain JSON."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def json_dump(value: Any, pretty: bool = False, sort_keys: bool = False) -> str:
    return json.dumps(_plain(value), indent=4 if pretty else None, sort_keys=sort_keys)


def json_parse(text: Any) -> Any:
    return json.loads(text)


def json_escape(value: Any) -> str:
    return json.dumps(str(value))[1:-1]


def yaml_dump(value: Any) -> str:
    return str(yaml.safe_dump(_plain(value), default_flow_style=False))


def yaml_parse(text: Any) -> Any:
    return yaml.safe_load(text)


#: StackStorm's stand-in for ``None`` (its action parameter casts turn it back).
NONE_MAGIC_VALUE = "%*****__%NONE%__*****%"


def use_none(value: Any) -> Any:
    return NONE_MAGIC_VALUE if value is None else value


def jsonpath_query(value: Any, query: Any) -> Any:
    """StackStorm's ``jsonpath_query``: the values ``query`` matches, ``None`` if none."""
    from jsonpath_ng.parser import parse  # here: only workflows that query pay for it

    try:
        expression = parse(str(query))
    except Exception as exc:  # the parser's errors have no common base class
        raise FunctionFailure(type(exc).__name__, str(exc)) from exc
    matches = [match.value for match in expression.find(_plain(value))]
    return matches or None


def basename(path: Any) -> str:
    return str(posixpath.basename(path))


def dirname(path: Any) -> str:
    return str(posixpath.dirname(path))


def to_human_time_from_seconds(seconds: Any) -> str:
    """StackStorm's compact duration: ``1h1m40s``, from the first non-zero unit down.

    Under a second (but not zero) it is the number with ``μs``; floats are rounded to
    whole seconds. Days are the day of the month of the offset from 0001-01-01, as
    StackStorm computes them.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise FunctionFailure("AssertionError", "")
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds}\u03bcs"
    whole = round(seconds) if isinstance(seconds, float) else seconds
    moment = datetime.datetime(1, 1, 1) + datetime.timedelta(seconds=whole)
    parts = [moment.year - 1, moment.day - 1, moment.hour, moment.minute, moment.second]
    while parts and not parts[0]:
        parts.pop(0)
    if not parts:
        return "0s"
    units = "ydhms"[-len(parts) :]
    return "".join(f"{count}{unit}" for count, unit in zip(parts, units, strict=True))


def _version(text: Any) -> tuple[int, int, int]:
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", str(text))
    if not match:
        raise FunctionFailure("ValueError", f"{text} is not valid SemVer string")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def version_compare(a: Any, b: Any) -> int:
    left, right = _version(a), _version(b)
    return (left > right) - (left < right)


def version_more_than(a: Any, b: Any) -> bool:
    return version_compare(a, b) > 0


def version_less_than(a: Any, b: Any) -> bool:
    return version_compare(a, b) < 0


def version_equal(a: Any, b: Any) -> bool:
    return version_compare(a, b) == 0


def version_match(value: Any, pattern: Any) -> bool:
    match = re.match(r"^(<=|>=|==|!=|<|>)?\s*(.+)$", str(pattern))
    if not match:
        return False
    op, other = match.group(1) or "==", match.group(2)
    cmp = version_compare(value, other)
    return {"<": cmp < 0, ">": cmp > 0, "<=": cmp <= 0, ">=": cmp >= 0, "==": cmp == 0}.get(
        op, cmp != 0
    )


def version_bump_major(value: Any) -> str:
    major, _, _ = _version(value)
    return f"{major + 1}.0.0"


def version_bump_minor(value: Any) -> str:
    major, minor, _ = _version(value)
    return f"{major}.{minor + 1}.0"


def version_bump_patch(value: Any) -> str:
    major, minor, patch = _version(value)
    return f"{major}.{minor}.{patch + 1}"


def version_strip_patch(value: Any) -> str:
    major, minor, _ = _version(value)
    return f"{major}.{minor}"


DATA_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "json_dump": json_dump,
    "to_json_string": json_dump,
    "json_parse": json_parse,
    "from_json_string": json_parse,
    "json_escape": json_escape,
    "yaml_dump": yaml_dump,
    "to_yaml_string": yaml_dump,
    "yaml_parse": yaml_parse,
    "from_yaml_string": yaml_parse,
    "use_none": use_none,
    "jsonpath_query": jsonpath_query,
    # StackStorm's regex_match, regex_search, regex_replace, regex_substring: the
    # bounded ones, so that no name here runs a pattern on ``re`` (which no budget
    # can interrupt).
    **REGEX_FUNCTIONS,
    "basename": basename,
    "dirname": dirname,
    "to_human_time_from_seconds": to_human_time_from_seconds,
    "version_compare": version_compare,
    "version_more_than": version_more_than,
    "version_less_than": version_less_than,
    "version_equal": version_equal,
    "version_match": version_match,
    "version_bump_major": version_bump_major,
    "version_bump_minor": version_bump_minor,
    "version_bump_patch": version_bump_patch,
    "version_strip_patch": version_strip_patch,
}
"""Name -> function, as registered in both languages."""
