"""The typed form of an Orquesta definition: workflow, tasks, transitions.

:func:`build_definition` reads a loaded mapping into these records. It is tolerant: a
part that has the wrong shape is left out (``None`` or empty) rather than refused,
because the syntax check reports it and the other checks must still see the rest.
A definition returned by :func:`~cadenza.interpreters.orquesta.validation.load_definition`
has passed every check, so there nothing is left out.

Inline parameters are resolved here: ``action: core.echo message=hi`` becomes the action
ref ``core.echo`` with the inline input ``{"message": "hi"}``, and a ``publish`` string
becomes its list of pairs (spec §3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cadenza.interpreters.orquesta.validation.parameters import (
    parse_inline_parameters,
    split_action,
)

#: Names that `do` understands as engine commands; no task may have one of them (spec §6).
ENGINE_COMMANDS = frozenset({"continue", "fail", "noop", "retry"})

#: The condition of a ``do: retry`` transition that has no ``when``.
_ON_COMPLETION = "<% completed() %>"


@dataclass(frozen=True)
class Transition:
    """One item of a task's ``next`` list."""

    #: Position in ``next``: transition ids and spec paths (``next[0]``) use it.
    index: int
    #: The condition, an expression; ``None`` means "on any completion".
    when: str | None
    #: ``(name, value)`` pairs in order; a string ``publish`` is parsed inline (spec §3).
    publish: tuple[tuple[str, Any], ...]
    #: Target task names and engine commands, in written order; ``("continue",)`` when
    #: ``do`` is absent.
    do: tuple[str, ...]


@dataclass(frozen=True)
class WithItems:
    """A task's ``with``: run the action once per item."""

    #: The text as written: ``<% ctx(xs) %>`` or ``x, y in <% zip(...) %>``.
    items: str
    #: The names before `` in `` (empty when the items are used as they are).
    names: tuple[str, ...]
    #: The expression that yields the list.
    expression: str
    #: A literal limit, an expression, or ``None`` for no limit.
    concurrency: int | str | None


@dataclass(frozen=True)
class Retry:
    """A task's ``retry`` policy (spec §11); count and delay may be expressions."""

    count: int | str
    when: str | None
    delay: int | str | None


@dataclass(frozen=True)
class Task:
    """One entry of ``tasks``."""

    name: str
    #: The action ref without inline parameters; ``None`` for an action-less task. When
    #: the text has no inline parameter, this is the whole action text, as in orquesta.
    action: str | None
    #: The action text as written, inline parameters included.
    action_text: str | None
    #: Parameters written inline after the action ref; ``None`` if there are none. They
    #: replace the ``input`` block, as in orquesta's TaskSpec.
    inline_input: Mapping[str, Any] | None
    #: The ``input`` block as written: a mapping, or a string expression yielding one;
    #: ``None`` when inline parameters replace it.
    input_block: Mapping[str, Any] | str | None
    #: ``"all"``, a count, or ``None`` when the task is not a join.
    join: str | int | None
    with_items: WithItems | None
    retry: Retry | None
    #: Seconds (or an expression) to wait before running the action.
    delay: int | str | None
    next: tuple[Transition, ...]

    @property
    def input(self) -> Mapping[str, Any] | str | None:
        """The input to render: the ``input`` block if given, else the inline parameters."""
        return self.input_block if self.input_block is not None else self.inline_input

    @property
    def is_join(self) -> bool:
        """Whether the task waits for its inbound branches (``join`` is set)."""
        return self.join is not None

    # Cached: asked for each new task entry, and worked out from frozen fields only.
    @cached_property
    def retry_policy(self) -> Retry | None:
        """The retry the conductor applies: the ``retry`` block, unless a transition says
        ``do: retry`` -- that is three tries while its condition holds, and the last such
        transition wins, as in Orquesta's composer."""
        policy = self.retry
        for transition in self.next:
            if "retry" in transition.do:
                policy = Retry(count=3, when=transition.when or _ON_COMPLETION, delay=None)
        return policy


@dataclass(frozen=True)
class OrquestaDefinition:
    """A loaded Orquesta workflow definition.

    ``document`` is the mapping as loaded, with shorthands expanded (``with: <expr>`` is
    ``with: {items: <expr>}``); the typed fields are read from it. ``lines`` maps spec
    paths (``tasks.t1.next[0].do``) to 1-based line numbers in ``source``.
    """

    source: str
    origin: str | None
    document: Mapping[str, Any]
    lines: Mapping[str, int]
    version: str | None
    description: str | None
    #: ``(name, default)`` in order; a bare name has the default ``None``.
    input: tuple[tuple[str, Any], ...]
    vars: tuple[tuple[str, Any], ...]
    output: tuple[tuple[str, Any], ...]
    tasks: Mapping[str, Task] = field(default_factory=dict)

    def line_of(self, spec_path: str) -> int | None:
        """The line of ``spec_path``, or of the nearest enclosing node that has one."""
        path = spec_path
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return self.lines.get("")


