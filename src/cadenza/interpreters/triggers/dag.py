"""Compiling a DAG of tasks onto triggers, as Triggerflow's DAG runs do.

A DAG definition::

    dag:
      name: fan-out
      timeout: 600            # optional: fail the run if it has not ended by then
      start_on: {subject: numbers, type: numbers.ready}   # optional: an outside event
      tasks:
        split:  {action: demo.split}
        work:   {action: demo.work, after: [split], map: true}
        report: {workflow: report-flow, after: [work]}
    dedup: {keys: 100000, max_age: 86400}   # optional, as for a workspace

Each task becomes one transient trigger whose id and termination-event subject
are the task's name:

* a root task (no ``after``) fires on ``__init__`` (``TRUE``), with the run's
  input as its data, or, with ``start_on: {subject, type}``, on the first
  such event from the workspace's sources (its data as the input);
* another task fires on ``event.triggerflow.termination.success`` of each
  upstream task, with ``DAG_TASK_JOIN``; its dependency counts are raised by
  the upstream invoke action, so a fan-out's size need not be known before
  the run (``map: true`` runs the task once per item of the data that arrived);
* the action is ``INVOKE`` (``action:``, an activity) or ``START_WORKFLOW``
  (``workflow:``, a definition of any kind, run as a child execution);
* ``__end__`` joins the tasks nothing depends on (``TERMINATE``): the run's
  output is the list of their results;
* ``__failure__`` (persistent) fails the run when any task fails, and with a
  ``timeout``, ``__timeout__`` fails it when ``__end__`` has not fired in time
  (both are Cadenza's additions: Triggerflow leaves failures unhandled).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cadenza.interpreters.triggers.model import (
    FAILURE_TYPE,
    INIT_SUBJECT,
    INIT_TYPE,
    SUCCESS_TYPE,
    TIMEOUT_TYPE,
    Trigger,
    Workspace,
    read_dedup,
    read_sources,
)
from cadenza.model.errors import Problem

END = "__end__"
_TASK_KEYS = frozenset({"action", "workflow", "input", "after", "map", "queue"})
_DAG_KEYS = frozenset({"name", "description", "tasks", "timeout", "start_on"})


def read_dag(document: Mapping[str, Any]) -> tuple[Workspace, list[Problem]]:
    """The workspace a DAG document compiles to, and every problem found in it."""
    problems: list[Problem] = []
    for key in sorted(set(document) - {"dag", "sources", "global_context", "dedup"}):
        problems.append(
            Problem(key, "unknown key of a DAG (known: dag, dedup, global_context, sources)")
        )
    dag = document.get("dag")
    if not isinstance(dag, Mapping):
        problems.append(Problem("dag", "dag must be a mapping with name and tasks"))
        return Workspace("", ()), problems
    for key in sorted(set(dag) - _DAG_KEYS):
        problems.append(
            Problem(f"dag.{key}", f"unknown key (known: {', '.join(sorted(_DAG_KEYS))})")
        )
    name = dag.get("name", "dag")
    if not isinstance(name, str) or not name:
        problems.append(Problem("dag.name", "the name must be text"))
        name = "dag"
    timeout = dag.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        problems.append(Problem("dag.timeout", "the timeout must be a positive number"))
        timeout = None
    tasks = dag.get("tasks")
    if not isinstance(tasks, Mapping) or not tasks:
        problems.append(Problem("dag.tasks", "a DAG needs a mapping of tasks"))
        return Workspace(name, ()), problems
    start = (INIT_SUBJECT, INIT_TYPE)
    start_on = dag.get("start_on")
    if start_on is not None:
        if (
            not isinstance(start_on, Mapping)
            or not isinstance(start_on.get("subject"), str)
            or not isinstance(start_on.get("type"), str)
        ):
            problems.append(Problem("dag.start_on", "start_on is {subject, type} of an event"))
        else:
            start = (start_on["subject"], start_on["type"])
    upstream = _read_tasks(tasks, problems)
    if not problems:
        _check_acyclic(upstream, problems)
    sources = read_sources(document.get("sources", []), "sources", problems)
    dedup = read_dedup(document.get("dedup", {}), "dedup", problems)
    if problems:
        return Workspace(name, ()), problems
    triggers = [_task_trigger(task, tasks[task], upstream[task], start) for task in tasks]
    has_downstream = {up for ups in upstream.values() for up in ups}
    finals = [task for task in tasks if task not in has_downstream]
    triggers.append(
        Trigger(
            id=END,
            activation=tuple((task, SUCCESS_TYPE) for task in finals),
            condition="DAG_TASK_JOIN",
            action="TERMINATE",
            context={"dependencies": {task: {"counter": 0, "join": -1} for task in finals}},
            timeout=None if timeout is None else float(timeout),
        )
    )
    triggers.append(
        Trigger(
            id="__failure__",
            activation=tuple((task, FAILURE_TYPE) for task in tasks),
            condition="TRUE",
            action="FAIL",
            transient=False,
        )
    )
    if timeout is not None:
        triggers.append(Trigger(id="__timeout__", activation=((END, TIMEOUT_TYPE),), action="FAIL"))
    description = str(dag.get("description", ""))
    global_context = document.get("global_context") or {}
    workspace = Workspace(name, tuple(triggers), global_context, sources, description, dedup)
    return workspace, problems


def _read_tasks(tasks: Mapping[str, Any], problems: list[Problem]) -> dict[str, list[str]]:
    upstream: dict[str, list[str]] = {}
    for task, spec in tasks.items():
        path = f"dag.tasks.{task}"
        if task.startswith("__"):
            problems.append(Problem(path, "task names starting with __ are reserved"))
        if not isinstance(spec, Mapping):
            problems.append(Problem(path, "a task is a mapping with action or workflow"))
            continue
        for key in sorted(set(spec) - _TASK_KEYS):
            problems.append(
                Problem(f"{path}.{key}", f"unknown key (known: {', '.join(sorted(_TASK_KEYS))})")
            )
        if ("action" in spec) == ("workflow" in spec):
            problems.append(
                Problem(path, "a task has exactly one of action (an activity) or workflow")
            )
        for key in ("action", "workflow", "queue"):
            if key in spec and (not isinstance(spec[key], str) or not spec[key]):
                problems.append(Problem(f"{path}.{key}", f"{key} must be a name"))
        if "map" in spec and not isinstance(spec["map"], bool):
            problems.append(Problem(f"{path}.map", "map must be true or false"))
        after = spec.get("after", [])
        if isinstance(after, str):
            after = [after]
        if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
            problems.append(Problem(f"{path}.after", "after must list task names"))
            after = []
        for name in after:
            if name not in tasks:
                problems.append(Problem(f"{path}.after", f"no task is named {name!r}"))
        upstream[task] = [a for a in after if a in tasks]
    return upstream


def _check_acyclic(upstream: dict[str, list[str]], problems: list[Problem]) -> None:
    done: set[str] = set()
    for start in upstream:
        path: list[str] = []
        stack = [(start, iter(upstream[start]))]
        on_path = {start}
        path.append(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif child in on_path:
                cycle = " -> ".join([*path[path.index(child) :], child])
                problems.append(Problem(f"dag.tasks.{child}.after", f"a cycle: {cycle}"))
                return
            elif child not in done:
                stack.append((child, iter(upstream[child])))
                on_path.add(child)
                path.append(child)


def _task_trigger(
    task: str, spec: Mapping[str, Any], upstream: list[str], start: tuple[str, str]
) -> Trigger:
    context: dict[str, Any] = {"subject": task}
    if "action" in spec:
        action, context["activity"] = "INVOKE", spec["action"]
    else:
        action, context["definition"] = "START_WORKFLOW", spec["workflow"]
    for key in ("input", "map", "queue"):
        if key in spec:
            context[key] = spec[key]
    if not upstream:
        return Trigger(task, (start,), "TRUE", action, context)
    context["dependencies"] = {up: {"counter": 0, "join": -1} for up in upstream}
    activation = tuple((up, SUCCESS_TYPE) for up in upstream)
    return Trigger(task, activation, "DAG_TASK_JOIN", action, context)
