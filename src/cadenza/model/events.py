"""The events that make up an execution's history.

History is the truth (DESIGN.md, invariant 1). Each event is appended once
with a sequence number, the number of the decision that appended it, and the
engine's clock reading; nothing is ever rewritten.

Two kinds of event:

* **inputs** tell an interpreter something happened outside it: the execution
  started, a task completed, a person asked to pause. Interpreters fold them.
* **records** are what an interpreter decided (its commands, once applied):
  a task was scheduled, the execution completed. Interpreters never fold
  records; they exist for audit, for the console and for the engine's own
  bookkeeping (which tasks are outstanding).

Replaying the inputs of every decision, grouped by decision number, through
a fresh interpreter gives the same state and the same records: that is how a
snapshot is rebuilt and how determinism is tested.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

JSON = Any
"""A value that survives ``json.dumps``/``json.loads`` unchanged."""


@dataclass(frozen=True)
class Event:
    """Base of all events. ``type`` names the event in storage and on the wire."""

    type: ClassVar[str] = "Event"
    is_input: ClassVar[bool] = True
    #: For records: whether an interpreter command produced it (False for notes
    #: the engine adds itself, such as a retried attempt).
    from_command: ClassVar[bool] = True

    def payload(self) -> dict[str, JSON]:
        """The event's fields as a JSON object (without the type)."""
        return {name: getattr(self, name) for name in field_names(type(self))}


# --- inputs ---------------------------------------------------------------


@dataclass(frozen=True)
class ExecutionStarted(Event):
    """An execution began with this input.

    ``seed`` is drawn once by the engine so that "random" functions in
    expressions are reproducible on replay; ``context`` is the parent context
    (values visible before the workflow's own input, e.g. from a caller).
    """

    type: ClassVar[str] = "ExecutionStarted"
    input: JSON = None
    context: JSON = None
    seed: int = 0
    #: Facts about the execution the engine fixed when it started it:
    #: ``execution_id``, ``definition_id``, ``definition_name``, ``start_time``
    #: (epoch seconds). Front ends build their context objects from it
    #: (e.g. ``$$.Execution`` in the States language).
    meta: dict[str, JSON] = field(default_factory=dict)

    @property
    def workflow_id(self) -> str | None:
        """The workflow id this run holds, if any: ``context["workflow_id"]`` for a
        run started under one, ``meta["parent"]["workflow_id"]`` for a run that
        continues one (continue-as-new). At most one open run holds an id."""
        for holder in (self.context, self.meta.get("parent")):
            if isinstance(holder, dict) and isinstance(holder.get("workflow_id"), str):
                return str(holder["workflow_id"])
        return None


@dataclass(frozen=True)
class TaskCompleted(Event):
    """A task's action ended: ``status`` is ``succeeded``, ``failed``, ``timeout``,
    ``abandoned`` (its worker was lost) or ``canceled``.

    ``result`` is the action's result (for a failure, whatever the action
    reported: a shell command's stdout/stderr/return_code, an error object).
    ``error`` is ``{"type": ..., "message": ...}`` for failures, else None.
    """

    type: ClassVar[str] = "TaskCompleted"
    task_id: str = ""
    status: str = "succeeded"
    result: JSON = None
    error: JSON = None
    attempt: int = 1
    #: ``secret_paths``: where ``result`` holds values the action marked secret
    #: (``cadenza.model.secrets``); empty for most results, and then not stored.
    meta: dict[str, JSON] = field(default_factory=dict)

    def payload(self) -> dict[str, JSON]:
        """The event's fields as a JSON object (``meta`` only when it says something)."""
        found = super().payload()
        if not self.meta:
            del found["meta"]
        return found


@dataclass(frozen=True)
class TaskStarted(Event):
    """An outside worker took the task (an activity worker polled it); ``worker``
    is the name it gave."""

    type: ClassVar[str] = "TaskStarted"
    task_id: str = ""
    worker: str = ""