def build_definition(
    document: Mapping[str, Any],
    *,
    source: str,
    origin: str | None = None,
    lines: Mapping[str, int] | None = None,
) -> OrquestaDefinition:
    """Read a loaded (and shorthand-expanded) mapping into an :class:`OrquestaDefinition`.

    Parts with the wrong shape are left out; this never raises on bad input.
    """
    raw_tasks = document.get("tasks")
    tasks: dict[str, Task] = {}
    if isinstance(raw_tasks, Mapping):
        for name, raw in raw_tasks.items():
            if isinstance(name, str) and isinstance(raw, Mapping):
                tasks[name] = _task(name, raw)
    version = document.get("version")
    description = document.get("description")
    return OrquestaDefinition(
        source=source,
        origin=origin,
        document=document,
        lines=dict(lines or {}),
        version=str(version) if version is not None else None,
        description=description if isinstance(description, str) else None,
        input=_named_entries(document.get("input"), bare_names=True),
        vars=_named_entries(document.get("vars")),
        output=_named_entries(document.get("output")),
        tasks=tasks,
    )


def _named_entries(value: Any, *, bare_names: bool = False) -> tuple[tuple[str, Any], ...]:
    """``[{a: 1}, b]`` as ``(("a", 1), ("b", None))``; malformed entries are skipped."""
    if not isinstance(value, list):
        return ()
    entries: list[tuple[str, Any]] = []
    for item in value:
        if isinstance(item, Mapping) and len(item) == 1:
            ((name, default),) = item.items()
            entries.append((str(name), default))
        elif bare_names and isinstance(item, str):
            entries.append((item, None))
    return tuple(entries)


def _task(name: str, raw: Mapping[str, Any]) -> Task:
    action_text = _nonempty_string(raw.get("action"))
    raw_input = raw.get("input")
    input_block: Mapping[str, Any] | str | None = None
    if isinstance(raw_input, Mapping) and raw_input:
        input_block = dict(raw_input)
    elif isinstance(raw_input, str) and raw_input:
        input_block = raw_input
    action, inline_input = action_text, None
    # As orquesta's TaskSpec: when the action text has inline parameters, its first word
    # is the action and the parameters replace any `input` block (which is then neither
    # rendered nor inspected); without them the text stays whole, spaces included
    # (recorded: own-input-inline-and-block, where a bare word is no parameter).
    if action_text is not None:
        action, inline_input = split_action(action_text)
        if inline_input is not None:
            input_block = None
    raw_next = raw.get("next")
    transitions = (
        tuple(
            _transition(index, item)
            for index, item in enumerate(raw_next)
            if isinstance(item, Mapping)
        )
        if isinstance(raw_next, list)
        else ()
    )
    return Task(
        name=name,
        action=action,
        action_text=action_text,
        inline_input=inline_input,
        input_block=input_block,
        join=_join(raw.get("join")),
        with_items=_with_items(raw.get("with")),
        retry=_retry(raw.get("retry")),
        delay=_count_or_expression(raw.get("delay")),
        next=transitions,
    )


def _transition(index: int, raw: Mapping[str, Any]) -> Transition:
    raw_publish = raw.get("publish")
    publish: tuple[tuple[str, Any], ...] = ()
    if isinstance(raw_publish, str):
        publish = tuple(parse_inline_parameters(raw_publish))
    elif isinstance(raw_publish, list):
        publish = _named_entries(raw_publish)
    raw_do = raw.get("do")
    do: tuple[str, ...] = ()
    if isinstance(raw_do, str):
        do = tuple(name.strip() for name in raw_do.split(","))
    elif isinstance(raw_do, list):
        do = tuple(name for name in raw_do if isinstance(name, str))
    return Transition(
        index=index,
        when=_nonempty_string(raw.get("when")),
        publish=publish,
        do=do or ("continue",),
    )


def _with_items(raw: Any) -> WithItems | None:
    if isinstance(raw, str):
        raw = {"items": raw}
    if not isinstance(raw, Mapping):
        return None
    items = raw.get("items")
    if not isinstance(items, str):
        return None
    names: tuple[str, ...] = ()
    expression = items.strip()
    if " in " in items:
        head, _, tail = items.partition(" in ")
        names = tuple(name.strip() for name in head.split(",") if name.strip())
        expression = tail.strip()
    return WithItems(
        items=items,
        names=names,
        expression=expression,
        concurrency=_count_or_expression(raw.get("concurrency")),
    )


def _retry(raw: Any) -> Retry | None:
    if not isinstance(raw, Mapping):
        return None
    count = _count_or_expression(raw.get("count"))
    if count is None:
        return None
    return Retry(
        count=count,
        when=_nonempty_string(raw.get("when")),
        delay=_count_or_expression(raw.get("delay")),
    )


def _join(raw: Any) -> str | int | None:
    if raw == "all":
        return "all"
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    return None


def _count_or_expression(raw: Any) -> int | str | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | str):
        return raw
    return None


def _nonempty_string(raw: Any) -> str | None:
    return raw if isinstance(raw, str) and raw else None
