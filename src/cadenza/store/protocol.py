"""The one protocol every store backend implements in full.

A store keeps; the engine decides. The protocol is grouped into small
protocols by concern, and ``Store`` is all of them. Every method is one
transaction: it happens completely or not at all, and a crash at any point
leaves the store as it was before the call or as it is after it.

``DefinitionStore``
    ``save_definition``, ``load_definition``
``ExecutionStore`` (executions, history, inboxes)
    ``create_execution``, ``load_execution``, ``list_executions``,
    ``count_executions``, ``execution_tags``, ``read_history``,
    ``snapshot_and_tail``, ``deliver``,
    ``forget_snapshots``
``DecisionRounds`` (one decider per execution)
    ``run_round``: finished attempts, decisions and claims, with one commit.
    The work is loaded, the engine's ``decide`` runs with no write lock held
    (user code in an interpreter never stalls other writers), and the results
    are saved guarded by the decision number each started from and the inbox
    rows it consumed. A stale result (decided elsewhere meanwhile, or already
    saved) is refused, never applied twice; the loop decides it again.
``TaskLeases`` (leased work)
    ``claim_tasks``, ``heartbeat_tasks``, ``finish_task``, ``expired_tasks``,
    ``waiting_tasks``, ``break_leases``, ``lease_owners``
``Timers``
    ``fire_due_timers``, ``next_wakeup``
``WakeUps``
    ``wait_for_work`` (LISTEN/NOTIFY where the backend has it; else callers poll)
``KeyValues`` (StackStorm's datastore)
    ``kv_set``, ``kv_get``, ``kv_list``, ``kv_delete``
``QueuePollRecords`` (who asked which queue for work lately, for people)
    ``record_queue_polls``, ``queue_polls``
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cadenza.model.events import JSON, Event, RecordedEvent
from cadenza.store.datastore import DatastoreEntry
from cadenza.store.payloads import PayloadLimits
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    DefinitionRecord,
    ExecutionRecord,
    PendingExecution,
    StartedExecution,
    TaskFinish,
    TaskRecord,
)

#: The engine's decision function: one result per work it chooses to decide
#: (a work it leaves out stays pending, untouched).
DecideFn = Callable[[list[DecisionWork]], list[DecisionResult]]


@dataclass(frozen=True)
class FinishRequest:
    """End ``attempt`` of a task held by ``owner`` (None: a suspended task) as
    ``finish`` says."""

    execution_id: str
    task_id: str
    attempt: int
    owner: str | None
    finish: TaskFinish


@dataclass(frozen=True)
class ClaimRequest:
    """Lease up to ``limit`` due tasks of ``queues`` to ``owner`` for ``lease`` seconds.

    ``external`` claims work done outside the engine (activities polled by
    outside workers) instead of the engine's own tasks; the two never mix.

    ``actions`` (when not None) limits the claim to tasks whose action the
    claimer can run, except tasks of the executions in ``own``: a process
    must not take work it cannot do (it would fail it for everyone), but the
    process that drives an execution answers for all of its tasks.
    """

    owner: str
    queues: tuple[str, ...]
    limit: int
    lease: float
    external: bool = False
    actions: tuple[str, ...] | None = None
    own: tuple[str, ...] = ()
    #: Actions whose tasks the claimer runs at once on its own thread, one after
    #: another (they took under a millisecond there): a round leases up to
    #: ``quick_limit`` of the new tasks it schedules of these beyond ``limit``,
    #: since they need no thread (``quiet_rounds.is_quick``).
    quick: frozenset[str] = frozenset()
    quick_limit: int = 0


@dataclass(frozen=True)
class RoundRequest:
    """What one round of a loop asks of the store (see ``DecisionRounds``)."""

    owner: str
    now: float
    #: Attempts that ended since the last round; their events are decided in
    #: this round when their execution is among those decided.
    finishes: Sequence[FinishRequest] = ()
    #: At most this many executions are decided (0: none).
    decide_limit: int = 64
    #: Tasks to claim after deciding (the new ones too), if any.
    claim: ClaimRequest | None = None
    #: Decide only executions of these kinds (None: every kind); executions of
    #: kinds this process cannot read are left for processes that can.
    kinds: frozenset[str] | None = None
    #: Decide only these executions (None: any); a process that drives its
    #: own executions leaves everyone else's to the processes that serve them.
    only: Collection[str] | None = None
    #: Definition ids the caller has compiled: their records are not loaded.
    known_definitions: Container[str] = ()
    #: Execution id -> decision number of the interpreter state the caller holds:
    #: those are not rebuilt from snapshot and history.
    held: Mapping[str, int] = field(default_factory=dict)
    #: The rows of executions as the caller's earlier rounds saved them
    #: (``RoundOutcome.rows``), given when the caller knows of no other work
    #: waiting. When they cover every execution of ``finishes`` (with state held
    #: and definition known), the round reads nothing: it decides just those,
    #: from these rows and the finish events, leaving inbox events to a later
    #: round that reads. A row that moved meanwhile only makes its decision
    #: stale, and the write refuses it as it refuses any stale decision.
    known: Mapping[str, PendingExecution] | None = None
    #: Executions the caller has just created and has not yet seen decided
    #: (what ``Store.create_execution`` returned), given with ``known``: the
    #: round decides them from these rows and inbox rows without reading. One
    #: that another process decided meanwhile is refused by the write, as any
    #: stale decision is.
    started: Mapping[str, StartedExecution] = field(default_factory=dict)

    @property
    def kept_for_oldest(self) -> int:
        """How many of ``decide_limit`` go first to the executions that have
        waited longest; the round's own finishes come next, then the rest of
        the waiting ones, oldest first. Deciding a finish in its own round
        saves putting it in the inbox and reading it back; the share kept for
        the oldest keeps a loop busy with its own chains from starving work
        that waits in the inbox."""
        return max(1, self.decide_limit // 4)


@dataclass(frozen=True)
class RoundOutcome:
    """What one ``run_round`` did."""

    #: The decisions saved, in the order decided.
    saved: list[DecisionResult]
    #: Executions whose decision was stale when saving and was not saved.
    refused: list[str]
    claimed: list[TaskRecord]
    #: Finishes refused because the attempt was no longer the owner's.
    lost: list[FinishRequest]
    #: The rows of the executions saved, as this round left them (for
    #: ``RoundRequest.known``).
    rows: Mapping[str, PendingExecution] = field(default_factory=dict)
    #: Events the round put in inboxes (a child's start, an end reported to a
    #: parent, a finish no decision took): work a round could decide at once.
    delivered: int = 0

    @property
    def decided(self) -> int:
        """How many executions' decisions were saved."""
        return len(self.saved)


