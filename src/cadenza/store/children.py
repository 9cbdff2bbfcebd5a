"""Executions started by other executions, kept linked inside the round's write.

A decision that returns ``StartChild`` gets its child created in the same
transaction that saves the decision, with ``ExecutionStarted`` in the child's
inbox; a decision that ends an execution started by another delivers the
end, as the parent task's ``TaskCompleted``, to the parent's inbox in that
same transaction. So a parent never waits for a child that was not created,
nor misses the end of one, whatever process dies when (DESIGN invariant 3).

Cancelling the parent's task, or ending the parent, asks its children that
are still open to cancel (SWF's "request cancel" child policy); a child
started with the ``terminate`` policy (``StartChild.meta["child_policy"]``)
is terminated instead when the parent ends (``TerminateRequested``).

A run that continues a workflow id (continue-as-new) takes the id over in
the same transaction: the round saves the ending run's final status before
it creates the next run, so the unique index on open runs' workflow ids sees
one holder at a time. A decision that ended its execution by force
(``TerminateRequested``) withdraws every task and timer it still had.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from cadenza.model.errors import WorkflowIdTaken
from cadenza.model.events import (
    JSON,
    CancelRequested,
    Event,
    ExecutionStarted,
    PauseRequested,
    RequestRejected,
    RerunRequested,
    ResumeRequested,
    TaskCompleted,
    TaskResumed,
    TaskSuspended,
    TerminateRequested,
)
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    DefinitionRecord,
    Family,
    NewChild,
)

log = logging.getLogger("cadenza.store")


class ChildLinks(Protocol):
    """The statements the links need, inside the round's write transaction."""

    def definition_for(self, reference: str) -> DefinitionRecord | None:
        """The definition with id ``reference``, else the newest named ``reference``."""

    def insert_child(
        self, child: NewChild, definition: DefinitionRecord, parent_id: str, now: float
    ) -> None:
        """Create the child's execution row, linked to its parent and task."""

    def parents_of(self, ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """For each of ``ids`` started by another execution: (parent id, task id;
        None for a detached child)."""

    def children_of(self, ids: Sequence[str]) -> list[tuple[str, str, str | None, str, str | None]]:
        """The children of ``ids``: (id, parent id, parent task id, status, child
        policy or None)."""

    def hold_workflow_id(self, execution_id: str, workflow_id: str) -> None:
        """Give the execution ``workflow_id`` (``WorkflowIdTaken`` if another open
        run holds it)."""

    def set_child_policy(self, execution_id: str, policy: str) -> None:
        """Keep the child policy the parent started the execution with."""

    def withdraw_work(self, ids: Sequence[str]) -> None:
        """Delete every task and timer of the executions ``ids``."""


def link_children(
    links: ChildLinks,
    saved: Sequence[tuple[str, DecisionResult]],
    now: float,
    families: Mapping[str, Family | None] | None = None,
) -> list[tuple[str, Event]]:
    """Create the children ``saved`` started; return what must be delivered for
    them (their start, the ends and pauses they report, the requests relayed).

    ``saved`` pairs each saved decision with the status its execution had before;
    ``families`` holds the links the round read, by execution (the others are
    looked up when needed).
    """
    known = families or {}
    deliveries: list[tuple[str, Event]] = []
    for _before, result in saved:
        for child in result.children:
            deliveries.append(_start(links, result.execution_id, child, now))
    terminated = [r.execution_id for _b, r in saved if ended_by_force(r)]
    if terminated:
        links.withdraw_work(terminated)
    deliveries += _reports_to_parents(links, saved, known)
    deliveries += _requests_to_children(links, [r for _b, r in saved], known)
    return deliveries


def _reports_to_parents(
    links: ChildLinks,
    saved: Sequence[tuple[str, DecisionResult]],
    known: Mapping[str, Family | None],
) -> list[tuple[str, Event]]:
    """A child's end as its task's completion; its pausing and going on as the
    task's suspension and resumption."""
    reports: list[tuple[DecisionResult, str]] = []
    for before, result in saved:
        if result.completed:
            if before == PAUSED:
                # Went on and ended in one decision: the parent hears both.
                reports.append((result, "resume"))
            reports.append((result, "end"))
        elif result.status == PAUSED and before != PAUSED:
            reports.append((result, "pause"))
        elif before == PAUSED and result.status not in (PAUSED, *FINAL_EXECUTION_STATUSES):
            reports.append((result, "resume"))
        elif before in FINAL_EXECUTION_STATUSES and _refused_rerun(result) is not None:
            # An ended child refused a rerun: its task, waiting again, ends again.
            reports.append((result, "refused"))
    if not reports:
        return []
    parents: dict[str, tuple[str, str | None]] = {}
    unknown: set[str] = set()
    for result, _what in reports:
        family = known.get(result.execution_id)
        if family is None:
            unknown.add(result.execution_id)
        elif family.parent_id is not None:
            parents[result.execution_id] = (family.parent_id, family.parent_task_id)
    if unknown:
        parents.update(links.parents_of(sorted(unknown)))
    out: list[tuple[str, Event]] = []
    for result, what in reports:
        parent_id, task_id = parents.get(result.execution_id, ("", None))
        if task_id is None:
            continue  # no parent, or a detached child
        if what == "end":
            out.append((parent_id, _end_as_task(task_id, result)))
        elif what == "pause":
            out.append((parent_id, TaskSuspended(task_id=task_id, status="paused")))
        elif what == "refused":
            out.append((parent_id, _refused_as_task(task_id, result)))
        else:
            out.append((parent_id, TaskResumed(task_id=task_id)))
    return out


def _requests_to_children(
    links: ChildLinks, saved: Sequence[DecisionResult], known: Mapping[str, Family | None]
) -> list[tuple[str, Event]]:
    """Cancel, pause and resume requests for the open children they concern, and
    rerun requests for the ended ones."""
    wanted: dict[tuple[str, str], Event] = {}
    ended: set[str] = set()
    for result in saved:
        for task_id in result.canceled_tasks:
            wanted[(result.execution_id, task_id)] = CancelRequested()
        for task_id, request in result.relayed:
            event = _RELAYED.get(request)
            if event is not None:
                wanted.setdefault((result.execution_id, task_id), event)
        if result.completed:
            ended.add(result.execution_id)
    # An execution the round read as childless, and whose decision started none,
    # has no child to ask.
    starting = {result.execution_id for result in saved if result.children}
    asking = sorted(
        execution_id
        for execution_id in {p for p, _ in wanted} | ended
        if execution_id in starting or _may_have_children(known.get(execution_id))
    )
    if not asking:
        return []
    out: list[tuple[str, Event]] = []
    for child_id, parent_id, child_task, status, policy in links.children_of(asking):
        asked = wanted.get((parent_id, child_task)) if child_task is not None else None
        if isinstance(asked, RerunRequested):
            # A rerun is for a child that has ended (its front end refuses it otherwise).
            out.append((child_id, asked))
            continue
        if status in FINAL_EXECUTION_STATUSES or child_task is None:
            continue  # over already, or detached
        if parent_id in ended and policy == TERMINATE:
            reason = f"its parent {parent_id} ended (child policy terminate)"
            out.append((child_id, TerminateRequested(reason=reason, by=parent_id)))
        elif parent_id in ended:
            out.append((child_id, CancelRequested()))
        elif (parent_id, child_task) in wanted:
            out.append((child_id, wanted[(parent_id, child_task)]))
    return out


def _may_have_children(family: Family | None) -> bool:
    return family is None or family.has_children


#: The requests a parent relays to a child (``RelayToChild``); ``rerun`` reruns an
#: ended child from what failed.
_RELAYED: dict[str, Event] = {
    "pause": PauseRequested(),
    "resume": ResumeRequested(),
    "rerun": RerunRequested(),
}
PAUSED = "paused"
#: The child policy (``StartChild.meta["child_policy"]``) that terminates a
#: child when its parent ends.
TERMINATE = "terminate"
#: The key of ``StartChild.meta`` holding the child policy.
CHILD_POLICY = "child_policy"


def ended_by_force(result: DecisionResult) -> bool:
    """Whether the decision ended its execution by ``TerminateRequested``."""
    return result.completed and any(
        isinstance(event, TerminateRequested) for _d, _t, event in result.appended
    )


def _start(links: ChildLinks, parent_id: str, child: NewChild, now: float) -> tuple[str, Event]:
    definition = links.definition_for(child.definition)
    if definition is None:
        error = {
            "type": "DefinitionNotFound",
            "message": f"no definition with id or name {child.definition!r} to start as a child",
        }
        return parent_id, TaskCompleted(task_id=child.task_id, status="failed", error=error)
    links.insert_child(child, definition, parent_id, now)
    if child.meta.get(CHILD_POLICY) == TERMINATE:
        links.set_child_policy(child.execution_id, TERMINATE)
    # The datastore values the parent recorded at its start (st2kv) are the
    # child's too: StackStorm's subworkflows read the same datastore.
    inherited = {k: v for k, v in child.meta.items() if k != _DATASTORE}
    recorded = {_DATASTORE: child.meta[_DATASTORE]} if _DATASTORE in child.meta else {}
    started = ExecutionStarted(
        input=child.input,
        context={},
        seed=_seed(child.execution_id),
        meta={
            "execution_id": child.execution_id,
            "definition_id": definition.id,
            "definition_name": definition.name,
            "start_time": now,
            "parent": {
                "execution_id": parent_id,
                "task_id": child.task_id,
                **({"detached": True} if child.detached else {}),
                **inherited,
            },
            **recorded,
        },
    )
    if started.workflow_id is not None:
        try:
            links.hold_workflow_id(child.execution_id, started.workflow_id)
        except WorkflowIdTaken as taken:
            # Only a run opened where the id was not kept (before the store kept
            # workflow ids) can hold it now. Refusing would fail the whole round
            # again and again: the next run goes on without the id.
            log.warning("run %s continues without its workflow id: %s", child.execution_id, taken)
    return child.execution_id, started


#: The key of ``ExecutionStarted.meta`` holding the recorded datastore values.
_DATASTORE = "datastore"


def _seed(execution_id: str) -> int:
    # Drawn from the id, not from a random source: the round that writes it may
    # be retried, and the child must start the same way each time.
    return int.from_bytes(hashlib.sha256(execution_id.encode()).digest()[:8], "big") >> 1


#: How a child's final status reads as the status of the parent's task.
_TASK_STATUS = {"succeeded": "succeeded", "canceled": "canceled", "timeout": "timeout"}
_ERROR_TYPE = {
    "failed": "ChildExecutionFailed",
    "canceled": "ChildExecutionCanceled",
    "timeout": "ChildExecutionTimedOut",
}


def _end_as_task(task_id: str, result: DecisionResult) -> TaskCompleted:
    status = _TASK_STATUS.get(result.status, "failed")
    error: JSON = None
    if status != "succeeded":
        first = result.errors[0] if result.errors else {}
        message = first.get("message") if isinstance(first, dict) else str(first)
        error = {
            "type": _ERROR_TYPE[status],
            "message": message or f"the child execution {result.execution_id} {result.status}",
            "execution_id": result.execution_id,
            "status": result.status,
            "errors": list(result.errors),
        }
    return TaskCompleted(task_id=task_id, status=status, result=result.output, error=error)


def _refused_rerun(result: DecisionResult) -> RequestRejected | None:
    """The refusal of a rerun request in the decision, if there is one."""
    for _decision, _time, event in result.appended:
        if isinstance(event, RequestRejected) and event.request == "rerun":
            return event
    return None


def _refused_as_task(task_id: str, result: DecisionResult) -> TaskCompleted:
    refusal = _refused_rerun(result)
    error = refusal.error if refusal is not None and isinstance(refusal.error, dict) else {}
    message = error.get("message") or "the child execution refused the rerun"
    status = _TASK_STATUS.get(result.status, "failed")
    return TaskCompleted(
        task_id=task_id,
        status="failed" if status == "succeeded" else status,
        error={
            "type": _ERROR_TYPE.get(result.status, "ChildExecutionFailed"),
            "message": f"the child execution {result.execution_id} was not rerun: {message}",
            "execution_id": result.execution_id,
            "status": result.status,
            "errors": [],
        },
    )


def rows_to_lock(
    finished: Sequence[str],
    results: Sequence[DecisionResult],
    by_id: Mapping[str, DecisionWork],
) -> list[str]:
    """The executions whose rows a round's write changes or marks pending, as
    far as the round knows before it writes, in id order: the ones decided,
    the parents their decisions report to (an end, a pause), and ``finished``,
    those whose finished attempts it delivers. Locked in one statement, two
    rounds cannot deadlock over them (a child decided in one process reporting
    to its parent, decided in another that delivers a finish to the child).
    Parents looked up during the write, and children asked to cancel or pause,
    are not known here: they are locked as they are delivered to."""
    wanted = {result.execution_id for result in results}
    wanted.update(finished)
    for result in results:
        work = by_id[result.execution_id]
        family = work.family
        reports = result.completed or result.status != work.status
        if reports and family is not None and family.parent_id is not None:
            wanted.add(family.parent_id)
    return sorted(wanted)
