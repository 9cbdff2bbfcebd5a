"""How a task's action outcome moves the execution: status, retry, transitions, publish.

``update_task`` is the conductor's fold of one action event (spec §7 step 3, §11, §8, §9).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cadenza.expressions import CurrentTask, ExpressionFailure, evaluate
from cadenza.interpreters.orquesta import contexts
from cadenza.interpreters.orquesta import state as st
from cadenza.interpreters.orquesta.conductor import (
    EXECUTION_FAILED,
    ITEM_OUTCOME_EVENTS,
    SATISFIED,
    ActionEvent,
    Conductor,
    Crash,
)
from cadenza.interpreters.orquesta.inquiry import ANSWERED_FAILURE
from cadenza.interpreters.orquesta.machines import (
    ABENDED,
    ACTIVE,
    COMPLETED,
    STARTING,
    TASK_MACHINE,
)
from cadenza.interpreters.orquesta.rendering import render_rolling
from cadenza.interpreters.orquesta.validation import ENGINE_COMMANDS, Edge, Retry


def add_entry(
    c: Conductor, name: str, route: int, ctxs: int, prev: dict[str, int]
) -> dict[str, Any]:
    """A new occurrence of ``name`` on ``route``, its context list being chain node ``ctxs``."""
    entry: dict[str, Any] = {
        "id": name,
        "route": route,
        "ctxs": {"in": ctxs},
        "prev": dict(prev),
        "next": {},
    }
    task = c.tasks.get(name)
    retry = task.retry_policy if task is not None else None
    if retry is not None:
        entry["retry"] = _setup_retry(c, name, retry, entry["ctxs"]["in"])
    st.add_latest(c.state, entry)
    return entry


def _setup_retry(c: Conductor, name: str, spec: Retry, ctxs: int) -> dict[str, Any]:
    # The state holds the policy as JSON, with count and delay rendered once, here.
    retry: dict[str, Any] = {"when": spec.when, "count": spec.count, "delay": spec.delay}
    retry["tally"] = 0
    scope = c.scope(st.context_of(c.state, ctxs))
    for field, label in (("delay", "delay"), ("count", "count")):
        if isinstance(retry.get(field), str):
            try:
                value = evaluate(retry[field], scope)
            except ExpressionFailure as exc:
                raise Crash(exc.kind, exc.text) from exc
            if not isinstance(value, int) or isinstance(value, bool):
                raise Crash("ValueError", f'The retry {label} for task "{name}" is not an integer.')
            retry[field] = value
    return retry


def _task_event_key(c: Conductor, name: str, route: int, event: ActionEvent) -> str:
    if event.command is not None:
        return f"cmd:{event.command}"
    if event.item_id is None or event.status not in ITEM_OUTCOME_EVENTS:
        return event.status
    staged = st.get_staged(c.state, name, route)
    items = list(staged["items"]) if staged else []
    del items[event.item_id]
    others = [i.get("status", "null") for i in items]
    if any(s in ACTIVE for s in others):
        return f"{event.status}/active"
    if any(s in ("pending", "paused") for s in others):
        outlook = "paused"
    elif "canceled" in others:
        outlook = "canceled"
    elif any(s in ABENDED for s in others):
        outlook = "failed"
    elif any(s not in COMPLETED for s in others):
        outlook = "incomplete"
    else:
        outlook = "completed"
    return f"{event.status}/dormant/{outlook}"


def update_task(c: Conductor, name: str, route: int, event: ActionEvent) -> None:
    """Fold one action (or engine command) event of task ``name`` on ``route``."""
    state = c.state
    staged = st.get_staged(state, name, route)
    found = st.entry_index(state, name, route)
    entry = None if found is None else state["sequence"][found]
    if staged is None and entry is None:
        return
    if entry is None or name in ENGINE_COMMANDS:
        assert staged is not None
        entry = add_entry(c, name, staged["route"], staged["ctxs"]["in"], staged["prev"])
        found = None
    if entry.get("status") in COMPLETED and event.status in STARTING and staged is not None:
        # A completed task started again: a new occurrence (a cycle).
        entry = add_entry(c, name, staged["route"], staged["ctxs"]["in"], staged["prev"])
        found = None
    # An added entry is the latest of (name, route): the staged task's route is ``route``.
    index = st.entry_index(state, name, route) if found is None else found
    assert index is not None
    if event.status and staged is not None and "items" not in staged:
        st.remove_staged(state, name, route)
    if staged is not None and event.item_id is not None:
        staged["items"][event.item_id] = {"status": event.status}
        if event.status in COMPLETED:
            staged["results"][event.item_id] = {"status": event.status, "result": event.result}
    if event.status == "failed":
        _log_action_error(c, name, event)

    old = entry.get("status") or "null"
    key = _task_event_key(c, name, route, event)
    new_status = TASK_MACHINE.get(old, {}).get(key)
    if new_status is not None:
        st.set_status(state, index, new_status)
    new = entry.get("status") or "null"

    if new == "retrying":
        entry["retry"]["tally"] += 1
        st.remove_staged(state, name, route)
        st.add_staged(
            state, name, route, entry["ctxs"]["in"], entry["prev"], ready=True, retry=entry["retry"]
        )

    current_scope = None
    if new in COMPLETED:
        has_items = c.has_items(name)
        records = staged.get("results") if staged is not None else None
        if not (has_items and new in ABENDED):
            st.remove_staged(state, name, route)
        else:
            kept = st.get_staged(state, name, route)
            if kept is not None:
                kept["completed"] = True
        if has_items:
            records = records or []
            result: Any = [r["result"] if r else None for r in records]
            entry["record_result"] = {"items": records}
        else:
            result = event.result
        entry["result"] = result
        variables = st.context_of(state, entry["ctxs"]["in"])
        current_scope = c.scope(variables, CurrentTask(name, route, result))
        if c.status in ACTIVE and _should_retry(entry, current_scope, event):
            update_task(c, name, route, ActionEvent("retrying", command="retry"))
            return

    commands: list[tuple[str, int]] = []
    if new in COMPLETED and new != old and current_scope is not None:
        commands = _evaluate_transitions(c, name, route, entry, index, current_scope)

    c.workflow_task_event(name, route, entry["status"])
    if (
        event.status in ("timeout", "abandoned")
        and new in ABENDED
        and new != old
        and not (c.has_next_tasks(name, route) or c.has_join_next(name, route))
    ):
        # orquesta logs nothing for these; an unhandled one fails the workflow, so
        # its error says why when the engine reported one.
        _log_action_error(c, name, event, required=True)
    for command, command_route in commands:
        status = "failed" if command == "fail" else "succeeded"
        update_task(c, command, command_route, ActionEvent(status, command=command))
    if c.status in COMPLETED:
        entry["term"] = True


def action_error(event: ActionEvent) -> tuple[str, Any] | None:
    """The message and result of an action's own error, if the engine reported one.

    A shell command's standard error is added to the message; without an action
    result, the result holds the error.
    """
    error = event.error
    if not isinstance(error, Mapping) or error.get("type") == ANSWERED_FAILURE:
        return None
    message = str(error.get("message") or error.get("type") or "").strip()
    if not message:
        return None
    result = event.result
    if isinstance(result, Mapping):
        stderr = result.get("stderr")
        if isinstance(stderr, str) and stderr.strip() and stderr.strip() not in message:
            message = f"{message}: {stderr.strip()}"
    return message, result if result is not None else {"error": dict(error)}


def _log_action_error(
    c: Conductor, name: str, event: ActionEvent, *, required: bool = False
) -> None:
    """Log an action's failure: orquesta's entry (``task_id`` and ``result``), with the
    action's own message when the engine reported one. ``required``: only then."""
    found = action_error(event)
    if found is not None:
        message, result = found
        st.log_error(c.state, message, name, result=result, with_result=True)
    elif not required:
        st.log_error(c.state, EXECUTION_FAILED, name, result=event.result, with_result=True)


