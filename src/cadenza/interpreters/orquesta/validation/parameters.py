"""Inline parameters: ``action: core.echo message="hi" n=3`` and ``publish: a=1 b=<% ... %>``.

The grammar is orquesta's (spec §3), reproduced on purpose including its surprises,
because workflows written for StackStorm depend on them:

* a pair is ``name=value`` found anywhere in the text; pairs may be separated by spaces,
  commas or semicolons (anything that is not part of a value);
* a value is recognised only if it is one of: ``[...]`` (up to the *last* closing
  bracket), ``"..."``, ``'...'``, a float, an integer, ``true``/``false`` in any case,
  ``null``, a YAQL expression ``<% ... %>`` or a Jinja expression ``{{ ... }}``;
* a bare word (``note=giving-up``) matches none of these, so the pair is dropped silently;
* quoted values lose their quotes and stay strings, unless they look like a JSON object;
  every other value goes through ``json.loads`` when it can (``[1, 2]`` is a list, ``3``
  an int, ``True`` a bool).
"""

from __future__ import annotations

import json
import re
from typing import Any

_BRACKETS = r"\[.*\]\s*"
_DOUBLE_QUOTED = r"\"[^\"]*\"\s*"
_SINGLE_QUOTED = r"'[^']*'\s*"
# The float must be tried before the integer, or "1.5" would match as "1".
_FLOAT = r"-?\d*\.\d+"
_INTEGER = r"-?\d+"
_BOOLEAN = r"(?i:true|false)"
_NULL = r"null"
_YAQL = r"<%.*?%>"
_JINJA = r"\{\{.*?\}\}"

_VALUE = "|".join(
    [_BRACKETS, _DOUBLE_QUOTED, _SINGLE_QUOTED, _FLOAT, _INTEGER, _BOOLEAN, _NULL, _YAQL, _JINJA]
)
_PAIR = re.compile(rf"(\w+)=({_VALUE})")
_QUOTED = re.compile(rf"{_DOUBLE_QUOTED}|{_SINGLE_QUOTED}")


def parse_inline_parameters(text: str) -> list[tuple[str, Any]]:
    """The ``(name, value)`` pairs written inline in ``text``, in order.

    Returns an empty list when ``text`` holds no recognisable pair (for an action, that
    means "no inline parameters": the whole text is the action ref).
    """
    return [(name, _convert(raw)) for name, raw in _PAIR.findall(text)]


def split_action(action: str) -> tuple[str, dict[str, Any] | None]:
    """Split ``core.echo message="hi"`` into the action ref and its inline input.

    The input is ``None`` when the text has no inline parameter; then the ref is the whole
    text, spaces included, as orquesta leaves it. A name given twice keeps its last value.
    """
    pairs = parse_inline_parameters(action)
    if not pairs:
        return action, None
    return action.partition(" ")[0], dict(pairs)


def _convert(raw: str) -> Any:
    value = raw.strip()
    was_quoted = bool(_QUOTED.search(value))
    value = _strip_one(_strip_one(value, '"'), "'")
    looks_like_object = value.startswith("{") and value.endswith("}")
    if value and was_quoted and not looks_like_object:
        return value
    if value.lower() in ("true", "false"):
        value = value.lower()
    try:
        return json.loads(value)
    except ValueError:
        return value


def _strip_one(value: str, quote: str) -> str:
    """Drop one leading and one trailing ``quote``, each only if present."""
    if value.startswith(quote):
        value = value[1:]
    if value.endswith(quote):
        value = value[:-1]
    return value
