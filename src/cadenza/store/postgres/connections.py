"""Connections to PostgreSQL: error translation, a small pool, and the listener.

Every psycopg error leaves this backend as a Cadenza error, chained to the
original (``translate_errors``): a lost or refused connection is
``StoreUnavailable`` (the caller may retry later), anything else is
``StoreError``.

The engine calls the store from its main loop and from worker threads at
once. A psycopg connection serialises its own use, so threads sharing one
would queue behind each other's transactions; the pool instead lends each
caller a connection of its own for one operation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row

from cadenza.model.errors import (
    StoreDamaged,
    StoreError,
    StoreFault,
    StoreFull,
    StoreReadOnly,
    StoreUnavailable,
)
from cadenza.store.postgres.queries import QUERIES

Connection = psycopg.Connection[DictRow]

#: SQLSTATE classes that mean the server, not the statement, failed:
#: 08 connection exception, 57 operator intervention (shutdown, cancel),
#: 53 insufficient resources (too many connections, disk full).
_UNAVAILABLE_CLASSES = ("08", "53", "57")


#: SQLSTATEs that trying again soon does not fix (see ``StoreFault``).
_FAULTS: dict[str, type[StoreFault]] = {
    "53100": StoreFull,  # disk_full
    "25006": StoreReadOnly,  # read_only_sql_transaction (a hot standby, a read-only role)
    "42P01": StoreDamaged,  # undefined_table
    "42703": StoreDamaged,  # undefined_column
}


def describe_url(url: str) -> str:
    """``host:port/dbname`` of ``url``, for messages: never the password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StoreError(f"not a PostgreSQL connection URL: {exc}") from exc
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"{host}:{port}/{info.get('dbname') or ''}"


def is_unavailable(exc: psycopg.Error) -> bool:
    """Whether ``exc`` says the server cannot serve now, rather than the statement is wrong."""
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    # No SQLSTATE: libpq failed on its own (socket closed, server gone).
    return state is None or state.startswith(_UNAVAILABLE_CLASSES)


@contextmanager
def translate_errors(where: str) -> Iterator[None]:
    """Re-raise psycopg errors as Cadenza errors; Cadenza errors pass through."""
    try:
        yield
    except psycopg.Error as exc:
        fault = _FAULTS.get(exc.sqlstate or "")
        if fault is not None:
            raise fault(f"PostgreSQL at {where}: {exc}", where=where) from exc
        if is_unavailable(exc):
            raise StoreUnavailable(
                f"PostgreSQL at {where} is unavailable: {exc}", where=where
            ) from exc
        if (exc.sqlstate or "").startswith("40"):
            # A deadlock or serialization failure rolled the transaction back:
            # nothing was written, and the same work succeeds when tried again.
            raise StoreUnavailable(
                f"PostgreSQL at {where} rolled the transaction back "
                f"(a concurrent one won); trying again is safe: {exc}",
                where=where,
            ) from exc
        raise StoreError(f"PostgreSQL error at {where}: {exc}", where=where) from exc


def connect(url: str, where: str, connect_timeout: float) -> Connection:
    """A new autocommit connection returning rows as dicts."""
    try:
        return psycopg.connect(
            url,
            autocommit=True,
            row_factory=dict_row,
            connect_timeout=max(1, round(connect_timeout)),
        )
    except psycopg.Error as exc:
        raise StoreUnavailable(f"cannot connect to PostgreSQL at {where}: {exc}") from exc


