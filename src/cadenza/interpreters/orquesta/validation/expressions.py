"""The expression check: every expression in the definition must parse.

Expressions may appear in workflow ``input`` defaults, ``vars`` and ``output``, and in a
task's ``delay``, ``with``, ``action`` (inline parameters included), ``input``, ``retry``
and transitions (``when``, ``publish``; ``do`` is parsed too, though none belongs there),
in mapping keys as well as values (spec §10).
Each string uses one language: YAQL (``<% %>``) or Jinja (``{{ }}``, ``{% %}``).

Problems are filed at the property that holds the expression, as orquesta files them
(``vars`` for any entry of ``vars``; ``tasks.t1.input`` for inline parameters too); the
line points at the exact entry.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cadenza.expressions.syntax import MULTIPLE_TYPES_MESSAGE, syntax_errors
from cadenza.interpreters.orquesta.validation.model import OrquestaDefinition, Task
from cadenza.interpreters.orquesta.validation.paths import (
    Path,
    PathPart,
    extend_path,
    format_path,
    task_schema_path,
)
from cadenza.model.errors import Problem

_LANGUAGE_NAMES = {"yaql": "YAQL", "jinja": "Jinja"}


@dataclass(frozen=True)
class Site:
    """A value that may hold expressions, and where to report problems about it."""

    spec_path: str
    schema_path: str
    value: Any
    #: The most precise spec path of the value, for its line number.
    line_path: str


def iter_strings(value: Any, at: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every string in ``value`` with its path below ``value``: the value itself, or the
    keys and values of nested collections (a key is located at its own entry)."""
    if isinstance(value, str):
        yield at, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_strings(key, (*at, str(key)))
            yield from iter_strings(item, (*at, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from iter_strings(item, (*at, index))


def expression_sites(definition: OrquestaDefinition) -> Iterator[Site]:
    """Every place of ``definition`` where expressions are evaluated, task by task."""
    for key in ("input", "vars", "output"):
        raw = definition.document.get(key)
        if isinstance(raw, list):
            for index, item in enumerate(raw):
                yield Site(key, f"properties.{key}", item, format_path((key, index)))
    for name, task in definition.tasks.items():
        yield from _task_sites(name, task)


def _task_sites(name: str, task: Task) -> Iterator[Site]:
    def site(value: Any, tail: str, *parts: PathPart, line: tuple[PathPart, ...] = ()) -> Site:
        spec_path = format_path(("tasks", name, *parts))
        line_path = format_path(("tasks", name, *line)) if line else spec_path
        return Site(spec_path, task_schema_path(tail), value, line_path)

    if task.delay is not None:
        yield site(task.delay, "properties.delay", "delay")
    if task.with_items is not None:
        yield site(task.with_items.items, "properties.with.properties.items", "with", "items")
        concurrency = task.with_items.concurrency
        if concurrency is not None:
            yield site(concurrency, "properties.with.properties.concurrency", "with", "concurrency")
    if task.action is not None:
        yield site(task.action, "properties.action", "action")
    if task.inline_input is not None:
        yield site(task.inline_input, "properties.input", "input", line=("action",))
    if task.input_block is not None:
        yield site(task.input_block, "properties.input", "input")
    if task.retry is not None:
        for key in ("when", "count", "delay"):
            value = getattr(task.retry, key)
            if value is not None:
                yield site(value, f"properties.retry.properties.{key}", "retry", key)
    for transition in task.next:
        i = transition.index
        tail = "properties.next.items.properties"
        if transition.when is not None:
            yield site(transition.when, f"{tail}.when", "next", i, "when")
        for j, (key, value) in enumerate(transition.publish):
            yield site(
                {key: value},
                f"{tail}.publish",
                "next",
                i,
                "publish",
                line=("next", i, "publish", j),
            )
        # Orquesta parses `do` too: an expression there is an error twice over (it is
        # also no task name), and the parse error says more about what went wrong.
        yield site(list(transition.do), f"{tail}.do", "next", i, "do")


def expression_problems(definition: OrquestaDefinition) -> list[Problem]:
    """One problem per expression that does not parse, and per string mixing languages."""
    problems: list[Problem] = []
    for site in expression_sites(definition):
        for below, text in iter_strings(site.value):
            line = definition.line_of(extend_path(site.line_path, below))
            for error in syntax_errors(text):
                if error.message == MULTIPLE_TYPES_MESSAGE:
                    message = (
                        f"{MULTIPLE_TYPES_MESSAGE} A string may use YAQL (<% %>) or Jinja "
                        f"({{{{ }}}}), not both: {error.expression!r}."
                    )
                else:
                    language = _LANGUAGE_NAMES.get(error.language or "", "")
                    message = (
                        f"The {language} expression {error.expression!r} does not parse: "
                        f"{error.message}"
                    )
                problems.append(
                    Problem(
                        site.spec_path,
                        message,
                        category="expressions",
                        schema_path=site.schema_path,
                        line=line,
                        expression=error.expression,
                    )
                )
    return problems
