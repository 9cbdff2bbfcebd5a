"""StackStorm's pure data helpers for expressions (spec §10.2), the cheap ones.

JSON and YAML conversion, regular expressions, paths, durations and semantic versions.
They depend on their arguments only, so both languages register them as they are.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

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


def use_none(value: Any) -> Any:
    return "%*NONE*%" if value is None else value


def regex_match(value: Any, pattern: Any) -> bool:
    return re.match(pattern, value) is not None


def regex_search(value: Any, pattern: Any) -> bool:
    return re.search(pattern, value) is not None


def regex_replace(value: Any, pattern: Any, replacement: Any) -> str:
    return str(re.sub(pattern, replacement, value))


def regex_substring(value: Any, pattern: Any, result_index: int = 0) -> Any:
    found = re.findall(pattern, value)
    if not found:
        raise FunctionFailure("Exception", f"Could not find pattern {pattern} in {value}")
    return found[result_index]


def basename(path: Any) -> str:
    return str(posixpath.basename(path))


def dirname(path: Any) -> str:
    return str(posixpath.dirname(path))


def to_human_time_from_seconds(seconds: Any) -> str:
    remaining = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    if remaining or not parts:
        parts.append(f"{remaining}s")
    return " ".join(parts)


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
    "regex_match": regex_match,
    "regex_search": regex_search,
    "regex_replace": regex_replace,
    "regex_substring": regex_substring,
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
