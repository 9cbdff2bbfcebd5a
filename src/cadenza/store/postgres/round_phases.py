"""The phases of a decision round on one pooled PostgreSQL connection
(``RoundBackend`` and ``BatchingRoundBackend``): the read with the executions it
took marked, the write in one transaction, or the write and its COMMIT in one
pipeline; the mark released as the last statement before the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from cadenza.store.blobs import PayloadScope
from cadenza.store.postgres.batched_round import (
    BATCH_ROWS,
    PostgresBatchedRoundWriter,
    batched_transaction,
)
from cadenza.store.postgres.connections import Connection
from cadenza.store.postgres.queries import QUERIES
from cadenza.store.postgres.round_statements import PostgresRoundReader, PostgresRoundWriter

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

    def release(self) -> None:
        """Unmark the executions this round took (if it has not already)."""
        if self.reader.marked and not (self.conn.closed or self.conn.broken):
            self.conn.execute(QUERIES["release_executions"])
            self.reader.marked = False
