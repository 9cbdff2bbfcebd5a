"""The one protocol every store backend implements in full.

Grouped by concern. Each method is one transaction: it either happens
completely or not at all, and a crash at any point leaves the store as it was
before the call or as it is after it.

Definitions
    ``save_definition``, ``load_definition``
Executions and history
    ``create_execution``, ``load_execution``, ``list_executions``,
    ``read_history``, ``deliver``
Decisions (one decider per execution)
    ``cycle``: finished attempts, decisions and claims in one transaction
    ``decide``: the store opens a transaction, locks up to ``limit`` executions
    whose inbox is not empty (no other process can decide for them until the
    commit), hands them to the engine's pure ``decide`` callback, and saves
    every result (history, snapshot, status, tasks, timers, inbox removal) in
    the same transaction. Many executions share one commit (group commit).
Tasks (leased work)
    ``claim_tasks``, ``heartbeat_tasks``, ``finish_task``, ``expired_tasks``,
    ``find_task``, ``break_leases``, ``lease_owners``
Timers
    ``fire_due_timers``, ``next_wakeup``
Wake-ups
    ``wait_for_work`` (LISTEN/NOTIFY where the backend has it; else callers poll)
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from cadenza.model.events import Event, RecordedEvent
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    DefinitionRecord,
    ExecutionRecord,
    TaskFinish,
    TaskRecord,
)

DecideFn = Callable[[list[DecisionWork]], list[DecisionResult]]


@dataclass(frozen=True)
class FinishRequest:
    """End ``attempt`` of a task held by ``owner`` (None: a suspended task) as
    ``finish`` says (see ``Store.finish_task``)."""

    execution_id: str
    task_id: str
    attempt: int
    owner: str | None
    finish: TaskFinish


@dataclass(frozen=True)
class ClaimRequest:
    """Lease up to ``limit`` due tasks of ``queues`` to ``owner`` for ``lease`` seconds."""

    owner: str
    queues: tuple[str, ...]
    limit: int
    lease: float


@dataclass(frozen=True)
class CycleOutcome:
    """What one ``Store.cycle`` did."""

    decided: int
    claimed: list[TaskRecord]
    #: Finishes refused because the attempt was no longer the owner's.
    lost: list[FinishRequest]


@dataclass(frozen=True)
class StoreCapabilities:
    """What a backend can do; the engine adapts, tests cover both branches."""

    #: Processes on other machines can share this store.
    multi_host: bool
    #: The store can wake waiting processes when work arrives (LISTEN/NOTIFY);
    #: without it, processes poll.
    notifications: bool


class Store(Protocol):
    """Durable state of every execution. See the module docstring."""

    capabilities: StoreCapabilities

    # --- definitions ---------------------------------------------------------
    def save_definition(self, definition: DefinitionRecord) -> None:
        """Keep ``definition``; saving the same id again changes nothing."""

    def load_definition(self, definition_id: str) -> DefinitionRecord:
        """The definition, or ``DefinitionNotFound``."""

    # --- executions and history ------------------------------------------------
    def create_execution(
        self,
        execution_id: str,
        definition: DefinitionRecord,
        first: Event,
        now: float,
    ) -> None:
        """Create the execution with ``first`` (``ExecutionStarted``) in its inbox."""

    def load_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution's row, or ``ExecutionNotFound``."""

    def list_executions(
        self, *, limit: int = 100, statuses: Sequence[str] = ()
    ) -> list[ExecutionRecord]:
        """Executions, newest first, optionally only those in ``statuses``."""

    def read_history(self, execution_id: str, after_seq: int = 0) -> list[RecordedEvent]:
        """Events with ``seq > after_seq``, in order."""

    def deliver(self, execution_id: str, events: Sequence[Event], now: float) -> None:
        """Put input events in the execution's inbox (``ExecutionNotFound`` if absent)."""

    # --- decisions -----------------------------------------------------------------
    def decide(
        self,
        owner: str,
        limit: int,
        decide: DecideFn,
        now: float,
        known_definitions: Container[str] = (),
        known_states: Mapping[str, int] | None = None,
    ) -> int:
        """Decide for up to ``limit`` executions with inbox events; return how many.

        ``decide`` must be pure and quick: it runs inside the transaction.
        Each ``DecisionWork`` carries its definition unless its id is in
        ``known_definitions``, and its snapshot plus the history after it
        unless ``known_states`` maps its execution id to its current
        decision number (the caller holds that state already).
        """

    def cycle(
        self,
        owner: str,
        finishes: Sequence[FinishRequest],
        decide: DecideFn,
        decide_limit: int,
        claim: ClaimRequest | None,
        now: float,
        known_definitions: Container[str] = (),
        known_states: Mapping[str, int] | None = None,
    ) -> CycleOutcome:
        """One transaction for a loop's whole round (group commit): apply
        ``finishes`` (those no longer held are returned as ``lost``, not raised),
        then ``decide`` as ``Store.decide`` does (their completions included),
        then ``claim`` the tasks that are due, the new ones too.
        """

    def forget_snapshots(self, execution_ids: Sequence[str] | None = None) -> int:
        """Drop the saved interpreter states of these executions (all when None).

        Snapshots are only a cache of what history says: the next decision of
        such an execution rebuilds its state from history. Use after an upgrade
        that changes an interpreter's state format, or to prove the point.
        """

    # --- tasks ---------------------------------------------------------------------
    def claim_tasks(
        self,
        owner: str,
        queues: Sequence[str],
        limit: int,
        lease: float,
        now: float,
    ) -> list[TaskRecord]:
        """Lease up to ``limit`` due tasks of ``queues`` to ``owner``, oldest first.

        Each claim increments the task's attempt number and sets its lease
        expiry to ``now + lease`` (capped by the attempt's deadline).
        """

    def heartbeat_tasks(
        self, owner: str, keys: Sequence[tuple[str, str]], lease: float, now: float
    ) -> set[tuple[str, str]]:
        """Extend ``owner``'s leases on ``(execution_id, task_id)`` keys; return
        the keys it still holds (a missing key means its lease was lost)."""

    def finish_task(
        self,
        execution_id: str,
        task_id: str,
        attempt: int,
        owner: str | None,
        finish: TaskFinish,
        now: float,
    ) -> None:
        """End ``attempt`` of a task held by ``owner`` (or, with ``owner=None``, a
        suspended task) as ``finish`` says; ``LeaseLost`` if the attempt is no
        longer the holder's."""

    def expired_tasks(self, now: float, limit: int) -> list[TaskRecord]:
        """Claimed tasks whose lease expired before ``now``."""

    def find_task(self, execution_id: str, name: str, key: str | None) -> list[TaskRecord]:
        """Unfinished tasks of an execution with front-end name ``name``
        (and ``meta.key`` equal to ``key`` when given)."""

    def break_leases(self, owners: Sequence[str], now: float) -> int:
        """Expire every lease held by ``owners`` now (they are known to be dead)."""

    def lease_owners(self) -> list[str]:
        """Owners that currently hold task leases."""

    # --- timers --------------------------------------------------------------------------
    def fire_due_timers(self, now: float, limit: int) -> int:
        """Move timers due by ``now`` into their executions' inboxes as ``TimerFired``."""

    def next_wakeup(self) -> float | None:
        """The earliest time a scheduled task (outside activity queues, which
        outside pollers take), a lease expiry or a timer becomes due, if any."""

    # --- wake-ups --------------------------------------------------------------------------
    def wait_for_work(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for any process to add work (tasks, inbox
        events, timers); True if woken, False on timeout.

        Without ``capabilities.notifications`` it returns False at once and
        callers poll. A True may be spurious: look for work, then wait again.
        """

    # --- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        """The applied migration number (migrations run when the store is opened)."""

    def close(self) -> None:
        """Release connections."""
