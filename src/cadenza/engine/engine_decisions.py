"""Decisions the engine makes without an interpreter: ending an execution (by
force, for an interpreter's defect, for a runaway chain), deciding for one
that was terminated, and recording engine notes. Each records its inputs, so
that they are not decided again, and keeps the last good snapshot."""

from __future__ import annotations

from collections.abc import Sequence

from cadenza.model.errors import OperationRefused
from cadenza.model.events import (
    JSON,
    CancelRequested,
    Event,
    ExecutionCompleted,
    OperatorRequested,
    PauseRequested,
    RecordedEvent,
    RequestRejected,
    RerunRequested,
    ResumeRequested,
    TerminateRequested,
)
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES, ExecutionStatus
from cadenza.store.records import DecisionResult, DecisionWork, ExecutionRecord

#: The error type a terminated execution ends with.
TERMINATED = "Terminated"
#: The status a terminated execution ends with: final for every front end, and
#: shown as such by the API and the console (SWF's TERMINATED has no status here).
TERMINATED_STATUS = ExecutionStatus.CANCELED
#: The request names ``RequestRejected`` gives the requests a terminated execution refuses.
REQUESTS: dict[type[Event], str] = {
    PauseRequested: "pause",
    ResumeRequested: "resume",
    CancelRequested: "cancel",
    RerunRequested: "rerun",
    TerminateRequested: "terminate",
}


def terminate_request(record: ExecutionRecord, reason: str, by: str = "") -> TerminateRequested:
    """The request that terminates the execution ``record``; ``OperationRefused``
    when it has ended already."""
    if record.status in FINAL_EXECUTION_STATUSES:
        raise OperationRefused(
            f"execution {record.id} is {record.status}: there is nothing to terminate",
            execution_id=record.id,
            status=record.status,
        )
    return TerminateRequested(reason=reason, by=by)


def terminated(work: DecisionWork, request: TerminateRequested, now: float) -> DecisionResult:
    """The decision that ends the execution by force: its inputs, and its end."""
    reason = request.reason or "no reason given"
    error: dict[str, JSON] = {
        "type": TERMINATED,
        "message": f"terminated: {reason}",
        "reason": request.reason,
        "by": request.by,
    }
    return ended(work, TERMINATED_STATUS, error, now)


def ended(work: DecisionWork, status: str, error: dict[str, JSON], now: float) -> DecisionResult:
    """A decision the engine makes without the interpreter: it records the inputs
    (so they are not decided again) and ends the execution with ``error``, keeping
    the last good snapshot."""
    decision_no, appended = _inputs_recorded(work)
    appended.append((decision_no, now, ExecutionCompleted(status=status, errors=[error])))
    return _result(work, decision_no, appended, status, [error])


def notes_only(work: DecisionWork) -> DecisionResult:
    """A decision whose inputs are all engine notes: they are recorded, nothing else
    changes, and no snapshot is taken (the state was not loaded)."""
    decision_no, appended = _inputs_recorded(work)
    return _result(work, decision_no, appended, work.status)


def after_termination(work: DecisionWork, now: float) -> DecisionResult:
    """A decision of a terminated execution: its inputs are recorded, its requests refused."""
    decision_no = work.decision_no + 1
    appended: list[tuple[int, float, Event]] = []
    for event, time in zip(work.inputs, work.input_times, strict=True):
        appended.append((decision_no, time, event))
        if isinstance(event, OperatorRequested) or type(event) in REQUESTS:
            appended.append((decision_no, now, refused(event, "the execution was terminated")))
    return _result(work, decision_no, appended, work.status)


def _inputs_recorded(work: DecisionWork) -> tuple[int, list[tuple[int, float, Event]]]:
    """The next decision number, and the work's inputs as that decision records them."""
    decision_no = work.decision_no + 1
    inputs = zip(work.inputs, work.input_times, strict=True)
    return decision_no, [(decision_no, t, e) for e, t in inputs]


def _result(
    work: DecisionWork,
    decision_no: int,
    appended: list[tuple[int, float, Event]],
    status: str,
    errors: list[JSON] | None = None,
) -> DecisionResult:
    """A decision that consumed every input, took no snapshot and, with
    ``errors``, ended the execution."""
    return DecisionResult(
        execution_id=work.execution_id,
        decision_no=decision_no,
        consumed_inputs=len(work.inputs),
        appended=appended,
        snapshot=None,
        status=status,
        completed=errors is not None,
        errors=[] if errors is None else errors,
    )


def refused(request: Event, why: str) -> RequestRejected:
    """The record that ``request`` (an operator's or a control request) was refused, and why."""
    name = request.request if isinstance(request, OperatorRequested) else REQUESTS[type(request)]
    return RequestRejected(request=name, error={"kind": "engine.request", "message": why})


def was_terminated(history: Sequence[RecordedEvent]) -> bool:
    """Whether ``history`` holds a decision that terminated the execution (a
    ``TerminateRequested`` and the end it caused, in one decision)."""
    asked = {r.decision for r in history if isinstance(r.event, TerminateRequested)}
    return any(isinstance(r.event, ExecutionCompleted) and r.decision in asked for r in history)
