"""The phases of a decision round on one pooled PostgreSQL connection
(``RoundBackend`` and ``BatchingRoundBackend``): the read with the executions it
took marked, the write in one transaction, or the write and its COMMIT in one
pipeline; the mark released as the last statement before the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

from cadenza.store.blobs import PayloadScope
from cadenza.store.postgres.batched_round import (
    BATCH_ROWS,
    PostgresBatchedRoundWriter,
    batched_transaction,
    quiet_round,
)
from cadenza.store.postgres.connections import Connection
from cadenza.store.postgres.queries import QUERIES
from cadenza.store.postgres.round_statements import PostgresRoundReader, PostgresRoundWriter
from cadenza.store.protocol import FinishRequest
from cadenza.store.records import DecisionResult, DecisionWork, NewTaskLease, TaskRecord

#: ``payloads(conn, deciding=...)``: the codec's payload scope on a connection.
PayloadsOn = Callable[..., AbstractContextManager[PayloadScope]]


class PostgresRound:
    """One round's phases on one pooled connection (``RoundBackend``)."""

    def __init__(
        self,
        conn: Connection,
        payloads: PayloadsOn,
        transaction: Callable[[Connection], AbstractContextManager[Connection]],
        committed: Callable[[], None],
    ) -> None:
        self.conn = conn
        self.reader = PostgresRoundReader(conn)
        self._payloads = payloads
        self._transaction = transaction
        self._committed = committed

    @contextmanager
    def reading(self) -> Iterator[PostgresRoundReader]:
        with self._payloads(self.conn, deciding=True):
            yield self.reader

    @contextmanager
    def writing(self) -> Iterator[PostgresRoundWriter]:
        with (
            self._transaction(self.conn),
            self._payloads(self.conn, deciding=True),
        ):
            yield PostgresRoundWriter(self.conn)
            # Unmarked as the last statement before the commit, which saves a
            # transaction per round. A decider that takes one of these
            # executions in the instant before the commit reads the old row,
            # and its own save is refused: it waits for this commit on the row
            # lock and then sees the new decision number.
            self.release()

    def batched_writing(
        self, rows: int
    ) -> AbstractContextManager[PostgresBatchedRoundWriter] | None:
        """The write phase in one pipeline (``BatchingRoundBackend``); None for a
        round with more rows than ``BATCH_ROWS``, which COPY writes faster."""
        if rows > BATCH_ROWS:
            return None
        return batched_transaction(
            self.conn,
            lambda: self._payloads(self.conn),
            before_commit=self.release,
            committed=self._committed,
        )

    def quiet_round(
        self,
        finishes: Sequence[FinishRequest],
        decisions: Sequence[tuple[DecisionWork, DecisionResult]],
        lease: NewTaskLease | None,
        now: float,
    ) -> list[TaskRecord] | None:
        """The write of a round that read nothing in one statement, its own
        transaction (``BatchingRoundBackend.quiet_round``)."""
        if self.reader.marked:
            return None  # marks to release: written with the rest, in a pipeline
        with self._payloads(self.conn, begin_on_put=True):
            leased = quiet_round(self.conn, finishes, decisions, lease, now)
        if leased is not None:
            self._committed()
        return leased

    def release(self) -> None:
        """Unmark the executions this round took (if it has not already)."""
        if self.reader.marked and not (self.conn.closed or self.conn.broken):
            self.conn.execute(QUERIES["release_executions"])
            self.reader.marked = False
