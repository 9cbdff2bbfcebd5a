"""YAQL's own regular-expression functions, on patterns bounded by the expression budget.

YAQL's standard library (``yaql.standard_library.regex``) runs its patterns on
``re``: one call into C that no budget hook can interrupt, so a catastrophic
pattern (``'aaaa…b' =~ '(a|aa)+$'``) would hold its decision for hours. The
YAQL context of :mod:`cadenza.expressions.yaql_language` is made without that
library, and :func:`register` puts these in its place: the same names,
signatures and results, with every pattern compiled as a
:class:`~cadenza.expressions.budget.BoundedPattern`, whose runs stop at what
is left of the CPU budget with ``expression.budget_exceeded``.

The functions, as YAQL users know them: ``regex(pattern, ignoreCase,
multiLine, dotAll)``; ``regex.matches(string)`` and ``string.matches(pattern)``;
``=~`` and ``!~`` with a regex or a string on the right; ``search``,
``searchAll``, ``split``, ``replace`` and ``replaceBy`` on a regex (and the last
three on a string, given a regex); ``escapeRegex`` and ``isRegex``.

One difference, deliberate: a selector of ``search``, ``searchAll`` or
``replaceBy`` sees each named group as ``$name`` (``{value, start, end}``), as
YAQL's documentation intends; YAQL's own code fails on named groups there.
And ``replaceBy`` publishes its match in a context of its own, not in the
caller's.

``yaql`` is imported when :func:`register` runs (the first evaluation), not
with this module.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

from cadenza.expressions.budget import BoundedPattern, bounded_pattern

__all__ = ["register"]

#: Flags of YAQL's ``regex()``: it always asks for Unicode matching.
_BASE_FLAGS = re.UNICODE


def regex(
    pattern: str, ignore_case: bool = False, multi_line: bool = False, dot_all: bool = False
) -> BoundedPattern:
    """``regex(pattern, ignoreCase => false, multiLine => false, dotAll => false)``."""
    flags = _BASE_FLAGS
    if ignore_case:
        flags |= re.IGNORECASE
    if multi_line:
        flags |= re.MULTILINE
    if dot_all:
        flags |= re.DOTALL
    return bounded_pattern(pattern, flags)


def matches(regexp: BoundedPattern, string: str) -> bool:
    """``regexp.matches(string)``: whether ``regexp`` matches anywhere in ``string``."""
    return regexp.search(string) is not None


def matches_(string: str, regexp: str) -> bool:
    """``string.matches(pattern)``: whether the pattern matches anywhere in ``string``."""
    return bounded_pattern(regexp).search(string) is not None


def matches_operator_regex(string: str, regexp: BoundedPattern) -> bool:
    """``string =~ regex(...)``."""
    return regexp.search(string) is not None


def matches_operator_string(string: str, pattern: str) -> bool:
    """``string =~ pattern``."""
    return bounded_pattern(pattern).search(string) is not None


def not_matches_operator_regex(string: str, regexp: BoundedPattern) -> bool:
    """``string !~ regex(...)``."""
    return regexp.search(string) is None


def not_matches_operator_string(string: str, pattern: str) -> bool:
    """``string !~ pattern``."""
    return bounded_pattern(pattern).search(string) is None


def _publish_match(context: Any, match: Any) -> None:
    """Put ``match`` where a selector reads it: ``$1`` the whole match, ``$2``… the
    groups, ``$name`` the named groups; each ``{value, start, end}``."""
    context["$1"] = {"value": match.group(), "start": match.start(0), "end": match.end(0)}
    for index, value in enumerate(match.groups(), 1):
        context["$" + str(index + 1)] = {
            "value": value,
            "start": match.start(index),
            "end": match.end(index),
        }
    for name, value in match.groupdict().items():
        context["$" + name] = {"value": value, "start": match.start(name), "end": match.end(name)}


def search(
    context: Any, regexp: BoundedPattern, string: str, selector: Callable[..., Any] | None = None
) -> Any:
    """``regexp.search(string, selector => null)``: the first match's text, or the
    selector applied to it; null when nothing matches."""
    found = regexp.search(string)
    if found is None:
        return None
    if selector is None:
        return found.group()
    matched = context.create_child_context()
    _publish_match(matched, found)
    return selector(matched)


def search_all(
    context: Any, regexp: BoundedPattern, string: str, selector: Callable[..., Any] | None = None
) -> Iterator[Any]:
    """``regexp.searchAll(string, selector => null)``: every match's text, or the
    selector applied to each."""
    # Every match is found here, under one bound; the selector runs as YAQL reads.
    found = regexp.finditer(string)
    return _selected(context, found, selector)


def _selected(
    context: Any, found: Iterator[Any], selector: Callable[..., Any] | None
) -> Iterator[Any]:
    for match in found:
        if selector is None:
            yield match.group()
        else:
            matched = context.create_child_context()
            _publish_match(matched, match)
            yield selector(matched)


def split(regexp: BoundedPattern, string: str, max_split: int = 0) -> list[Any]:
    """``regexp.split(string, maxSplit => 0)``."""
    return regexp.split(string, max_split)


def split_string(string: str, regexp: BoundedPattern, max_split: int = 0) -> list[Any]:
    """``string.split(regexp, maxSplit => 0)``."""
    return regexp.split(string, max_split)


def replace(regexp: BoundedPattern, string: str, repl: str, count: int = 0) -> str:
    """``regexp.replace(string, repl, count => 0)``: ``repl`` is a template (``\\1``)."""
    return regexp.sub(repl, string, count)


def replace_string(string: str, regexp: BoundedPattern, repl: str, count: int = 0) -> str:
    """``string.replace(regexp, repl, count => 0)``."""
    return regexp.sub(repl, string, count)


def replace_by(
    context: Any, regexp: BoundedPattern, string: str, repl: Callable[..., Any], count: int = 0
) -> str:
    """``regexp.replaceBy(string, repl, count => 0)``: each match replaced by what
    the ``repl`` expression makes of it."""

    def replacement(match: Any) -> Any:
        matched = context.create_child_context()
        _publish_match(matched, match)
        return repl(matched)

    return regexp.sub(replacement, string, count)


def replace_by_string(
    context: Any, string: str, regexp: BoundedPattern, repl: Callable[..., Any], count: int = 0
) -> str:
    """``string.replaceBy(regexp, repl, count => 0)``."""
    return replace_by(context, regexp, string, repl, count)


def escape_regex(string: str) -> str:
    """``escapeRegex(string)``: ``string`` with its special characters escaped."""
    return re.escape(string)


def is_regex(value: Any) -> bool:
    """``isRegex(value)``: whether ``value`` is a regex object."""
    return isinstance(value, BoundedPattern)


@functools.cache
def _definitions() -> list[Callable[..., Any]]:
    """The functions above with YAQL's parameter types and names attached, as its
    decorators would (done once: they are kept on the function objects)."""
    from yaql.language import specs, yaqltypes

    text = yaqltypes.String
    with_context = functools.partial(yaqltypes.Lambda, with_context=True)
    # function, its yaql name (None: from its Python name), method?, parameter types
    table: list[tuple[Callable[..., Any], str | None, bool, dict[str, Any]]] = [
        (regex, None, False, {"pattern": text()}),
        (matches, None, True, {"regexp": BoundedPattern, "string": text()}),
        (matches_, None, True, {"string": text(), "regexp": text()}),
        (
            matches_operator_regex,
            "#operator_=~",
            False,
            {"regexp": BoundedPattern, "string": text()},
        ),
        (matches_operator_string, "#operator_=~", False, {"pattern": text(), "string": text()}),
        (
            not_matches_operator_regex,
            "#operator_!~",
            False,
            {"regexp": BoundedPattern, "string": text()},
        ),
        (not_matches_operator_string, "#operator_!~", False, {"pattern": text(), "string": text()}),
        (
            search,
            None,
            True,
            {"regexp": BoundedPattern, "string": text(), "selector": with_context()},
        ),
        (
            search_all,
            None,
            True,
            {"regexp": BoundedPattern, "string": text(), "selector": with_context()},
        ),
        (split, None, True, {"regexp": BoundedPattern, "string": text(), "max_split": int}),
        (
            split_string,
            "split",
            True,
            {"regexp": BoundedPattern, "string": text(), "max_split": int},
        ),
        (
            replace,
            None,
            True,
            {"regexp": BoundedPattern, "string": text(), "repl": text(), "count": int},
        ),
        (
            replace_string,
            "replace",
            True,
            {"regexp": BoundedPattern, "string": text(), "repl": text(), "count": int},
        ),
        (
            replace_by,
            None,
            True,
            {"regexp": BoundedPattern, "string": text(), "repl": with_context(), "count": int},
        ),
        (
            replace_by_string,
            "replaceBy",
            True,
            {"regexp": BoundedPattern, "string": text(), "repl": with_context(), "count": int},
        ),
        (escape_regex, None, False, {"string": text()}),
        (is_regex, None, False, {}),
    ]
    for function, name, method, parameters in table:
        for parameter, kind in parameters.items():
            specs.parameter(parameter, kind)(function)
        if method:
            specs.method(function)
        if name is not None:
            specs.name(name)(function)
    return [function for function, *_ in table]


def register(context: Any) -> None:
    """Register the bounded regular-expression functions in the YAQL ``context``,
    which must be made without YAQL's own (``yaql.create_context(regex=False)``)."""
    for function in _definitions():
        context.register_function(function)