@dataclass(frozen=True)
class LostLeases:
    """A task whose attempts lost their lease ``count`` times, the last at ``last_time``."""

    execution_id: str
    task_id: str
    #: The task's name while it still has a row (it is waiting or running).
    name: str | None
    queue: str | None
    count: int
    last_time: float

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> LostLeases:
        """From a row of either backend's ``lost_leases`` statement."""
        return cls(
            execution_id=row["execution_id"],
            task_id=row["task_id"],
            name=row["name"],
            queue=row["queue"],
            count=int(row["lost"]),
            last_time=float(row["last_time"]),
        )


@dataclass(frozen=True)
class QueuePoll:
    """``poller`` (a worker loop's owner id) asked ``queue`` for work at
    ``polled_at``; ``description`` says who it is to a person (host and pid)."""

    queue: str
    poller: str
    description: str
    polled_at: float

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> QueuePoll:
        """From a row of either backend's ``queue_polls`` table."""
        return cls(row["queue"], row["poller"], row["description"], float(row["polled_at"]))


@dataclass(frozen=True)
class StoreCapabilities:
    """What a backend can do; the engine adapts, tests cover both branches."""

    #: Processes on other machines can share this store.
    multi_host: bool
    #: The store can wake waiting processes when work arrives (LISTEN/NOTIFY);
    #: without it, processes poll.
    notifications: bool