class ConnectionPool:
    """At most ``max_size`` connections, each lent to one thread at a time.

    Connections are opened on demand and kept while healthy. One that broke,
    or that comes back inside a transaction, is closed instead of reused. A
    broken connection usually means the server restarted, so the idle ones
    are dropped with it rather than failing one caller each.
    """

    def __init__(
        self,
        url: str,
        where: str,
        *,
        max_size: int = 10,
        acquire_timeout: float = 30.0,
        connect_timeout: float = 10.0,
    ) -> None:
        if max_size < 1:
            raise ValueError("a pool needs at least one connection")
        self._url = url
        self._where = where
        self._acquire_timeout = acquire_timeout
        self._connect_timeout = connect_timeout
        self._slots = threading.BoundedSemaphore(max_size)
        self._lock = threading.Lock()
        self._idle: list[Connection] = []
        self._closed = False
        #: Server process ids of this pool's connections: notifications they
        #: send are this store's own work, which its caller already knows about.
        self.backend_pids: set[int] = set()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """Lend a connection for the length of the ``with`` block."""
        if not self._slots.acquire(timeout=self._acquire_timeout):
            raise StoreUnavailable(
                f"no connection to PostgreSQL at {self._where} came free within "
                f"{self._acquire_timeout} s (pool exhausted)"
            )
        try:
            conn = self._take()
            try:
                yield conn
            finally:
                self._give_back(conn)
        finally:
            self._slots.release()

    def _take(self) -> Connection:
        with self._lock:
            if self._closed:
                raise StoreError(f"the store for PostgreSQL at {self._where} is closed")
            if self._idle:
                return self._idle.pop()
        conn = connect(self._url, self._where, self._connect_timeout)
        with self._lock:
            self.backend_pids.add(conn.info.backend_pid)
        return conn

    def _give_back(self, conn: Connection) -> None:
        broken = conn.closed or conn.broken
        reusable = not broken and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        stale: list[Connection] = []
        with self._lock:
            if reusable and not self._closed:
                self._idle.append(conn)
                return
            if broken:
                stale, self._idle = self._idle, []
            for gone in (conn, *stale):
                self.backend_pids.discard(gone.info.backend_pid)
        conn.close()
        for other in stale:
            other.close()

    def close(self) -> None:
        """Close idle connections now, and lent ones as they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


#: The longest a listener's wait goes without checking whether it was closed.
_WAIT_SLICE = 0.05


class WorkListener:
    """A dedicated connection that LISTENs for the backend's work notifications.

    It stays subscribed between waits, so a notification that arrives while
    nobody waits is not lost: the next ``wait`` returns at once. Waits from
    several threads take turns on the one connection.

    ``pause`` unsubscribes until the next ``wait``. PostgreSQL spends a
    transaction on every listening session for each batch of notifications
    it delivers, so a process that could not take more work anyway (every
    thread busy) pauses rather than have the server read every other
    process's notifications for it. The ``wait`` after a pause subscribes
    again and returns True at once: work added while paused was not heard of.
    """

    def __init__(
        self,
        url: str,
        where: str,
        *,
        connect_timeout: float = 10.0,
        own_pids: Collection[int] = (),
    ) -> None:
        self._url = url
        self._where = where
        self._connect_timeout = connect_timeout
        # Notifications from these server processes (the same store's pool) are
        # skipped: waking our own loop for work it just saved costs an empty round.
        self._own_pids = own_pids
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._closed = False
        #: Unsubscribed by ``pause`` (the connection is kept).
        self._paused = False

    def wait(self, timeout: float) -> bool:
        """True when work was notified since the last True, False after ``timeout``."""
        deadline = time.monotonic() + max(0.0, timeout)
        if not self._lock.acquire(timeout=max(0.0, timeout)):
            return False
        try:
            conn = self._connection()
            try:
                if self._paused:
                    conn.execute(QUERIES["listen_work"])
                    self._paused = False
                    return True
                return self._wait_on(conn, deadline)
            except psycopg.Error:
                # Notifications sent while the connection was failing are lost;
                # wake the caller so it looks for work itself. The next wait
                # connects again (StoreUnavailable if it cannot).
                self._drop()
                return True
        finally:
            self._lock.release()

    def _wait_on(self, conn: Connection, deadline: float) -> bool:
        # Reading notifications as they arrive costs no statement (a "SELECT 1"
        # to make the driver read would be one more transaction per wake-up).
        # The wait is cut in slices so that ``close`` does not wait for all of it.
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            arrived = conn.notifies(timeout=min(remaining, _WAIT_SLICE))
            if any(notify.pid not in self._own_pids for notify in arrived):
                return True
            if remaining <= _WAIT_SLICE or self._closed:
                return False

    def pause(self) -> None:
        """Stop listening until the next ``wait`` (nothing to do if not listening,
        or while another thread waits: that one wants to hear of work)."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._conn is None or self._paused or self._closed:
                return
            try:
                self._conn.execute(QUERIES["unlisten_work"])
            except psycopg.Error:
                # The next wait connects again; still paused, it says that work
                # may have been missed.
                self._drop()
            self._paused = True
        finally:
            self._lock.release()

    def _connection(self) -> Connection:
        if self._closed:
            raise StoreError(f"the store for PostgreSQL at {self._where} is closed")
        if self._conn is None:
            conn = connect(self._url, self._where, self._connect_timeout)
            with translate_errors(self._where):
                try:
                    conn.execute(QUERIES["listen_work"])
                except BaseException:
                    conn.close()
                    raise
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        # Marked closed before taking the lock: a wait in progress sees it at the
        # end of its current slice and lets go.
        self._closed = True
        with self._lock:
            self._drop()