@dataclass(frozen=True)
class TaskSuspended(Event):
    """A task's action is waiting for an answer (``pending``) or was paused (``paused``)."""

    type: ClassVar[str] = "TaskSuspended"
    task_id: str = ""
    status: str = "pending"
    result: JSON = None


@dataclass(frozen=True)
class TaskResumed(Event):
    """A paused action runs again."""

    type: ClassVar[str] = "TaskResumed"
    task_id: str = ""


@dataclass(frozen=True)
class PauseRequested(Event):
    type: ClassVar[str] = "PauseRequested"


@dataclass(frozen=True)
class ResumeRequested(Event):
    type: ClassVar[str] = "ResumeRequested"


@dataclass(frozen=True)
class CancelRequested(Event):
    type: ClassVar[str] = "CancelRequested"


@dataclass(frozen=True)
class TerminateRequested(Event):
    """End the execution now, whatever its state, without asking its front end
    (SWF's ``TerminateWorkflowExecution``): it ends ``canceled`` with an error of
    type ``Terminated`` giving ``reason``, its tasks and timers are withdrawn,
    and nothing it receives later is decided by its front end again. ``by``
    names who asked, as they said (for audit)."""

    type: ClassVar[str] = "TerminateRequested"
    reason: str = ""
    by: str = ""


@dataclass(frozen=True)
class RerunRequested(Event):
    """Run a completed execution again from some of its tasks.

    ``tasks`` is a list of ``{"task_id": name, "route": int, "reset_items": bool}``
    (front-end names); empty means "from the tasks that failed".
    """

    type: ClassVar[str] = "RerunRequested"
    tasks: list[dict[str, JSON]] = field(default_factory=list)


@dataclass(frozen=True)
class SignalReceived(Event):
    """A named message with ``data`` sent to a running execution from outside (a
    person, a program, an event broker); the front end decides what it means.

    ``by`` names who sent it, as the sender said (for audit).
    """

    type: ClassVar[str] = "SignalReceived"
    name: str = ""
    #: What the sender sent with it (named ``data``, as in CloudEvents:
    #: ``payload`` is every event's method giving its fields).
    data: JSON = None
    by: str = ""


@dataclass(frozen=True)
class OperatorRequested(Event):
    """An operator's request that only this execution's front end understands
    (retry a stuck undo, mark a step done by hand, ...), with who asked and why.

    The front end names the requests it accepts (``FrontEnd.operator_requests``);
    one that does not fit the execution's state is refused with a
    ``RequestRejected`` record.
    """

    type: ClassVar[str] = "OperatorRequested"
    request: str = ""
    args: dict[str, JSON] = field(default_factory=dict)
    by: str = ""
    reason: str = ""


@dataclass(frozen=True)
class TimerFired(Event):
    type: ClassVar[str] = "TimerFired"
    timer_id: str = ""


# --- records ----------------------------------------------------------------


