"""JSONPath as Amazon States Language uses it, on top of ``jsonpath-ng``.

The library does the matching; this module adds the Step Functions rules:

* a *definite* path (only fields and indices) selects one value and fails when
  nothing is there; an *indefinite* path (wildcard, slice, filter, deep scan,
  union) selects the list of every match, possibly empty;
* a *reference path* (``ResultPath``) names one node and may create it;
* messages show the path in bracket form (``$['a'][0]``), as AWS does.

Variables (``$name.field``) and the context object (``$$.x``) are resolved by
the caller: :func:`split_root` tells which root a path starts from.
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

from jsonpath_ng.ext.parser import parse as _parse

from cadenza.expressions.budget import Meter, current_meter, metered, shorten
from cadenza.model.errors import ExpressionBudgetExceeded

__all__ = [
    "PathNotFound",
    "canonical",
    "is_definite",
    "put",
    "reference_segments",
    "select",
    "split_root",
]

_INDEFINITE = re.compile(r"\*|\.\.|\[\s*\?|\[[^\]'\"]*[:,][^\]'\"]*\]")
_SEGMENT = re.compile(
    r"""\.(?P<field>[^.\[\]]+)|\[\s*'(?P<quoted>(?:[^'\\]|\\.)*)'\s*\]|\[\s*"(?P<dquoted>[^"]*)"\s*\]|\[\s*(?P<index>-?\d+)\s*\]"""
)
_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class PathNotFound(Exception):
    """A definite path selected nothing, or a path could not be parsed."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(message)


@functools.lru_cache(maxsize=4096)
def _compiled(path: str) -> Any:
    try:
        return _parse(path)
    except Exception as exc:  # the library raises bare Exceptions for syntax errors
        raise PathNotFound(path, f"Invalid path '{path}'") from exc


@functools.lru_cache(maxsize=4096)
def is_definite(path: str) -> bool:
    """Whether ``path`` can select at most one node (fields and single indices only)."""
    return _INDEFINITE.search(path) is None


@functools.lru_cache(maxsize=4096)
def reference_segments(path: str) -> tuple[str | int, ...] | None:
    """The field names and indices of a reference path, or None if it is not one."""
    if not path.startswith("$"):
        return None
    rest = path[1:]
    segments: list[str | int] = []
    pos = 0
    while pos < len(rest):
        m = _SEGMENT.match(rest, pos)
        if m is None:
            return None
        if m.group("field") is not None:
            field = m.group("field")
            if field == "*":
                return None
            segments.append(field)
        elif m.group("quoted") is not None:
            segments.append(m.group("quoted").replace("\\'", "'"))
        elif m.group("dquoted") is not None:
            segments.append(m.group("dquoted"))
        else:
            segments.append(int(m.group("index")))
        pos = m.end()
    return tuple(segments)


def canonical(path: str) -> str:
    """The bracket form AWS prints in messages: ``$.a[0]`` → ``$['a'][0]``."""
    segments = reference_segments(path)
    if segments is None:
        return path
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f"['{s}']" for s in segments)


def split_root(path: str) -> tuple[str, str | None, str]:
    """Which root ``path`` reads: ``("context", None, "$.x")`` for ``$$.x``,
    ``("variable", "name", "$.x")`` for ``$name.x``, else ``("input", None, path)``."""
    if path.startswith("$$"):
        return "context", None, path[1:]
    m = _VARIABLE.match(path)
    if m is not None:
        return "variable", m.group(1), "$" + path[m.end() :]
    return "input", None, path


def select(path: str, data: Any) -> Any:
    """The value ``path`` selects in ``data`` (a list of matches for indefinite paths).

    Raises :class:`PathNotFound` when a definite path matches nothing.
    """
    segments = reference_segments(path)
    if segments is not None:
        return _walk(path, segments, data)  # bounded by the path's length

    def failure(detail: str, limit: str) -> Exception:
        return ExpressionBudgetExceeded(
            f"{detail}, in the JSONPath '{shorten(path)}'", expression=path, limit=limit
        )

    return metered(lambda: _search(path, data), failure, path)


def _search(path: str, data: Any) -> Any:
    meter = current_meter()
    if meter is not None:
        _refuse_runaway_descent(meter, path, data)
    try:
        matches = [m.value for m in _compiled(path).find(data)]
    except PathNotFound:
        raise
    except Exception as exc:  # filters on odd data raise assorted Python errors
        raise PathNotFound(path, f"Invalid path '{path}': {exc}") from exc
    if meter is not None:
        # The library has no hook inside a search; account for it once it returns.
        meter.check_clock()
        meter.check_items(len(matches))
    if is_definite(path):
        if not matches:
            raise PathNotFound(path, f"No results for path: {canonical(path)}")
        return matches[0]
    return matches


def _refuse_runaway_descent(meter: Meter, path: str, data: Any) -> None:
    """Refuse a path whose recursive descents (``$..a..b..c``) would visit more
    nodes than the item budget: each descent can visit every node under each
    match of the one before, so the work grows as nodes ** descents."""
    descents = path.count("..")
    if descents < 2:
        return
    limit = meter.budget.max_items
    root = int(limit ** (1 / descents)) + 1
    nodes = 0
    stack = [data]
    while stack and nodes <= root:
        item = stack.pop()
        nodes += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    if nodes > root:
        meter.trip(
            "max_items",
            f"would visit up to {nodes}**{descents} nodes ({descents} recursive descents "
            f"over more than {root} nodes)",
        )


def _walk(path: str, segments: tuple[str | int, ...], data: Any) -> Any:
    node = data
    for depth, segment in enumerate(segments):
        if isinstance(segment, int):
            if isinstance(node, list) and -len(node) <= segment < len(node):
                node = node[segment]
                continue
        elif isinstance(node, dict) and segment in node:
            node = node[segment]
            continue
        if depth < len(segments) - 1:
            # Jayway's wording, which AWS reports: a missing step before the leaf.
            prefix = "$" + "".join(
                f"[{s}]" if isinstance(s, int) else f"['{s}']" for s in segments[: depth + 1]
            )
            raise PathNotFound(path, f"Missing property in path {prefix}")
        raise PathNotFound(path, f"No results for path: {canonical(path)}")
    return node


def put(data: Any, path: str, value: Any) -> Any:
    """``data`` with ``value`` placed at reference path ``path`` (a copy; ``$`` replaces).

    Missing objects along the way are created. Raises :class:`PathNotFound` when
    the path crosses a value that is not an object (or an array for an index).
    """
    segments = reference_segments(path)
    if segments is None:
        raise PathNotFound(path, f"Invalid reference path '{path}'")
    if not segments:
        return value
    root = copy.copy(data)
    if not isinstance(root, dict | list):
        raise PathNotFound(path, f"cannot set {path} on a non-object")
    node: Any = root
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if isinstance(segment, int):
            if not isinstance(node, list) or not -len(node) <= segment < len(node):
                raise PathNotFound(path, f"cannot set {path}")
            if last:
                node[segment] = value
            else:
                node[segment] = copy.copy(node[segment])
                node = node[segment]
        else:
            if not isinstance(node, dict):
                raise PathNotFound(path, f"cannot set {path}")
            if last:
                node[segment] = value
            else:
                child = node.get(segment)
                node[segment] = copy.copy(child) if isinstance(child, dict | list) else {}
                node = node[segment]
    return root
