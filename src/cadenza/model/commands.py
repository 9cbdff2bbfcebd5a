"""What an interpreter asks the engine to do.

Commands are plain data. The engine applies all commands of one decision in
one store transaction and records each as an event (``TaskScheduled``,
``ExecutionCompleted``, ...), so history shows exactly what was decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from cadenza.model.events import (
    JSON,
    ChildRequestRelayed,
    ChildStarted,
    Event,
    ExecutionCompleted,
    ExecutionStatusChanged,
    MarkerRecorded,
    RequestRejected,
    TaskCanceled,
    TaskScheduled,
    TimerStarted,
)
from cadenza.model.ids import derived_id
from cadenza.model.retry import RetryPolicy


@dataclass(frozen=True)
class CommandBase:
    """What every command has: the history event that records it."""

    def record(self) -> Event:
        """The history event that records this command."""
        raise NotImplementedError


@dataclass(frozen=True)
class ScheduleTask(CommandBase):
    """Run ``action`` with ``input`` after ``delay`` seconds.

    ``task_id`` is unique within the execution and stable on replay (the
    interpreter derives it from its own state). ``name`` is the front end's
    name for the step (an Orquesta task name, an ASL state name). ``action``
    is None for a step with nothing to run: the engine completes it at once
    with result ``None``. ``meta`` holds front-end facts the engine passes
    through untouched (route, item index, ...).

    ``retry`` is the kernel's policy for attempts of this one task (lost
    workers, timeouts); a front end with its own retry language keeps it at
    the default and re-schedules tasks itself.

    ``external`` marks work done outside the engine: a worker of any language
    polls ``queue`` for it (an activity) and answers with the task's token.
    The engine's own workers never claim it, and nothing waits on a clock for
    it.

    ``priority`` orders the claims of a queue: among due tasks, a higher one
    is claimed first (then the longest due first).
    """

    task_id: str
    name: str
    action: str | None
    input: JSON = None
    delay: float = 0.0
    meta: dict[str, JSON] = field(default_factory=dict)
    queue: str = "default"
    retry: RetryPolicy | None = None
    timeout: float | None = None
    heartbeat_timeout: float | None = None
    external: bool = False
    priority: int = 0

    def record(self) -> Event:
        return TaskScheduled(
            task_id=self.task_id,
            name=self.name,
            action=self.action,
            input=self.input,
            delay=self.delay,
            meta=dict(self.meta),
        )


@dataclass(frozen=True)
class StartChild(CommandBase):
    """Start an execution of another definition, of any kind, as task ``task_id``.

    ``definition`` is a definition id, or a registered name (its newest
    version at the moment the child starts). The child's input is ``input``;
    its ``ExecutionStarted.meta["parent"]`` names this execution and task.
    When the child reaches a final status, this execution receives
    ``TaskCompleted(task_id)`` with the child's output as the result (status
    ``succeeded``, ``failed``, ``canceled`` or ``timeout``; a failure's error
    carries the child's errors). A definition that does not exist completes
    the task at once as failed (``DefinitionNotFound``). ``CancelTask(task_id)``
    asks the child to cancel.

    ``detached`` starts a child that lives on its own once started: its end
    is not reported back, and neither ``CancelTask`` nor the end of this
    execution cancels it (a Step Functions ``startExecution`` that does not
    wait). It is still listed as this execution's child.

    ``execution_id`` is left empty by interpreters: the engine derives it
    from this execution, the decision and ``task_id``, so a replay names the
    same child.
    """

    task_id: str
    name: str
    definition: str
    input: JSON = None
    meta: dict[str, JSON] = field(default_factory=dict)
    execution_id: str = ""
    detached: bool = False

    def named(self, parent_id: str, decision_no: int) -> StartChild:
        """This command with the child's id filled in: derived from the parent,
        the decision and the task, so the same on every replay of that decision
        and unique (a rerun may reuse a task id)."""
        if self.execution_id:
            return self
        child_id = derived_id(parent_id, str(decision_no), self.task_id)
        return replace(self, execution_id=child_id)

    def record(self) -> Event:
        return ChildStarted(
            task_id=self.task_id,
            name=self.name,
            definition=self.definition,
            input=self.input,
            execution_id=self.execution_id,
            meta=dict(self.meta),
            detached=self.detached,
        )


@dataclass(frozen=True)
class RelayToChild(CommandBase):
    """Ask the child execution started as ``task_id`` to ``pause``, ``resume`` or
    ``rerun``.

    The child's pausing comes back as ``TaskSuspended(task_id, status="paused")``
    and its going on as ``TaskResumed(task_id)`` (so does a child that pauses on
    its own, waiting for an answer). To cancel a child, use ``CancelTask``. A
    pause or resume for a task that is no child, or whose child has ended, does
    nothing. ``rerun`` is for a child that has ended: it gets ``RerunRequested()``
    (rerun from what failed), and its next end comes back as ``TaskCompleted(task_id)``
    again; a child that refuses it stays as it was.
    """

    task_id: str
    request: str

    def record(self) -> Event:
        return ChildRequestRelayed(task_id=self.task_id, request=self.request)


@dataclass(frozen=True)
class CancelTask(CommandBase):
    """Withdraw a scheduled or running task: nobody can claim it or answer it
    afterwards (an activity running now finishes, but its report is refused)."""

    task_id: str

    def record(self) -> Event:
        return TaskCanceled(task_id=self.task_id)


@dataclass(frozen=True)
class StartTimer(CommandBase):
    """Deliver ``TimerFired(timer_id)`` after ``delay`` seconds."""

    timer_id: str
    delay: float

    def record(self) -> Event:
        return TimerStarted(timer_id=self.timer_id, delay=self.delay)


@dataclass(frozen=True)
class SetStatus(CommandBase):
    """The execution's status is now ``status`` (a non-final status)."""

    status: str

    def record(self) -> Event:
        return ExecutionStatusChanged(status=self.status)


@dataclass(frozen=True)
class CompleteExecution(CommandBase):
    """The execution reached a final status with this output and these errors."""

    status: str
    output: JSON = None
    errors: list[JSON] = field(default_factory=list)

    def record(self) -> Event:
        return ExecutionCompleted(status=self.status, output=self.output, errors=list(self.errors))


@dataclass(frozen=True)
class RecordMarker(CommandBase):
    """Keep a front-end fact in history (see ``MarkerRecorded``); changes nothing else."""

    kind: str
    details: JSON = None

    def record(self) -> Event:
        return MarkerRecorded(kind=self.kind, details=self.details)


@dataclass(frozen=True)
class RejectRequest(CommandBase):
    """A request event was refused; ``error`` is ``{"kind", "message"}``."""

    request: str
    error: JSON

    def record(self) -> Event:
        return RequestRejected(request=self.request, error=self.error)


#: Every command an interpreter may return: a closed set. The engine applies
#: them with an exhaustive ``match``, so a new command that nobody applies is
#: a type error, not a silent no-op.
Command = (
    ScheduleTask
    | StartChild
    | RelayToChild
    | CancelTask
    | StartTimer
    | SetStatus
    | CompleteExecution
    | RecordMarker
    | RejectRequest
)
