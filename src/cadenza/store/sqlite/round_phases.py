"""The phases of a decision round on the SQLite store's connection (``RoundBackend``).

A sequential run pays for each phase once per step, so each is one small
context manager class rather than a stack of generator-based ones: the
store's lock, SQLite errors translated, the codec's payload scope for
deciding (secrets in claimed inputs must decrypt), and for the write phase
the ``BEGIN IMMEDIATE`` transaction, rolled back on any error.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Generic, Protocol, TypeVar

from cadenza.store.blobs import PayloadScope, SQLiteBlobs, StoreOptions, payload_scope
from cadenza.store.sqlite.batched_round import SQLiteBatchedRoundWriter
from cadenza.store.sqlite.faults import translated
from cadenza.store.sqlite.round_statements import SQLiteRoundReader, SQLiteRoundWriter

#: Deletes the blobs whose last reference a transaction dropped, just before it
#: commits (the triggers of migration 0008 count the references).
SWEEP_UNREFERENCED_BLOBS = "DELETE FROM blobs WHERE refs <= 0"


class RoundStore(Protocol):
    """What the phases use of ``SQLiteStore``."""

    path: str
    commits: int
    _conn: sqlite3.Connection
    _lock: threading.RLock
    _options: StoreOptions


P = TypeVar("P")


class _Phase(Generic[P]):
    """One phase: ``with`` gives its reader or writer (see the module docstring)."""

    def __init__(
        self, store: RoundStore, phase: Callable[[sqlite3.Connection], P], write: bool
    ) -> None:
        self.store = store
        self.phase = phase
        self.write = write
        self._scope: AbstractContextManager[PayloadScope] | None = None

    def __enter__(self) -> P:
        store = self.store
        conn = store._conn
        store._lock.acquire()
        try:
            blobs = store._options.blob_table(SQLiteBlobs(conn))
            self._scope = payload_scope(blobs, store._options, deciding=True)
            self._scope.__enter__()
            if self.write:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.DatabaseError as exc:
                    raise translated(store.path, exc) from exc
        except BaseException:
            self._leave()
            raise
        return self.phase(conn)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        store = self.store
        conn = store._conn
        try:
            if not self.write:
                if isinstance(exc, sqlite3.DatabaseError):
                    raise translated(store.path, exc) from exc
                return
            try:
                if exc is not None:
                    conn.execute("ROLLBACK")
                else:
                    conn.execute(SWEEP_UNREFERENCED_BLOBS)
                    conn.execute("COMMIT")
                    store.commits += 1
            except sqlite3.DatabaseError as failed:
                raise translated(store.path, failed) from failed
            if isinstance(exc, sqlite3.DatabaseError):
                raise translated(store.path, exc) from exc
        finally:
            self._leave()

    def _leave(self) -> None:
        scope, self._scope = self._scope, None
        try:
            if scope is not None:
                scope.__exit__(None, None, None)
        finally:
            self.store._lock.release()


class SQLiteRound:
    """A round's phases on the store's connection (``BatchingRoundBackend``)."""

    def __init__(self, store: RoundStore) -> None:
        self.store = store

    def reading(self) -> AbstractContextManager[SQLiteRoundReader]:
        # Plain reads, no read transaction: a row that moves between two of them
        # only makes the decision stale, and the write phase refuses it.
        return _Phase(self.store, SQLiteRoundReader, write=False)

    def writing(self) -> AbstractContextManager[SQLiteRoundWriter]:
        return _Phase(self.store, SQLiteRoundWriter, write=True)

    def batched_writing(self, rows: int) -> AbstractContextManager[SQLiteBatchedRoundWriter]:
        """The write phase assuming that nothing moved since the read (see
        ``SQLiteBatchedRoundWriter``), whatever the number of rows."""
        return _Phase(self.store, SQLiteBatchedRoundWriter, write=True)
