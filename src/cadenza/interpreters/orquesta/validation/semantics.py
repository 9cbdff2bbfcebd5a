"""Semantic checks: what the schema cannot see, about task names and the task graph.

Spec §14, with orquesta's messages:

* a task named like an engine command (``continue``, ``fail``, ``noop``, ``retry``);
* no start task (every task is the target of some transition);
* a transition, from a task that can run, to a name that is neither a task nor an engine
  command;
* a join that cannot be reached at one well-defined branch level (below);
* a with-items task without an action.

**Unreachable joins.** A split task (a non-join task that is not in a cycle and that more
than one edge points to) starts one branch per arrival, and every task after it runs once
per branch. A join closes the branches that reach it, so all of its inbound tasks must sit
inside the *same* nest of branches. We give each task that can run the set of split tasks
found on any path from a start task to it (its own name included if it is a split). A join
is unreachable when its inbound tasks do not all have the same set: one inbound path went
through a split that another did not, so there is no single level at which the join could
happen, and at run time it would wait forever. Typical causes are a second start task that
feeds a join behind a split, or a join that gathers branches from two nested splits.
"""

from __future__ import annotations

import difflib

from cadenza.interpreters.orquesta.validation.graph import TaskGraph
from cadenza.interpreters.orquesta.validation.model import ENGINE_COMMANDS, OrquestaDefinition
from cadenza.interpreters.orquesta.validation.paths import format_path, task_schema_path
from cadenza.model.errors import Problem

NO_START_TASK_MESSAGE = (
    "Unable to identify any tasks to start the workflow. If the workflow has a loop, please "
    "add a task that serves as an entry point (or lead) into the loop."
)
UNREACHABLE_JOIN_MESSAGE = (
    'The join task "{name}" is unreachable. A join task is determined to be unreachable if '
    "there are nested forks from multi-referenced tasks that join on the said task. This is "
    "ambiguous to the workflow engine because it does not know at which level should the "
    "join occurs."
)
ACTIONLESS_WITH_ITEMS_MESSAGE = "The action property is required for with items task."


def semantic_problems(definition: OrquestaDefinition, graph: TaskGraph) -> list[Problem]:
    """Every semantic problem of ``definition``, in no particular order."""
    problems = _reserved_names(definition)
    problems += _missing_start(definition, graph)
    problems += _undefined_targets(definition, graph)
    problems += _unreachable_joins(graph)
    problems += _actionless_with_items(definition)
    return problems


def _problem(spec_path: str, message: str, schema_path: str) -> Problem:
    return Problem(spec_path, message, category="semantics", schema_path=schema_path)


def _reserved_names(definition: OrquestaDefinition) -> list[Problem]:
    return [
        _problem(
            format_path(("tasks", name)),
            f'The task name "{name}" is reserved with special function.',
            task_schema_path(),
        )
        for name in definition.tasks
        if name in ENGINE_COMMANDS
    ]


def _missing_start(definition: OrquestaDefinition, graph: TaskGraph) -> list[Problem]:
    if not definition.tasks or graph.start_tasks:
        return []
    return [_problem("tasks", NO_START_TASK_MESSAGE, "properties.tasks")]


def _undefined_targets(definition: OrquestaDefinition, graph: TaskGraph) -> list[Problem]:
    # Only tasks that can run: orquesta does not look at the transitions of unreachable
    # tasks, and they never run.
    problems: list[Problem] = []
    known = sorted(definition.tasks)
    for name in sorted(graph.reachable):
        for transition in definition.tasks[name].next:
            for target in dict.fromkeys(transition.do):
                if target in definition.tasks or target in ENGINE_COMMANDS:
                    continue
                message = f'The task "{target}" is not defined.'
                close = difflib.get_close_matches(target, known, n=1)
                if close:
                    message += f' Did you mean "{close[0]}"?'
                problems.append(
                    _problem(
                        format_path(("tasks", name, "next", transition.index, "do")),
                        message,
                        task_schema_path("properties.next.items.properties.do"),
                    )
                )
    return problems


def _unreachable_joins(graph: TaskGraph) -> list[Problem]:
    splits = _splits_on_the_way(graph)
    problems: list[Problem] = []
    for name in sorted(graph.reachable):
        if not graph.tasks[name].is_join:
            continue
        inbound = {e.source for e in graph.inbound(name) if e.source in graph.reachable}
        levels = {splits[source] for source in inbound}
        if len(levels) > 1:
            problems.append(
                _problem(
                    format_path(("tasks", name)),
                    UNREACHABLE_JOIN_MESSAGE.format(name=name),
                    task_schema_path(),
                )
            )
    return problems


def _splits_on_the_way(graph: TaskGraph) -> dict[str, frozenset[str]]:
    """For each task that can run, the split tasks on some path from a start task to it."""
    own = {
        name: frozenset({name}) if graph.is_split(name) else frozenset() for name in graph.reachable
    }
    splits = dict(own)
    # A worklist over every task that can run: each is propagated at least once, and again
    # whenever its set grows. Sets only grow and are bounded by the split tasks, so it ends.
    pending = sorted(graph.reachable)
    while pending:
        name = pending.pop()
        for successor in graph.successors(name):
            grown = splits[successor] | splits[name]
            if grown != splits[successor]:
                splits[successor] = grown
                pending.append(successor)
    return splits


def _actionless_with_items(definition: OrquestaDefinition) -> list[Problem]:
    return [
        _problem(format_path(("tasks", name)), ACTIONLESS_WITH_ITEMS_MESSAGE, task_schema_path())
        for name, task in definition.tasks.items()
        if task.with_items is not None and task.action is None
    ]
