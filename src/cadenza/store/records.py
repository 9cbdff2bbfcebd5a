"""The plain records a store loads and saves.

These are rows, not behaviour: the engine decides, the store only keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from cadenza.model.errors import InputError
from cadenza.model.events import JSON, Event, RecordedEvent
from cadenza.model.retry import RetryPolicy
from cadenza.model.statuses import ExecutionStatus


@dataclass(frozen=True)
class DefinitionRecord:
    """A registered definition. ``id`` is derived from kind and source, so
    registering the same text twice gives the same record.

    For a definition written as Python code, ``source`` is the code reference
    (``module:qualname``) and ``version`` the version it was registered at;
    for text, ``version`` is None.
    """

    id: str
    kind: str
    name: str
    source: str
    created_at: float
    version: str | None = None


@dataclass(frozen=True)
class ExecutionRecord:
    """An execution's row: derived from history, kept for queries."""

    id: str
    definition_id: str
    kind: str
    name: str
    status: str
    created_at: float
    updated_at: float
    output: JSON = None
    errors: list[JSON] = field(default_factory=list)
    last_seq: int = 0
    #: The execution that started this one as its task ``parent_task_id``
    #: (``StartChild``), if any.
    parent_id: str | None = None
    parent_task_id: str | None = None


@dataclass(frozen=True)
class NewTask:
    """A task to enqueue (from a ``ScheduleTask`` command)."""

    task_id: str
    name: str
    action: str | None
    input: JSON
    queue: str
    available_at: float
    retry: RetryPolicy | None
    timeout: float | None
    heartbeat_timeout: float | None
    meta: dict[str, JSON]
    #: Work done outside the engine (see ``ScheduleTask.external``).
    external: bool = False
    #: Claimed before lower ones of its queue (see ``ScheduleTask.priority``).
    priority: int = 0


@dataclass(frozen=True)
class NewTaskLease:
    """New tasks leased to ``owner`` as they are inserted (their first attempt
    claimed in the transaction that schedules them), by (execution id, task id)."""

    owner: str
    lease: float
    keys: frozenset[tuple[str, str]]

    def columns(self, task: NewTask, now: float) -> tuple[float | None, float]:
        """``(deadline, lease_expires_at)`` of ``task`` leased at ``now``, as a claim
        sets them: the deadline after its timeout, the lease until its first
        heartbeat is due (or the lease's length), never past the deadline."""
        deadline = None if task.timeout is None else now + task.timeout
        beat = self.lease if task.heartbeat_timeout is None else task.heartbeat_timeout
        return deadline, min(now + beat, now + (1e18 if task.timeout is None else task.timeout))


@dataclass(frozen=True)
class NewChild:
    """An execution to start as a task of the deciding one (``StartChild``)."""

    execution_id: str
    task_id: str
    name: str
    #: A definition id, or a name (its newest definition when the child starts).
    definition: str
    input: JSON
    meta: dict[str, JSON]
    #: Not linked to the task: its end is not reported, nothing cancels it.
    detached: bool = False


@dataclass(frozen=True)
class TaskRecord:
    """A task row, as claimed by a worker or found by the reaper."""

    execution_id: str
    task_id: str
    name: str
    action: str | None
    input: JSON
    queue: str
    status: str
    attempt: int
    available_at: float
    lease_owner: str | None
    lease_expires_at: float | None
    deadline: float | None
    retry: RetryPolicy | None
    timeout: float | None
    heartbeat_timeout: float | None
    meta: dict[str, JSON]
    external: bool = False
    priority: int = 0


def claim_order(task: TaskRecord) -> tuple[int, float, str]:
    """The order a claim hands out its tasks: higher priority first, then the
    longest due, then by task id."""
    return (-task.priority, task.available_at, task.task_id)


class FinishOutcome(StrEnum):
    """How an attempt leaves its task row."""

    #: The task is over: the row goes, its completion goes to the execution.
    DONE = "done"
    #: The task is queued again for attempt + 1 at ``available_at``.
    RETRY = "retry"
    #: The task waits for an answer (``Engine.respond`` ends it).
    SUSPEND = "suspend"


@dataclass(frozen=True)
class TaskFinish:
    """How one attempt of a task ends, as the engine decided it.

    ``events`` are delivered to the execution's inbox in the same transaction
    (or decided at once, when the round that saves the finish decides the
    execution too).
    """

    outcome: FinishOutcome
    events: Sequence[Event]
    available_at: float = 0.0


@dataclass(frozen=True)
class Family:
    """An execution's links to other executions, as a round read them: the
    execution that started it (and that one's task), and whether it has
    started any itself. A round that knows them need not look them up when
    the execution ends (a parent to tell, children to stop)."""

    parent_id: str | None
    parent_task_id: str | None
    has_children: bool


