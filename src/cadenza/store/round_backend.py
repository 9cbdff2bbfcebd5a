"""What a store provides for the decision round (``cadenza.store.rounds``):
a read phase and a write phase on one session, and optionally a write sent
as one batch whose assumptions the database checks.

The round is written once over these protocols; each backend implements
them with its own small statement sets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from cadenza.model.events import JSON, Event, RecordedEvent
from cadenza.store.children import ChildLinks
from cadenza.store.protocol import ClaimRequest, FinishRequest, RoundRequest
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    DefinitionRecord,
    InboxEntry,
    NewTaskLease,
    PendingExecution,
    TaskRecord,
)


class RoundReader(Protocol):
    """Reads of the first phase; a backend may mark executions as taken."""

    def pending_work(
        self, request: RoundRequest, finished: Sequence[str]
    ) -> list[tuple[PendingExecution, list[InboxEntry]]]:
        """Up to ``request.decide_limit`` executions of ``request.kinds`` with inbox
        events or in ``finished``, in the order ``RoundRequest.kept_for_oldest``
        says, each with its inbox in arrival order."""

    def definitions(self, ids: Sequence[str]) -> dict[str, DefinitionRecord]:
        """The definitions among ``ids`` that exist."""

    def snapshots_and_tails(
        self, ids: Sequence[str]
    ) -> tuple[dict[str, JSON], dict[str, list[RecordedEvent]]]:
        """Each execution's snapshot and the history recorded after it."""

    def has_due_tasks(self, claim: ClaimRequest, now: float) -> bool:
        """Whether ``claim`` would find a task now (so an idle round does not write)."""


class RoundWriter(ChildLinks, Protocol):
    """Statements of the third phase, inside one write transaction."""

    def finish(self, request: FinishRequest, now: float) -> bool:
        """End the attempt's task row as ``request.finish`` says, without delivering
        its events; False if the attempt is no longer the holder's."""

    def decision_numbers(self, ids: Sequence[str]) -> dict[str, int]:
        """Each execution's current decision number, locked until commit."""

    def consume_inbox(self, entry_ids: Sequence[int]) -> set[int]:
        """Delete these inbox rows; return the ids that were still there."""

    def save(
        self,
        decisions: Sequence[tuple[DecisionWork, DecisionResult]],
        now: float,
        lease: NewTaskLease | None = None,
    ) -> list[TaskRecord]:
        """Append history, enqueue tasks and timers, withdraw canceled tasks, and
        update each execution row (status, decision number, snapshot, output).
        The new tasks ``lease`` names are inserted claimed by its owner and
        returned as ``claim`` returns its tasks (none without a lease)."""

    def deliver(self, deliveries: Sequence[tuple[str, Event]], now: float) -> None:
        """Put each ``(execution_id, event)`` in its inbox, in order."""

    def claim(self, request: ClaimRequest, now: float) -> list[TaskRecord]:
        """Lease due tasks as ``request`` says."""


class BatchedRoundWriter(RoundWriter, Protocol):
    """A write phase whose statements are queued and sent together with the
    commit, when the transaction ends.

    Each ``*_later`` method queues its statement, expecting what the method
    says; the database checks it, and a failed expectation rolls the whole
    transaction back and raises ``NotCurrent`` when the transaction ends (or
    earlier, when a statement's answer is read at once).
    """

    def finish_all_later(self, requests: Sequence[FinishRequest], now: float) -> None:
        """``finish`` each of ``requests``, expecting every attempt to be still
        the holder's (a backend may end many with one statement)."""

    def lock_executions_later(self, ids: Sequence[str]) -> None:
        """Lock the executions' rows until the commit, as ``decision_numbers`` does
        (whether their decision numbers moved, ``save_later`` checks)."""

    def consume_inbox_later(self, entry_ids: Sequence[int]) -> None:
        """``consume_inbox``, expecting every row to be there."""

    def save_later(
        self,
        decisions: Sequence[tuple[DecisionWork, DecisionResult]],
        now: float,
        lease: NewTaskLease | None = None,
    ) -> Callable[[], list[TaskRecord]]:
        """``save``, expecting every execution to be still at the decision number
        its work was loaded at; the leased tasks are answered once the
        transaction has committed."""

    def claim_later(self, request: ClaimRequest, now: float) -> Callable[[], list[TaskRecord]]:
        """``claim``, answered once the transaction has committed."""


class RoundBackend(Protocol):
    """What a backend provides for one round: a read phase and a write phase
    on the same session, released when the round ends."""

    def reading(self) -> AbstractContextManager[RoundReader]: ...

    def writing(self) -> AbstractContextManager[RoundWriter]: ...


class BatchingRoundBackend(RoundBackend, Protocol):
    """A backend that can also send a round's write phase as one batch.

    It may also offer ``quiet_round(finishes, decisions, lease, now)``: the
    whole write of a round that read nothing, whose write only ends attempts,
    saves decisions and inserts tasks, in one go, returning the leased tasks
    (None when it does not take that round; ``NotCurrent`` as a batch raises).
    """

    def batched_writing(self, rows: int) -> AbstractContextManager[BatchedRoundWriter] | None:
        """A transaction whose statements are queued, or None when a write of
        ``rows`` history and task rows is better done statement by statement."""


#: ``BatchingRoundBackend.quiet_round``.
QuietRound = Callable[
    [
        Sequence[FinishRequest],
        Sequence[tuple[DecisionWork, DecisionResult]],
        NewTaskLease | None,
        float,
    ],
    list[TaskRecord] | None,
]


class NotCurrent(Exception):
    """An assumption of a batched write failed (raised by the round, or by a
    backend whose batch a stale decision broke, such as a history row written
    twice): the batch is rolled back and written again statement by statement."""
