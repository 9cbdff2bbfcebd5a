"""Spec paths: where a value sits in a definition, written the way orquesta writes it.

A path is a tuple of mapping keys (``str``) and list indices (``int``). Its text form
joins keys with dots and puts indices in brackets: ``("tasks", "t1", "next", 0, "do")``
is ``tasks.t1.next[0].do``. The root document is the empty path, written ``""``.

Schema paths use the same text form over the JSON-schema's own keys, e.g.
``properties.tasks.patternProperties.^\\w+$.properties.next.items.properties.do``.
"""

from __future__ import annotations

from collections.abc import Iterable

PathPart = str | int
Path = tuple[PathPart, ...]

#: The schema path of one task's schema, as orquesta spells it; semantic problems about a
#: task are filed under it.
TASK_SCHEMA_PATH = "properties.tasks.patternProperties.^\\w+$"


def format_path(parts: Iterable[PathPart]) -> str:
    """Write a path as text: ``tasks.t1.next[0].do``."""
    return extend_path("", parts)


def extend_path(base: str, parts: Iterable[PathPart]) -> str:
    """The text path ``base`` followed by ``parts``: ``extend_path("input", ["m"])`` is
    ``input.m``."""
    text = base
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def task_schema_path(tail: str = "") -> str:
    """The schema path of a task, or of one of its parts given as a schema-path ``tail``.

    ``task_schema_path("properties.next.items.properties.when")`` is where the schema of a
    transition's ``when`` sits.
    """
    return f"{TASK_SCHEMA_PATH}.{tail}" if tail else TASK_SCHEMA_PATH
