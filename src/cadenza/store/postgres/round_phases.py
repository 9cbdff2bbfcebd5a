"""The phases of a decision round on one pooled PostgreSQL connection
(``RoundBackend`` and ``BatchingRoundBackend``): the read with the executions it
took marked, the write in one transaction, or the write and its COMMIT in one
pipeline; the mark released as the last statement before the commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

from cadenza.store.postgres.batched_round import (
    BATCH_ROWS,
    PostgresBatchedRoundWriter,
    batched_transaction,
)
from cadenza.store.postgres.connections import Connection
from cadenza.store.postgres.queries import QUERIES
from cadenza.store.postgres.round_statements import PostgresRoundReader, PostgresRoundWriter

if TYPE_CHECKING:
    from cadenza.store.postgres.store import PostgresStore


class PostgresRound:
    """One round's phases on one pooled connection (``RoundBackend``)."""

    def __init__(self, store: PostgresStore, conn: Connection) -> None:
        self.store = store
        self.conn = conn
        self.reader = PostgresRoundReader(conn)

    @contextmanager
    def reading(self) -> Iterator[PostgresRoundReader]:
        with self.store._payloads(self.conn, deciding=True):
            yield self.reader

    @contextmanager
    def writing(self) -> Iterator[PostgresRoundWriter]:
        with (
            self.store._transaction(self.conn),
            self.store._payloads(self.conn, deciding=True),
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
            lambda: self.store._payloads(self.conn),
            before_commit=self.release,
            committed=self._count_commit,
        )

    def _count_commit(self) -> None:
        with self.store._commits_lock:
            self.store.commits += 1

    def release(self) -> None:
        """Unmark the executions this round took (if it has not already)."""
        if self.reader.marked and not (self.conn.closed or self.conn.broken):
            self.conn.execute(QUERIES["release_executions"])
            self.reader.marked = False