@dataclass(frozen=True)
class TaskScheduled(Event):
    """The interpreter asked for an action to run (see ``ScheduleTask``)."""

    type: ClassVar[str] = "TaskScheduled"
    is_input: ClassVar[bool] = False
    task_id: str = ""
    name: str = ""
    action: str | None = None
    input: JSON = None
    delay: float = 0.0
    meta: dict[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class ChildStarted(Event):
    """The interpreter started another execution as task ``task_id`` (see
    ``StartChild``); its completion arrives as that task's ``TaskCompleted``."""

    type: ClassVar[str] = "ChildStarted"
    is_input: ClassVar[bool] = False
    task_id: str = ""
    name: str = ""
    definition: str = ""
    input: JSON = None
    execution_id: str = ""
    meta: dict[str, JSON] = field(default_factory=dict)
    #: Started to live on its own: its end is not reported back (``StartChild``).
    detached: bool = False


@dataclass(frozen=True)
class ChildRequestRelayed(Event):
    """The interpreter asked the child execution started as ``task_id`` to
    ``pause`` or ``resume`` (see ``RelayToChild``)."""

    type: ClassVar[str] = "ChildRequestRelayed"
    is_input: ClassVar[bool] = False
    task_id: str = ""
    request: str = ""


@dataclass(frozen=True)
class TaskAttemptFailed(Event):
    """An attempt failed and the kernel's retry policy tries the task again."""

    type: ClassVar[str] = "TaskAttemptFailed"
    is_input: ClassVar[bool] = False
    from_command: ClassVar[bool] = False
    task_id: str = ""
    attempt: int = 1
    error: JSON = None
    retry_in: float = 0.0


@dataclass(frozen=True)
class TaskCanceled(Event):
    """The interpreter no longer wants the task (its state timed out, its execution
    ended): it is withdrawn from the queue and a late answer is refused."""

    type: ClassVar[str] = "TaskCanceled"
    is_input: ClassVar[bool] = False
    task_id: str = ""


@dataclass(frozen=True)
class TimerStarted(Event):
    type: ClassVar[str] = "TimerStarted"
    is_input: ClassVar[bool] = False
    timer_id: str = ""
    delay: float = 0.0


@dataclass(frozen=True)
class MarkerRecorded(Event):
    """A front-end fact kept in history for audit and display, such as one
    event of a Step Functions-shaped history (``kind="sfn"``)."""

    type: ClassVar[str] = "MarkerRecorded"
    is_input: ClassVar[bool] = False
    kind: str = ""
    details: JSON = None


@dataclass(frozen=True)
class ExecutionStatusChanged(Event):
    """The execution moved to a non-final status (running, pausing, paused, ...)."""

    type: ClassVar[str] = "ExecutionStatusChanged"
    is_input: ClassVar[bool] = False
    status: str = ""


@dataclass(frozen=True)
class ExecutionCompleted(Event):
    """The execution reached a final status (a rerun may reopen it later)."""

    type: ClassVar[str] = "ExecutionCompleted"
    is_input: ClassVar[bool] = False
    status: str = ""
    output: JSON = None
    errors: list[JSON] = field(default_factory=list)


@dataclass(frozen=True)
class RequestRejected(Event):
    """A pause/resume/cancel/rerun/respond request was refused; nothing changed."""

    type: ClassVar[str] = "RequestRejected"
    is_input: ClassVar[bool] = False
    request: str = ""
    error: JSON = None


EVENT_TYPES: Mapping[str, type[Event]] = {
    cls.type: cls
    for cls in (
        ExecutionStarted,
        TaskCompleted,
        TaskStarted,
        TaskSuspended,
        TaskResumed,
        PauseRequested,
        ResumeRequested,
        CancelRequested,
        TerminateRequested,
        RerunRequested,
        SignalReceived,
        OperatorRequested,
        TimerFired,
        TaskScheduled,
        ChildStarted,
        ChildRequestRelayed,
        TaskAttemptFailed,
        TaskCanceled,
        TimerStarted,
        ExecutionStatusChanged,
        ExecutionCompleted,
        RequestRejected,
        MarkerRecorded,
    )
}


def event_from_payload(type_name: str, payload: Mapping[str, JSON]) -> Event:
    """Rebuild an event from its stored type name and payload.

    Unknown fields are ignored so that an older reader can read a newer
    history that added optional fields.
    """
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        from cadenza.model.errors import HistoryCorrupt

        raise HistoryCorrupt(f"unknown event type {type_name!r}")
    names = _FIELD_SETS.get(cls)
    if names is None:
        names = _FIELD_SETS[cls] = frozenset(field_names(cls))
    return cls(**{k: v for k, v in payload.items() if k in names})


#: Event class -> its field names in order (and as a set, to filter a payload).
#: ``dataclasses.fields`` builds its answer anew at each call, and every event
#: stored or read asks it.
_FIELD_NAMES: dict[type[Event], tuple[str, ...]] = {}
_FIELD_SETS: dict[type[Event], frozenset[str]] = {}


def field_names(cls: type[Event]) -> tuple[str, ...]:
    """The names of an event class's fields, in declaration order."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored: its place in history, the decision that appended it, its time."""

    seq: int
    decision: int
    time: float
    event: Event
