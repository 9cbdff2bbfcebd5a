"""The context check: every ``ctx()`` variable is assigned before it is used.

Spec §9 and §14. A variable is assigned by the parent context (the names the engine
passes in), by ``input`` and ``vars`` (each entry sees the entries before it), and by the
``publish`` of the transitions taken on the way to a task. The check is a must-assign
data-flow analysis over the task graph:

* a start task sees the workflow's names;
* a task that is not a join sees only the names assigned on **every** inbound edge; an
  edge carries what its source task saw plus what that transition publishes;
* a join sees the names of **all** its inbound edges together, because the join merges
  the contexts of the branches that arrive (spec §8, §9.3);
* within a transition, ``publish`` entries are assigned in order and see the earlier ones;
* ``output`` may use anything published anywhere, plus the earlier ``output`` names.

Loops need no special case: the analysis starts from "everything is assigned" and only
removes names until nothing changes, so a name published inside a loop body is not seen
at the loop's entry unless it was assigned before the loop. Tasks that cannot run are
not checked. References are found in the text (``ctx(x)``, ``ctx('x')``, ``ctx("x")``,
``ctx().x``); a name computed at run time cannot be checked. Names starting with ``__``
are private and may never be referenced.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from cadenza.expressions.syntax import find_expressions, variable_references
from cadenza.interpreters.orquesta.validation.expressions import Site, iter_strings
from cadenza.interpreters.orquesta.validation.graph import TaskGraph
from cadenza.interpreters.orquesta.validation.model import OrquestaDefinition, Task
from cadenza.interpreters.orquesta.validation.paths import (
    extend_path,
    format_path,
    task_schema_path,
)
from cadenza.model.errors import Problem


@dataclass
class _Checker:
    definition: OrquestaDefinition
    problems: list[Problem]

    def check(self, site: Site, names: Iterable[str]) -> None:
        """Report every variable of ``site`` that is private or not in ``names``."""
        assigned = set(names)
        for below, text in iter_strings(site.value):
            line = self.definition.line_of(extend_path(site.line_path, below))
            for expression in find_expressions(text):
                if expression.block:
                    continue
                for reference in variable_references(expression.text):
                    name = reference.name
                    messages = []
                    if name.startswith("__"):
                        messages.append(
                            f'Variable "{name}" that is prefixed with double underscores is '
                            "considered a private variable and cannot be referenced."
                        )
                    if name not in assigned:
                        messages.append(f'Variable "{name}" is referenced before assignment.')
                    for message in messages:
                        self.problems.append(
                            Problem(
                                site.spec_path,
                                message,
                                category="context",
                                schema_path=site.schema_path,
                                line=line,
                                expression=expression.text,
                            )
                        )


def context_problems(
    definition: OrquestaDefinition, graph: TaskGraph, context_names: Iterable[str] = ()
) -> list[Problem]:
    """Every reference to a variable that may not be assigned when it is evaluated.

    ``context_names`` are the keys of the parent context the engine will pass in.
    """
    checker = _Checker(definition, [])
    names = set(context_names)
    names = _check_entries(checker, "input", definition.input, names)
    names = _check_entries(checker, "vars", definition.vars, names)

    everything = names | _all_published(definition)
    seen = _task_contexts(definition, graph, names, everything)
    for name in sorted(seen):
        _check_task(checker, definition.tasks[name], seen[name])
    # Output is rendered once the workflow is done, over the merged terminal contexts; it
    # may use what any task published (spec §9.5).
    _check_entries(checker, "output", definition.output, everything)
    return checker.problems


def _all_published(definition: OrquestaDefinition) -> set[str]:
    return {
        key
        for task in definition.tasks.values()
        for transition in task.next
        for key, _ in transition.publish
    }


def _check_entries(
    checker: _Checker, key: str, entries: Iterable[tuple[str, object]], names: set[str]
) -> set[str]:
    """Check ``input``/``vars``/``output`` entries in order; each sees the earlier ones."""
    rolling = set(names)
    for index, (name, value) in enumerate(entries):
        path = format_path((key, index))
        checker.check(Site(path, f"properties.{key}", value, path), rolling)
        rolling.add(name)
    return rolling


def _task_contexts(
    definition: OrquestaDefinition, graph: TaskGraph, start: set[str], everything: set[str]
) -> dict[str, frozenset[str]]:
    """The names each task that can run is sure to see (greatest fixed point)."""
    reachable = graph.reachable
    seen: dict[str, frozenset[str]] = {name: frozenset(everything) for name in reachable}
    for name in graph.start_tasks:
        seen[name] = frozenset(start)
    changed = True
    while changed:
        changed = False
        for name in sorted(reachable):
            if name in graph.start_tasks:
                continue
            task = definition.tasks[name]
            arriving = [
                seen[e.source] | _published_by(definition.tasks[e.source], e.ref)
                for e in graph.inbound(name)
                if e.source in reachable
            ]
            if not arriving:
                continue
            combined = (
                frozenset().union(*arriving) if task.is_join else frozenset.intersection(*arriving)
            )
            if combined != seen[name]:
                seen[name] = combined
                changed = True
    return seen


def _published_by(task: Task, ref: int) -> frozenset[str]:
    for transition in task.next:
        if transition.index == ref:
            return frozenset(key for key, _ in transition.publish)
    return frozenset()


def _check_task(checker: _Checker, task: Task, names: frozenset[str]) -> None:
    """Check one task's expressions against ``names``, the names it is sure to see."""

    def site(value: object, tail: str, *parts: str | int) -> Site:
        path = format_path(("tasks", task.name, *parts))
        return Site(path, task_schema_path(tail), value, path)

    if task.delay is not None:
        checker.check(site(task.delay, "properties.delay", "delay"), names)
    if task.with_items is not None:
        items = task.with_items
        checker.check(site(items.items, "properties.with.properties.items", "with", "items"), names)
        if items.concurrency is not None:
            checker.check(
                site(
                    items.concurrency,
                    "properties.with.properties.concurrency",
                    "with",
                    "concurrency",
                ),
                names,
            )
    if task.action is not None:
        checker.check(site(task.action, "properties.action", "action"), names)
    if task.inline_input is not None:
        inline = site(task.inline_input, "properties.input", "input")
        # Inline parameters are written on the action's line.
        action_path = format_path(("tasks", task.name, "action"))
        checker.check(replace(inline, line_path=action_path), names)
    if task.input_block is not None:
        checker.check(site(task.input_block, "properties.input", "input"), names)
    if task.retry is not None:
        for key in ("when", "count", "delay"):
            value = getattr(task.retry, key)
            if value is not None:
                checker.check(
                    site(value, f"properties.retry.properties.{key}", "retry", key), names
                )

    tail = "properties.next.items.properties"
    for transition in task.next:
        i = transition.index
        if transition.when is not None:
            checker.check(site(transition.when, f"{tail}.when", "next", i, "when"), names)
        rolling = set(names)
        for j, (key, value) in enumerate(transition.publish):
            checker.check(site(value, f"{tail}.publish", "next", i, "publish", j), rolling)
            rolling.add(key)