@dataclass(frozen=True)
class PendingExecution:
    """The columns of an execution the round needs to decide it."""

    id: str
    definition_id: str
    kind: str
    status: str
    decision_no: int
    next_seq: int
    snapshot_seq: int
    #: Its links, when the read returned them (None: looked up when needed).
    family: Family | None = None

    @classmethod
    def of_work(cls, work: DecisionWork) -> PendingExecution:
        """The row ``work`` was loaded from."""
        return cls(
            work.execution_id,
            work.definition_id,
            work.kind,
            work.status,
            work.decision_no,
            work.next_seq,
            work.snapshot_seq,
            work.family,
        )

    def work(
        self,
        inputs: list[Event],
        input_times: list[float],
        snapshot: JSON = None,
        history: list[RecordedEvent] | None = None,
        definition: DefinitionRecord | None = None,
    ) -> DecisionWork:
        """What deciding this execution takes, from this row and these inputs."""
        return DecisionWork(
            execution_id=self.id,
            definition_id=self.definition_id,
            kind=self.kind,
            status=self.status,
            decision_no=self.decision_no,
            next_seq=self.next_seq,
            snapshot_seq=self.snapshot_seq,
            inputs=inputs,
            input_times=input_times,
            snapshot=snapshot,
            history=history,
            definition=definition,
            family=self.family,
        )

    def after(self, result: DecisionResult) -> PendingExecution:
        """The row as saving ``result`` (decided from this row) leaves it."""
        next_seq = self.next_seq + len(result.appended)
        family = self.family
        if family is not None and result.children and not family.has_children:
            family = Family(family.parent_id, family.parent_task_id, True)
        return PendingExecution(
            self.id,
            self.definition_id,
            self.kind,
            result.status,
            result.decision_no,
            next_seq,
            next_seq - 1 if result.snapshot is not None else self.snapshot_seq,
            family,
        )


@dataclass(frozen=True)
class InboxEntry:
    """One inbox row: its id (consumed exactly), when it arrived, the event."""

    id: int
    time: float
    event: Event


@dataclass(frozen=True)
class StartedExecution:
    """An execution just created (``Store.create_execution``): its row as a
    round would read it before any decision, and its one inbox row."""

    row: PendingExecution
    inbox: InboxEntry

    @classmethod
    def new(
        cls, execution_id: str, definition: DefinitionRecord, inbox: InboxEntry
    ) -> StartedExecution:
        """A new execution of ``definition``: requested, undecided, no history
        (its first event will be number 1), started by no one (a child's row is
        made inside the round that starts it). The stores' column defaults say
        the same; a contract test holds them to it."""
        row = PendingExecution(
            id=execution_id,
            definition_id=definition.id,
            kind=definition.kind,
            status=ExecutionStatus.REQUESTED.value,
            decision_no=0,
            next_seq=1,
            snapshot_seq=0,
            family=Family(None, None, False),
        )
        return cls(row, inbox)


@dataclass(frozen=True)
class DecisionWork:
    """What the engine needs to decide for one execution.

    When the caller said it holds the state after ``decision_no``
    (``RoundRequest.held``), ``snapshot`` and ``history`` are None. Otherwise
    ``snapshot`` is the last saved state (None if there is none yet) and
    ``history`` the events recorded after it, to replay on top.
    """

    execution_id: str
    definition_id: str
    kind: str
    status: str
    decision_no: int  # number of the last committed decision
    next_seq: int  # sequence number the next appended event gets
    snapshot_seq: int  # last history seq the saved snapshot reflects (0: none)
    inputs: list[Event]  # inbox contents, oldest first
    input_times: list[float]
    snapshot: JSON = None
    history: list[RecordedEvent] | None = None
    #: The definition, when the caller said it does not have it cached.
    definition: DefinitionRecord | None = None
    #: The execution's links, when the round read them (see ``Family``).
    family: Family | None = None


@dataclass(frozen=True)
class DecisionResult:
    """What the engine decided for one execution; saved atomically with all others
    of the same batch.

    ``appended`` are ``(decision number, time, event)`` in history order: for
    each decision its inputs as folded, then the records of its commands. One
    result may hold several decisions (steps with nothing to run complete at
    once and are decided again in the same transaction). ``decision_no`` is
    the last of them.
    """

    execution_id: str
    decision_no: int
    consumed_inputs: int
    appended: list[tuple[int, float, Event]]
    #: The state after this result, to save as the new snapshot; None keeps the
    #: previous snapshot (history after it is replayed when it is needed).
    snapshot: JSON
    status: str
    #: Whether this result completed the execution; only then are ``output``
    #: and ``errors`` saved (a later decision may leave them as they were).
    completed: bool = False
    output: JSON = None
    errors: list[JSON] = field(default_factory=list)
    tasks: list[NewTask] = field(default_factory=list)
    timers: list[tuple[str, float]] = field(default_factory=list)
    #: Task ids to withdraw (``CancelTask``), whatever their state; a child
    #: execution started as one of them is asked to cancel.
    canceled_tasks: list[str] = field(default_factory=list)
    children: list[NewChild] = field(default_factory=list)
    #: ``(task id, "pause" | "resume")`` requests for the children of those tasks.
    relayed: list[tuple[str, str]] = field(default_factory=list)


#: The most tags one execution may carry, and the longest tag.
MAX_TAGS = 50
MAX_TAG_LENGTH = 200


def check_tags(tags: Sequence[str]) -> tuple[str, ...]:
    """``tags`` as a store keeps them (sorted, without repeats), or ``InputError``
    naming the first one it cannot keep.

    A tag is ``key=value`` or a bare ``label``: 1 to ``MAX_TAG_LENGTH``
    printable characters with no surrounding spaces, matched whole by filters.
    """
    if isinstance(tags, str):
        raise InputError("tags must be a list of strings, not one string", tags=tags)
    kept = sorted(set(tags))
    if len(kept) > MAX_TAGS:
        raise InputError(f"at most {MAX_TAGS} tags per execution ({len(kept)} given)")
    for tag in kept:
        if not isinstance(tag, str):
            raise InputError(f"a tag must be a string, not {type(tag).__name__}", tag=repr(tag))
        if not tag or len(tag) > MAX_TAG_LENGTH or tag != tag.strip():
            raise InputError(
                f"tag {tag!r} must be 1 to {MAX_TAG_LENGTH} characters, no spaces around",
                tag=tag,
            )
        if not tag.isprintable() or tag.startswith("="):
            raise InputError(
                f"tag {tag!r} must be printable text, key=value or a bare label", tag=tag
            )
    return tuple(kept)