class DefinitionStore(Protocol):
    """Registered definitions (immutable once saved)."""

    def save_definition(self, definition: DefinitionRecord) -> None:
        """Keep ``definition``; saving the same id again changes nothing."""

    def load_definition(self, definition_id: str) -> DefinitionRecord:
        """The definition, or ``DefinitionNotFound``."""

    def list_definitions(
        self, *, name: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[DefinitionRecord]:
        """Definitions, newest first (by creation time, then id), only of ``name``
        and ``kind`` when given."""


class ExecutionStore(Protocol):
    """Executions, their append-only histories and their inboxes."""

    def create_execution(
        self,
        execution_id: str,
        definition: DefinitionRecord,
        first: Event,
        now: float,
        *,
        tags: Sequence[str] = (),
    ) -> StartedExecution:
        """Create the execution with ``first`` (``ExecutionStarted``) in its inbox
        (saving ``definition`` too if it is new), carrying ``tags`` (checked by
        ``check_tags``). A run started under a workflow id
        (``ExecutionStarted.workflow_id``) holds it while open: another open run
        holding it refuses the start with ``WorkflowIdTaken``. Returns its row
        and inbox row as a round would read them (``RoundRequest.started``)."""

    def open_run(self, workflow_id: str) -> ExecutionRecord | None:
        """The open (not final) run holding ``workflow_id``, if any."""

    def load_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution's row, or ``ExecutionNotFound``."""

    def list_executions(
        self,
        *,
        limit: int = 100,
        statuses: Sequence[str] = (),
        excluding: Sequence[str] = (),
        kinds: Sequence[str] | None = None,
        definition_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        before: tuple[float, str] | None = None,
        parent_id: str | None = None,
        tags: Sequence[str] = (),
        text: str | None = None,
        updated_before: float | None = None,
    ) -> list[ExecutionRecord]:
        """Executions, newest first (by creation time, then id): only those in
        ``statuses`` when given, none in ``excluding``, only of ``kinds``, of
        ``definition_id`` and started by ``parent_id`` when given, created in
        ``[since, until)``, carrying every one of ``tags``, whose id or name
        contains ``text`` (ignoring case), last changed before
        ``updated_before``, and only those after ``before`` (the
        ``(created_at, id)`` of the last row of the previous page) in that order."""

    def count_executions(
        self,
        *,
        statuses: Sequence[str] = (),
        excluding: Sequence[str] = (),
        kinds: Sequence[str] | None = None,
        definition_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        tags: Sequence[str] = (),
        text: str | None = None,
        updated_before: float | None = None,
    ) -> dict[str, int]:
        """How many executions ``list_executions`` would list with these filters
        (all its pages), by status; statuses with none are left out."""

    def execution_tags(self, execution_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The tags of each of these executions that exists (sorted)."""

    def lost_leases(
        self, error_types: Sequence[str], *, at_least: int = 2, limit: int = 100
    ) -> list[LostLeases]:
        """Tasks of executions not final whose attempts ended ``at_least`` times
        with an error of ``error_types`` (leases that lapsed), most recent first."""

    def execution_counts(self) -> dict[tuple[str, str], int]:
        """How many executions there are of each ``(kind, status)``."""

    def read_history(
        self, execution_id: str, after_seq: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        """Events with ``seq > after_seq``, in order, the first ``limit`` of them
        when given; ``ExecutionNotFound`` if absent."""

    def snapshot_and_tail(self, execution_id: str) -> tuple[JSON, list[RecordedEvent]]:
        """The execution's saved interpreter state (None when none is saved) and
        the events recorded after it: a cheap way to rebuild its state, for
        views of a long history; ``ExecutionNotFound`` if absent."""

    def deliver(self, execution_id: str, events: Sequence[Event], now: float) -> None:
        """Put input events in the execution's inbox (``ExecutionNotFound`` if absent)."""

    def forget_snapshots(self, execution_ids: Sequence[str] | None = None) -> int:
        """Drop the saved interpreter state of these executions (of all when None).

        Snapshots are only a cache of what history says: the next decision of
        such an execution rebuilds its state from history. Use after an upgrade
        that changes an interpreter's state format, or to prove the point.
        """

    def delete_executions(self, execution_ids: Sequence[str]) -> int:
        """Delete these executions, if final, with everything kept for them
        (history, inbox, tasks, timers); return how many were deleted.

        For retention: an execution that is not final (its status is not one
        of ``FINAL_EXECUTION_STATUSES``) is left alone.
        """


class DecisionRounds(Protocol):
    """The decision round: see the module docstring."""

    def run_round(self, request: RoundRequest, decide: DecideFn) -> RoundOutcome:
        """Apply ``request.finishes`` (those no longer held come back as ``lost``),
        decide up to ``decide_limit`` executions with inbox events or finished
        attempts (``decide`` runs outside any write transaction), save the
        results that are not stale, and claim ``request.claim``; one commit.
        """


class TaskLeases(Protocol):
    """Task rows: claimed under leases, extended by heartbeats, ended once."""

    def claim_tasks(self, request: ClaimRequest, now: float) -> list[TaskRecord]:
        """Lease up to ``request.limit`` due tasks of its queues, oldest first.

        Each claim increments the task's attempt number and sets its lease
        expiry to ``now + lease`` (capped by the attempt's deadline).
        """

    def heartbeat_tasks(
        self, owner: str, keys: Sequence[tuple[str, str]], lease: float, now: float
    ) -> set[tuple[str, str]]:
        """Extend ``owner``'s leases on ``(execution_id, task_id)`` keys; return
        the keys it still holds (a missing key means its lease was lost)."""

    def finish_task(self, request: FinishRequest, now: float) -> None:
        """End an attempt as ``request.finish`` says; ``LeaseLost`` if it is no
        longer the holder's (or, with ``owner=None``, no longer suspended)."""

    def expired_tasks(self, now: float, limit: int) -> list[TaskRecord]:
        """Claimed tasks whose lease expired before ``now``."""

    def held_task(
        self, execution_id: str, task_id: str, attempt: int, owner: str
    ) -> TaskRecord | None:
        """The task of an attempt ``owner`` still holds, or None (it ended, or its
        lease was lost or broken)."""

    def waiting_tasks(self, execution_id: str, name: str | None = None) -> list[TaskRecord]:
        """Suspended tasks of an execution (named ``name`` when given), oldest first."""

    def break_leases(self, owners: Sequence[str], now: float) -> int:
        """Expire every lease held by ``owners`` now (they are known to be dead)."""

    def lease_owners(self) -> list[str]:
        """Owners that currently hold task leases."""

    def task_counts(self) -> dict[tuple[str, str], int]:
        """How many tasks there are in each ``(queue, status)``."""


class Timers(Protocol):
    """Timers and the next moment anything becomes due."""

    def fire_due_timers(self, now: float, limit: int) -> int:
        """Move timers due by ``now`` into their executions' inboxes as ``TimerFired``."""

    def next_wakeup(
        self,
        kinds: Sequence[str] | None = None,
        actions: Sequence[str] | None = None,
        own: Sequence[str] = (),
        only: Collection[str] | None = None,
    ) -> float | None:
        """The earliest time an engine task (not external work), a lease expiry, a
        timer or an inbox event becomes due, if any. Inbox events count only for
        executions of ``kinds`` (and among ``only``), and tasks only for
        ``actions`` (or executions in ``own``), when given: what the caller can
        decide and run."""


class WakeUps(Protocol):
    """Being told that another process added work."""

    def wait_for_work(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for any process to add work (tasks, inbox
        events, timers); True if woken, False on timeout.

        Without ``capabilities.notifications`` it returns False at once and
        callers poll. A True may be spurious: look for work, then wait again.
        """


class KeyValues(Protocol):
    """StackStorm's datastore (``st2kv``): see ``cadenza.store.datastore``."""

    def kv_set(self, entry: DatastoreEntry) -> None:
        """Insert or replace ``entry`` (``InputError`` for a bad scope or key)."""

    def kv_get(self, scope: str, key: str, user: str = "") -> DatastoreEntry | None:
        """The entry at ``(scope, key)``, of ``user`` in the user scope; None if absent."""

    def kv_list(
        self, prefix: str = "", *, scope: str | None = None, user: str | None = None
    ) -> list[DatastoreEntry]:
        """Entries whose key starts with ``prefix``, ordered by scope, user and key;
        only of ``scope`` and ``user`` when given."""

    def kv_delete(self, scope: str, key: str, user: str = "") -> bool:
        """Delete the entry; whether there was one."""


class QueuePollRecords(Protocol):
    """When worker loops last asked each queue for work: what the console shows
    of a task waiting on a queue. Loops record at most every few seconds, never
    per claim, so a recorded time may be that much older than the latest poll."""

    def record_queue_polls(self, polls: Sequence[QueuePoll], forget_before: float) -> None:
        """Keep each poll as its ``(queue, poller)`` row (an earlier time never
        replaces a later one), and delete every row last polled before
        ``forget_before`` (pollers gone quiet); one write transaction."""

    def queue_polls(self) -> list[QueuePoll]:
        """Every kept poll, by queue, latest first."""


class Store(
    DefinitionStore,
    ExecutionStore,
    DecisionRounds,
    TaskLeases,
    Timers,
    WakeUps,
    KeyValues,
    QueuePollRecords,
    Protocol,
):
    """Durable state of every execution. See the module docstring."""

    capabilities: StoreCapabilities
    #: Write transactions this store object has committed (for measurements).
    commits: int
    #: The inline threshold and ceilings of the values it keeps (see
    #: ``cadenza.store.payloads``); larger values go to its blob table.
    payload_limits: PayloadLimits

    def stored_payload_bytes(self, execution_id: str) -> int:
        """What the execution's history keeps, in bytes: its rows plus the blobs
        they refer to. As of the latest claim of one of its tasks by this store
        object when there was one (no read), else as stored now."""

    def schema_version(self) -> int:
        """The applied migration number (migrations run when the store is opened)."""

    def close(self) -> None:
        """Release connections."""
