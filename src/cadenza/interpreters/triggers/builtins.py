"""The built-in conditions and actions, with Triggerflow's names and semantics.

Each condition is ``f(ctx, event) -> bool`` and each action ``f(ctx, event)``
(``ctx`` is a :class:`~cadenza.interpreters.triggers.context.TriggerContext`,
``event`` a CloudEvent as a JSON object); a user's own conditions and actions
have the same shape. A condition may change ``ctx.context`` (counters); the
change is kept whether or not the trigger fires.

Conditions:

``TRUE``
    always fires.
``JOIN`` / ``COUNTER_THRESHOLD``
    ``counter += 1``; fires when ``counter >= join`` (``threshold``). A
    negative or missing target means "not known yet": it does not fire.
``FUNCTION_JOIN``
    ``counter += 1``; fires when ``counter == total_activations`` (set by the
    upstream invoke action).
``DAG_TASK_JOIN``
    appends the event's data to ``result``, counts the event against
    ``dependencies[subject]``; fires when every dependency's ``counter``
    equals its ``join`` (``-1`` = not known yet, raised by the upstream invoke).
``ASL_CHOICE``
    one branch of a Choice state (see ``asl_choice``).
``ASL_JOIN``
    the end of a Parallel or a Map state (see ``asl_join``).

Actions:

``PASS``
    nothing.
``TERMINATE``
    ends the workspace as succeeded; its output is the context's ``result``,
    or the data of the event that fired it when there is none (Triggerflow
    only logs here: a DAG run needs an end).
``FAIL``
    ends the workspace as failed with the event as the error (an extension,
    used by compiled DAGs when a task fails).
``ASL_PASS``
    reports a step done at once (a Pass state): see ``asl_pass``.
``ASL_MAP``, ``ASL_JOIN_END``
    start a Map state's iterations, report a joined Parallel or Map done.
``EMIT``
    publishes the events listed in ``context.emit`` (``{subject, type,
    data}``) inside the workspace.
``INVOKE``
    runs the activity ``context.activity`` once, or once per item (of
    ``context.iter_data``, or of the incoming data when ``context.map`` is
    true), and raises each downstream join by the number of runs; each run's
    end is an ``event.triggerflow.termination.*`` event whose subject is
    ``context.subject`` (default: the trigger id).
``START_WORKFLOW``
    the same with executions of ``context.definition`` (any front end) as
    the tasks: the trigger fires when the child workflows end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from cadenza.interpreters.triggers.choice import matches, select
from cadenza.interpreters.triggers.model import SUCCESS_TYPE
from cadenza.model.events import JSON

if TYPE_CHECKING:
    from cadenza.interpreters.triggers.context import TriggerContext

Condition = Callable[["TriggerContext", Mapping[str, JSON]], bool]
Action = Callable[["TriggerContext", Mapping[str, JSON]], None]


def true(ctx: TriggerContext, event: Mapping[str, JSON]) -> bool:
    """``TRUE``: always fires."""
    return True


def _counted(context: dict[str, Any], target_key: str) -> bool:
    counter = int(context.get("counter", 0)) + 1
    context["counter"] = counter
    target = context.get(target_key)
    return isinstance(target, int) and target >= 0 and counter >= target


def join(ctx: TriggerContext, event: Mapping[str, JSON]) -> bool:
    """``JOIN``: fires when the events counted reach ``context.join``."""
    return _counted(ctx.context, "join")


def counter_threshold(ctx: TriggerContext, event: Mapping[str, JSON]) -> bool:
    """``COUNTER_THRESHOLD``: fires when the events counted reach ``context.threshold``."""
    return _counted(ctx.context, "threshold")


def function_join(ctx: TriggerContext, event: Mapping[str, JSON]) -> bool:
    """``FUNCTION_JOIN``: fires when the count equals ``context.total_activations``."""
    context = ctx.context
    counter = int(context.get("counter", 0)) + 1
    context["counter"] = counter
    return counter == context.get("total_activations")


def dag_task_join(ctx: TriggerContext, event: Mapping[str, JSON]) -> bool:
    """``DAG_TASK_JOIN``: collects results; fires when every dependency is complete."""
    context = ctx.context
    context.setdefault("result", []).append(event.get("data"))
    dependencies = context.setdefault("dependencies", {})
    subject = str(event.get("subject", ""))
    dependency = dependencies.setdefault(subject, {"counter": 0, "join": -1})
    dependency["counter"] += 1
    return all(d["join"] >= 0 and d["counter"] == d["join"] for d in dependencies.values())


def asl_choice(ctx: TriggerContext, event: Mapping[str, JSON]) -> bool:
    """``ASL_CHOICE``: branch ``context.branch`` of a Choice state is taken: its rule
    in ``context.choices`` holds for the event's data and no earlier rule does
    (branch -1, the ``Default``, when none does)."""
    choices, branch = ctx.context["choices"], int(ctx.context["branch"])
    data = event.get("data")
    for i, rule in enumerate(choices):
        if matches(rule, data):
            return i == branch
    return branch == -1


def asl_join(ctx: TriggerContext, event: Mapping[str, JSON]) -> bool:
    """``ASL_JOIN``: collects the outputs of a Parallel's branches (``mode``
    ``parallel``: ``branches`` maps each branch's end subjects to its index,
    ``count`` branches) or of a Map's iterations (``mode`` ``map``: the last
    index of the event's iteration; the count set by ``ASL_MAP``); fires when
    all have arrived, with the outputs in order in ``context.joined``.

    Runs of the same Parallel or Map in different iterations of an enclosing
    Map are kept apart by their iteration."""
    context = ctx.context
    iteration = ctx.iteration
    if context["mode"] == "map":
        parent, slot = iteration[:-1], iteration[-1]
        count = context.get(f"expected {parent}")
    else:
        parent, slot = iteration, context["branches"][str(event.get("subject"))]
        count = context["count"]
    key = str(parent)
    results = context.setdefault("results", {}).setdefault(key, {})
    results[str(slot)] = event.get("data")
    if not isinstance(count, int) or len(results) < count:
        return False
    del context["results"][key]
    context.pop(f"expected {parent}", None)
    context["joined"] = {"iteration": parent, "data": [results[str(i)] for i in range(count)]}
    return True


def asl_join_end(ctx: TriggerContext, event: Mapping[str, JSON]) -> None:
    """``ASL_JOIN_END``: reports a joined Parallel or Map done with its outputs."""
    joined = ctx.context.pop("joined")
    subject = str(ctx.context.get("subject") or ctx.trigger_id)
    ctx.emit(subject, SUCCESS_TYPE, joined["data"], iteration=joined["iteration"])


def asl_map(ctx: TriggerContext, event: Mapping[str, JSON]) -> None:
    """``ASL_MAP``: starts one iteration per item at ``context.items_path`` of the
    data (an event ``context.start`` per item) and tells the join
    (``context.join``) how many to expect; no items: done at once with ``[]``."""
    context = ctx.context
    items = select(str(context.get("items_path") or "$"), event.get("data"))
    subject = str(context.get("subject") or ctx.trigger_id)
    if not isinstance(items, list):
        ctx.fail(
            f"the items of {subject} ({context.get('items_path') or '$'}) are not a list",
            error_type="States.Runtime",
        )
        return
    if not items:
        ctx.emit(subject, SUCCESS_TYPE, [])
        return
    iteration = ctx.iteration
    ctx.update_context(str(context["join"]), {f"expected {iteration}": len(items)})
    for i, item in enumerate(items):
        ctx.emit(str(context["start"]), SUCCESS_TYPE, item, iteration=[*iteration, i])


def pass_(ctx: TriggerContext, event: Mapping[str, JSON]) -> None:
    """``PASS``: does nothing."""


def terminate(ctx: TriggerContext, event: Mapping[str, JSON]) -> None:
    """``TERMINATE``: ends the workspace with the context's ``result`` as output
    (or, without one, the data of the event that fired it)."""
    context = ctx.context
    ctx.terminate(context["result"] if "result" in context else event.get("data"))


def fail(ctx: TriggerContext, event: Mapping[str, JSON]) -> None:
    """``FAIL``: ends the workspace as failed, naming the event that caused it;
    ``context.error`` and ``context.cause``, when set, are the error's type and
    message."""
    context = ctx.context
    ctx.fail(
        str(context.get("cause") or f"{event.get('subject')} reported {event.get('type')}"),
        {"subject": event.get("subject"), "type": event.get("type"), "data": event.get("data")},
        error_type=str(context.get("error") or "triggers.failed"),
    )


def asl_pass(ctx: TriggerContext, event: Mapping[str, JSON]) -> None:
    """``ASL_PASS``: reports the step done at once: a termination success event
    with subject ``context.subject`` (default: the trigger id) whose data is
    ``context.result`` if set, else the data that arrived."""
    context = ctx.context
    data = context["result"] if "result" in context else event.get("data")
    ctx.emit(str(context.get("subject") or ctx.trigger_id), SUCCESS_TYPE, data)


def emit(ctx: TriggerContext, event: Mapping[str, JSON]) -> None:
    """``EMIT``: publishes ``context.emit`` (one ``{subject, type, data}`` or a list)."""
    planned = ctx.context.get("emit") or []
    for item in planned if isinstance(planned, list) else [planned]:
        ctx.emit(str(item["subject"]), str(item["type"]), item.get("data"))


def _items(ctx: TriggerContext, event: Mapping[str, JSON]) -> list[JSON] | None:
    """What to run once per item of, or None to run once."""
    context = ctx.context
    if "iter_data" in context:
        data = context["iter_data"]
        return list(data) if isinstance(data, list) else [data]
    if not context.get("map"):
        return None
    return incoming_items(context, event)


def incoming_items(context: Mapping[str, JSON], event: Mapping[str, JSON]) -> list[JSON]:
    """The data that arrived: a join's collected results (lists flattened), or
    the event's own data (a list is its items)."""
    collected = context.get("result") if "dependencies" in context else [event.get("data")]
    items: list[JSON] = []
    for value in collected or []:
        if isinstance(value, list):
            items.extend(value)
        else:
            items.append(value)
    return items


