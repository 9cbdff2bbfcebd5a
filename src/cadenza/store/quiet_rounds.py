"""Rounds that read nothing: the work they decide, the rows they leave, and
the new tasks they lease as they insert them.

A loop that drives executions one step after another knows, after each
round, the rows it saved (``rows_after``). When its next round's only work
is its own finished attempts and it has heard of no other work
(``RoundRequest.known``), the round decides from those rows without reading
(``known_work``). So does the first round of executions the caller has just
created, from the rows and inbox rows their start returned
(``RoundRequest.started``). Its claim can then only find the round's own new tasks:
they are inserted already claimed instead (``new_task_lease``,
``leased_task_values``), which saves the claim's statement (the most
expensive of a sequential step on SQLite) and its index updates. The tasks
come back as a claim returns them, so nothing after the round can tell.
A round that read leases its new tasks the same way, to all but one of its
free threads (``round_lease``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from cadenza.model.events import Event
from cadenza.store.codec import task_values
from cadenza.store.protocol import ClaimRequest, RoundRequest
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    NewTask,
    NewTaskLease,
    PendingExecution,
)


def known_work(
    request: RoundRequest, finished: Sequence[str]
) -> tuple[list[DecisionWork], dict[str, list[int]]] | None:
    """The work of this round's finished executions from ``request.known``, and
    of the executions it names as just started from ``request.started``, with
    the inbox rows each consumes, without reading; None when the round must
    read (nothing of the kind, a row not known, a state not held at the row's
    decision, a definition not compiled, an execution this round may not
    decide)."""
    known = request.known
    started = request.started
    if (
        known is None
        or not (finished or started)
        or request.decide_limit < len(finished) + len(started)
    ):
        return None
    rows = []
    for execution_id in finished:
        row = known.get(execution_id)
        if row is None or request.held.get(execution_id) != row.decision_no:
            return None
        rows.append(row)
    for execution_id, new in started.items():
        if execution_id in finished or new.row.decision_no != 0:
            return None
        rows.append(new.row)
    for row in rows:
        if (
            row.definition_id not in request.known_definitions
            or (request.kinds is not None and row.kind not in request.kinds)
            or (request.only is not None and row.id not in request.only)
        ):
            return None
    events: dict[str, list[Event]] = {}
    times: dict[str, list[float]] = {}
    inbox_ids: dict[str, list[int]] = {}
    for execution_id, new in started.items():
        events[execution_id] = [new.inbox.event]
        times[execution_id] = [new.inbox.time]
        inbox_ids[execution_id] = [new.inbox.id]
    for finish in request.finishes:
        events.setdefault(finish.execution_id, []).extend(finish.finish.events)
        times.setdefault(finish.execution_id, []).extend([request.now] * len(finish.finish.events))
        inbox_ids.setdefault(finish.execution_id, [])
    return [row.work(events[row.id], times[row.id]) for row in rows], inbox_ids


def rows_after(
    saved: Sequence[DecisionResult], by_id: dict[str, DecisionWork]
) -> dict[str, PendingExecution]:
    """The rows of the saved executions as their decisions left them."""
    return {
        result.execution_id: PendingExecution.of_work(by_id[result.execution_id]).after(result)
        for result in saved
    }


def new_task_lease(
    claim: ClaimRequest, results: Sequence[DecisionResult], now: float, limit: int | None = None
) -> tuple[NewTaskLease, int]:
    """The new tasks of ``results`` that ``claim`` would take if they were the only
    due tasks (due now, of its queues and kind, engine or outside work, of
    actions it may run), higher priority first, then in the order scheduled:
    up to ``claim.quick_limit`` of quick ones (``is_quick``), which need no
    thread, and up to ``limit`` (else ``claim.limit``) others. Also returns
    how many threads the others take."""
    takeable = [
        (task.priority, order, result.execution_id, task)
        for order, (result, task) in enumerate(
            (result, task) for result in results for task in result.tasks
        )
        if _takes(claim, result.execution_id, task, now)
    ]
    takeable.sort(key=lambda entry: (-entry[0], entry[1]))
    threads = claim.limit if limit is None else limit
    quick = claim.quick_limit
    keys: list[tuple[str, str]] = []
    used = 0
    for _priority, _order, execution_id, task in takeable:
        if quick > 0 and is_quick(claim, task.action, task.timeout, task.heartbeat_timeout):
            quick -= 1
        elif used < threads:
            used += 1
        else:
            continue
        keys.append((execution_id, task.task_id))
    return NewTaskLease(claim.owner, claim.lease, frozenset(keys)), used


def is_quick(
    claim: ClaimRequest,
    action: str | None,
    timeout: float | None,
    heartbeat_timeout: float | None,
) -> bool:
    """Whether the claimer runs such a task at once on its own thread: its action
    is one of ``claim.quick`` and it has no time limit (which only the reaper,
    on that same thread, would enforce)."""
    return (
        action is not None
        and action in claim.quick
        and timeout is None
        and heartbeat_timeout is None
    )


def round_lease(
    claim: ClaimRequest | None, results: Sequence[DecisionResult], now: float, quiet: bool
) -> tuple[NewTaskLease | None, ClaimRequest | None]:
    """The new tasks a round leases to its caller as it inserts them, and the
    claim of due tasks it still makes.

    A round that read nothing leases every new task its claim could take and
    claims nothing else (it knows of no other work). A round that read keeps
    all but one of its free threads for the tasks it schedules itself (eager
    dispatch): the executions it just decided are the ones whose interpreter
    state it holds, so their next steps are decided without rebuilding that
    state, and the new tasks are not announced to other processes. The
    thread left over, and any the new tasks do not fill, claim the due tasks
    by priority and age as usual, so work that waits still moves every round.
    Quick tasks (``is_quick``) are leased on top, up to ``claim.quick_limit``:
    the caller runs them one after another on its own thread.
    """
    if claim is None:
        return None, None
    if quiet:
        return new_task_lease(claim, results, now)[0], None
    lease, used = new_task_lease(claim, results, now, max(0, claim.limit - _LEFT_FOR_WAITING_WORK))
    if not lease.keys:
        return None, claim
    return lease, replace(claim, limit=claim.limit - used)


#: Free threads a round that read claims for due tasks before its own new ones.
_LEFT_FOR_WAITING_WORK = 1


def _takes(claim: ClaimRequest, execution_id: str, task: NewTask, now: float) -> bool:
    """Whether ``claim`` can take ``task`` now (the claim statements' conditions)."""
    return (
        task.available_at <= now
        and task.external == claim.external
        and task.queue in claim.queues
        and (
            claim.actions is None
            or (task.action is not None and task.action in claim.actions)
            or execution_id in claim.own
        )
    )


#: The columns of a ``leased_task_values`` row, in order (both backends'
#: ``insert_leased_task`` statements name them so).
LEASED_TASK_COLUMNS = (
    "execution_id",
    "task_id",
    "name",
    "action",
    "input",
    "queue",
    "status",
    "attempt",
    "available_at",
    "retry",
    "timeout",
    "heartbeat_timeout",
    "meta",
    "created_at",
    "updated_at",
    "external",
    "priority",
    "lease_owner",
    "lease_expires_at",
    "deadline",
)


def leased_task_values(
    execution_id: str, task: NewTask, now: float, lease: NewTaskLease
) -> tuple[Any, ...]:
    """The row of ``insert_leased_task``: the new task's row (``task_values``) with
    its first attempt claimed by ``lease.owner``, then the lease's columns."""
    row = task_values(execution_id, task, now)
    deadline, expires = lease.columns(task, now)
    return (*row[:6], "claimed", 1, *row[8:], lease.owner, expires, deadline)
