"""Inline parameters: ``action: core.echo message="hi" n=3`` and ``publish: a=1 b=<% x %>``.

The grammar is Orquesta's (spec §3). A pair is ``name=value`` where value is one of:
a bracketed list, a double- or single-quoted string, a float, an integer, ``true`` or
``false`` (any case), ``null``, a YAQL or a Jinja expression. Anything else -- a bare
word such as ``a=word`` -- is not a value, so the pair is dropped without a word; that is
what Orquesta does and what the conformance cases expect.

Quoted values lose their quotes and stay strings, unless they look like a JSON object;
unquoted values go through ``json.loads`` when they can (``[1,2]`` is a list, ``3`` an
int, ``True`` a bool).
"""

from __future__ import annotations

import json
import re
from typing import Any

_BRACKETS = r"\[.*\]\s*"
_DOUBLE_QUOTED = r"\"[^\"]*\"\s*"
_SINGLE_QUOTED = r"'[^']*'\s*"
# The float pattern must come before the integer one, or "1.5" would match as "1".
_VALUE_PATTERNS = (
    _BRACKETS,
    _DOUBLE_QUOTED,
    _SINGLE_QUOTED,
    r"[-]?\d*\.\d+",
    r"[-]?\d+",
    r"(?i:true)",
    r"(?i:false)",
    r"null",
    r"{{.*?}}",
    r"<%.*?%>",
)
_PAIR = re.compile(r"(\w+)=(" + "|".join(_VALUE_PATTERNS) + ")")
_QUOTED = re.compile(f"{_DOUBLE_QUOTED}|{_SINGLE_QUOTED}")


def parse_pairs(text: str) -> list[tuple[str, Any]]:
    """Every recognised ``name=value`` pair of ``text``, in order, values decoded."""
    return [(name, _decode(raw)) for name, raw in _PAIR.findall(text)]


def _decode(raw: str) -> Any:
    value = raw.strip()
    quoted = _QUOTED.search(value) is not None
    value = re.sub(r'^"|"$', "", value)
    value = re.sub(r"^'|'$", "", value)
    if value and quoted and not (value[0] == "{" and value[-1] == "}"):
        return value
    if value.lower() in ("true", "false"):
        value = value.lower()
    try:
        return json.loads(value)
    except ValueError:
        return value


def split_action(action: str) -> tuple[str, dict[str, Any]]:
    """``"core.echo message=hi n=3"`` -> ``("core.echo", {"n": 3})``.

    The text before the first space is the action ref when at least one pair is found;
    otherwise the whole string is the ref and the parameters are empty.
    """
    params = dict(parse_pairs(action))
    if not params:
        return action, {}
    return action[: action.index(" ")], params


def parse_publish(text: str) -> list[dict[str, Any]]:
    """A ``publish`` given as a string, as the list of one-key mappings it stands for."""
    return [{name: value} for name, value in parse_pairs(text)]