def _input(ctx: TriggerContext, event: Mapping[str, JSON]) -> JSON:
    """A run's input: ``context.input`` if set, else the data that arrived."""
    context = ctx.context
    if "input" in context:
        return context["input"]
    if "dependencies" in context:
        results = context.get("result") or []
        return results[0] if len(results) == 1 else results
    return event.get("data")


def invoke(ctx: TriggerContext, event: Mapping[str, JSON]) -> None:
    """``INVOKE``: runs ``context.activity`` once or per item (see the module docstring)."""
    context = ctx.context
    items = _items(ctx, event)
    ctx.invoke(
        str(context["activity"]),
        _input(ctx, event) if items is None else context.get("input"),
        items=items,
        queue=str(context.get("queue", "default")),
    )


def start_workflow(ctx: TriggerContext, event: Mapping[str, JSON]) -> None:
    """``START_WORKFLOW``: runs ``context.definition`` as child executions."""
    items = _items(ctx, event)
    run_input = _input(ctx, event) if items is None else ctx.context.get("input")
    ctx.start_workflow(str(ctx.context["definition"]), run_input, items=items)


CONDITIONS: Mapping[str, Condition] = {
    "TRUE": true,
    "JOIN": join,
    "COUNTER_THRESHOLD": counter_threshold,
    "FUNCTION_JOIN": function_join,
    "DAG_TASK_JOIN": dag_task_join,
    "ASL_CHOICE": asl_choice,
    "ASL_JOIN": asl_join,
}

ACTIONS: Mapping[str, Action] = {
    "PASS": pass_,
    "TERMINATE": terminate,
    "FAIL": fail,
    "EMIT": emit,
    "INVOKE": invoke,
    "START_WORKFLOW": start_workflow,
    "ASL_PASS": asl_pass,
    "ASL_MAP": asl_map,
    "ASL_JOIN_END": asl_join_end,
}

#: For each join condition: the context key an upstream invoke raises.
JOIN_TARGETS: Mapping[str, str] = {
    "JOIN": "join",
    "COUNTER_THRESHOLD": "threshold",
    "FUNCTION_JOIN": "total_activations",
}