def _should_retry(entry: dict[str, Any], scope: Any, event: ActionEvent) -> bool:
    retry = entry.get("retry")
    if not retry or retry["tally"] >= retry["count"]:
        return False
    # A failure the engine marks non-retryable (a result over the payload ceiling,
    # input the action refuses) would fail the same way again: not retried.
    if isinstance(event.error, Mapping) and event.error.get("non_retryable") is True:
        return False
    if entry.get("status") in ABENDED and retry.get("when") is None:
        return True
    return bool(evaluate(retry.get("when"), scope))


def _evaluate_transitions(
    c: Conductor, name: str, route: int, entry: dict[str, Any], index: int, scope: Any
) -> list[tuple[str, int]]:
    state = c.state
    edges = c.graph.next_edges(name)
    if not edges:
        entry["term"] = True
    commands: list[tuple[str, int]] = []
    ready_next: list[dict[str, Any]] = []
    manual_fail = False
    for edge in edges:
        transition_id = edge.transition_id
        try:
            taken = edge.when is None or bool(evaluate(edge.when, scope))
        except ExpressionFailure as exc:
            c.log_failure(exc, name, route, transition_id)
            c.request_status("failed")
            continue
        entry["next"][transition_id] = taken
        if not taken:
            continue
        publish = c.tasks[name].next[edge.ref].publish
        _, published, failures = render_rolling(publish, scope)
        if failures:
            for failure in failures:
                c.log_failure(failure, name, route, transition_id)
            c.request_status("failed")
            continue
        out_ctxs: int = entry["ctxs"]["in"]
        if published:
            state["contexts"].append(published)
            out_ctxs = contexts.extend(state, out_ctxs, len(state["contexts"]) - 1)
            entry["ctxs"]["out"] = {transition_id: len(state["contexts"]) - 1}
        next_route = _route_for(c, edge, route)
        target = st.get_staged(state, edge.target, next_route)
        if target is not None:
            # A later arrival at a join: its list, without the initial context, follows.
            target["ctxs"]["in"] = contexts.join(state, target["ctxs"]["in"], out_ctxs)
            target["prev"][edge.backref] = index
            target.pop("items", None)
            target.pop("results", None)
            target.pop("completed", None)
        else:
            target = st.add_staged(
                state, edge.target, next_route, out_ctxs, {edge.backref: index}, ready=False
            )
        target["ready"] = c.inbound_status(edge.target, route) == SATISFIED
        if edge.target in ENGINE_COMMANDS:
            commands.append((target["id"], target["route"]))
            manual_fail = manual_fail or edge.target == "fail"
        elif target["ready"]:
            ready_next.append(target)
    if manual_fail:
        for target in ready_next:
            target["run_on_fail"] = True
    return commands


def _route_for(c: Conductor, edge: Edge, route: int) -> int:
    if not c.graph.is_split(edge.target):
        return route
    old = c.state["routes"][route]
    if edge.backref in old:
        return route
    c.state["routes"].append([*old, edge.backref])
    return len(c.state["routes"]) - 1
