"""``PostgresStore``: the scale-out store, shared by processes on many machines.

Each protocol method is one transaction on a pooled connection. The
decision lock is a row lock: ``decide`` locks the executions it decides for
with ``SKIP LOCKED`` until it commits (see ``decisions``), and workers claim
tasks with one ``UPDATE ... SKIP LOCKED ... RETURNING`` statement, so any
number of engines and workers can share the database.

Whenever a transaction adds tasks, inbox events or timers, it also sends
``NOTIFY cadenza_work``; PostgreSQL delivers it at commit, so a woken process
always finds the work. ``wait_for_work`` waits for such a notification.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from cadenza.model.errors import (
    DefinitionNotFound,
    ExecutionNotFound,
    LeaseLost,
    StoreError,
)
from cadenza.model.events import Event, RecordedEvent, TimerFired
from cadenza.store.codec import encode_event, execution_from_row, task_from_row
from cadenza.store.postgres.connections import (
    Connection,
    ConnectionPool,
    WorkListener,
    describe_url,
    translate_errors,
)
from cadenza.store.postgres.decisions import (
    load_definitions,
    lock_work,
    recorded_event,
    save_decisions,
)
from cadenza.store.postgres.queries import QUERIES
from cadenza.store.postgres.schema import migrate, read_schema_version
from cadenza.store.protocol import (
    ClaimRequest,
    CycleOutcome,
    DecideFn,
    FinishRequest,
    StoreCapabilities,
)
from cadenza.store.records import (
    DefinitionRecord,
    ExecutionRecord,
    TaskFinish,
    TaskRecord,
)

T = TypeVar("T")

#: The URL schemes this backend opens.
SCHEMES = ("postgresql://", "postgres://")

_FINISH_QUERIES = {
    "done": "finish_task_done",
    "retry": "finish_task_retry",
    "suspend": "finish_task_suspend",
}


class PostgresStore:
    """A ``Store`` on one PostgreSQL database. Safe to share between threads.

    ``pool_size`` bounds the connections this store opens for its operations
    (one more is opened by the first ``wait_for_work``). ``commits`` counts
    the write transactions it committed.
    """

    capabilities = StoreCapabilities(multi_host=True, notifications=True)

    def __init__(self, url: str, *, pool_size: int = 10, connect_timeout: float = 10.0) -> None:
        self.url = url
        self.where = describe_url(url)
        self._pool = ConnectionPool(
            url, self.where, max_size=pool_size, connect_timeout=connect_timeout
        )
        self._listener = WorkListener(
            url, self.where, connect_timeout=connect_timeout, own_pids=self._pool.backend_pids
        )
        self._commits_lock = threading.Lock()
        self.commits = 0
        try:
            with self._write() as conn:
                migrate(conn, self.where)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        """Open ``postgresql://user@host:port/dbname`` (``postgres://`` also works)."""
        if not url.startswith(SCHEMES):
            raise StoreError(f"not a PostgreSQL store URL: {url!r}")
        return cls(url)

    # --- plumbing ----------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with translate_errors(self.where), self._pool.connection() as conn:
            with conn.transaction():
                yield conn
            with self._commits_lock:
                self.commits += 1

    def _read(self, fn: Callable[[Connection], T]) -> T:
        with translate_errors(self.where), self._pool.connection() as conn:
            return fn(conn)

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        return self._read(read_schema_version)

    def wait_for_work(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for another transaction to add work.

        True when another store (another process, or another store object in
        this one) added tasks, inbox events or timers since the previous True,
        or when notifications may have been missed
        (the listening connection failed); False when ``timeout`` passed
        quietly. The first call starts listening, so work added before it is
        not reported: look for work after the first call, then wait.
        """
        with translate_errors(self.where):
            return self._listener.wait(timeout)

    def close(self) -> None:
        self._listener.close()
        self._pool.close()

    # --- definitions ------------------------------------------------------------------

    def save_definition(self, definition: DefinitionRecord) -> None:
        with self._write() as conn:
            conn.execute(QUERIES["save_definition"], _definition_row(definition))

    def load_definition(self, definition_id: str) -> DefinitionRecord:
        found = self._read(lambda c: load_definitions(c, [definition_id]))
        if definition_id not in found:
            raise DefinitionNotFound(f"no definition with id {definition_id!r}")
        return found[definition_id]

    # --- executions and history -------------------------------------------------------

    def create_execution(
        self, execution_id: str, definition: DefinitionRecord, first: Event, now: float
    ) -> None:
        with self._write() as conn:
            conn.execute(QUERIES["save_definition"], _definition_row(definition))
            conn.execute(
                QUERIES["insert_execution"],
                (execution_id, definition.id, definition.kind, definition.name, now, now, now),
            )
            conn.execute(QUERIES["insert_inbox"], (execution_id, now, *encode_event(first)))
            conn.execute(QUERIES["notify_work"])

    def load_execution(self, execution_id: str) -> ExecutionRecord:
        row = self._read(lambda c: c.execute(QUERIES["load_execution"], (execution_id,)).fetchone())
        if row is None:
            raise ExecutionNotFound(f"no execution with id {execution_id!r}")
        return execution_from_row(row)

    def list_executions(
        self, *, limit: int = 100, statuses: Sequence[str] = ()
    ) -> list[ExecutionRecord]:
        rows = self._read(
            lambda c: c.execute(
                QUERIES["list_executions"], {"statuses": list(statuses), "limit": limit}
            ).fetchall()
        )
        return [execution_from_row(r) for r in rows]

    def read_history(self, execution_id: str, after_seq: int = 0) -> list[RecordedEvent]:
        def read(c: Connection) -> list[dict[str, Any]]:
            rows = c.execute(QUERIES["read_history"], (execution_id, after_seq)).fetchall()
            # An empty answer is the only one that needs to know whether the
            # execution exists; most reads skip this round trip.
            if (
                not rows
                and c.execute(QUERIES["execution_exists"], (execution_id,)).fetchone() is None
            ):
                raise ExecutionNotFound(f"no execution with id {execution_id!r}")
            return rows

        return [recorded_event(r) for r in self._read(read)]

    def deliver(self, execution_id: str, events: Sequence[Event], now: float) -> None:
        with self._write() as conn:
            if not events:
                if conn.execute(QUERIES["execution_exists"], (execution_id,)).fetchone() is None:
                    raise ExecutionNotFound(f"no execution with id {execution_id!r}")
                return
            _deliver(conn, [(execution_id, e) for e in events], now)

    def forget_snapshots(self, execution_ids: Sequence[str] | None = None) -> int:
        ids = None if execution_ids is None else list(execution_ids)
        with self._write() as conn:
            return conn.execute(QUERIES["forget_snapshots"], {"ids": ids}).rowcount

    # --- decisions -----------------------------------------------------------------------

    def decide(
        self,
        owner: str,
        limit: int,
        decide: DecideFn,
        now: float,
        known_definitions: Container[str] = (),
        known_states: Mapping[str, int] | None = None,
    ) -> int:
        with self._write() as conn:
            works, inbox_ids = lock_work(conn, limit, known_definitions, known_states or {})
            if not works:
                return 0
            results = decide(works)
            save_decisions(conn, works, results, inbox_ids, now)
            return len(results)

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
        with self._write() as conn:
            lost = [f for f in finishes if not _finish(conn, f, now)]
            works, inbox_ids = lock_work(conn, decide_limit, known_definitions, known_states or {})
            decided = 0
            if works:
                results = decide(works)
                save_decisions(conn, works, results, inbox_ids, now)
                decided = len(results)
            claimed = [] if claim is None or claim.limit <= 0 else _claim(conn, claim, now)
        return CycleOutcome(decided=decided, claimed=claimed, lost=lost)

    # --- tasks -----------------------------------------------------------------------------

    def claim_tasks(
        self, owner: str, queues: Sequence[str], limit: int, lease: float, now: float
    ) -> list[TaskRecord]:
        if limit <= 0 or not queues:
            return []
        with self._write() as conn:
            return _claim(conn, ClaimRequest(owner, tuple(queues), limit, lease), now)

    def heartbeat_tasks(
        self, owner: str, keys: Sequence[tuple[str, str]], lease: float, now: float
    ) -> set[tuple[str, str]]:
        if not keys:
            return set()
        with self._write() as conn:
            rows = conn.execute(
                QUERIES["heartbeat_tasks"],
                {
                    "owner": owner,
                    "now": now,
                    "lease": lease,
                    "execution_ids": [k[0] for k in keys],
                    "task_ids": [k[1] for k in keys],
                },
            ).fetchall()
        return {(r["execution_id"], r["task_id"]) for r in rows}

    def finish_task(
        self,
        execution_id: str,
        task_id: str,
        attempt: int,
        owner: str | None,
        finish: TaskFinish,
        now: float,
    ) -> None:
        request = FinishRequest(execution_id, task_id, attempt, owner, finish)
        with self._write() as conn:
            if not _finish(conn, request, now):
                raise LeaseLost(
                    f"task {task_id!r} of execution {execution_id!r} (attempt {attempt}) "
                    "is no longer held by this owner",
                    execution_id=execution_id,
                    task_id=task_id,
                    attempt=attempt,
                )

    def expired_tasks(self, now: float, limit: int) -> list[TaskRecord]:
        rows = self._read(lambda c: c.execute(QUERIES["expired_tasks"], (now, limit)).fetchall())
        return [task_from_row(r) for r in rows]

    def find_task(self, execution_id: str, name: str, key: str | None) -> list[TaskRecord]:
        rows = self._read(
            lambda c: c.execute(QUERIES["find_tasks"], (execution_id, name)).fetchall()
        )
        tasks = [task_from_row(r) for r in rows]
        if key is not None:
            tasks = [t for t in tasks if str(t.meta.get("key", "")) == key]
        return tasks

    def break_leases(self, owners: Sequence[str], now: float) -> int:
        if not owners:
            return 0
        with self._write() as conn:
            cur = conn.execute(QUERIES["break_leases"], {"now": now, "owners": list(owners)})
            return cur.rowcount

    def lease_owners(self) -> list[str]:
        rows = self._read(lambda c: c.execute(QUERIES["lease_owners"]).fetchall())
        return sorted(r["lease_owner"] for r in rows if r["lease_owner"])

    # --- timers ------------------------------------------------------------------------------

    def fire_due_timers(self, now: float, limit: int) -> int:
        # A read first: most rounds find no timer due and must not commit.
        if self._read(lambda c: c.execute(QUERIES["any_due_timer"], (now,)).fetchone()) is None:
            return 0
        with self._write() as conn:
            due = conn.execute(QUERIES["take_due_timers"], (now, limit)).fetchall()
            due.sort(key=lambda r: (r["fire_at"], r["execution_id"], r["timer_id"]))
            _deliver(
                conn, [(r["execution_id"], TimerFired(timer_id=r["timer_id"])) for r in due], now
            )
            return len(due)

    def next_wakeup(self) -> float | None:
        row = self._read(lambda c: c.execute(QUERIES["next_wakeup"]).fetchone())
        return None if row is None or row["due"] is None else float(row["due"])


def _definition_row(definition: DefinitionRecord) -> tuple[str, str, str, str, float]:
    return (
        definition.id,
        definition.kind,
        definition.name,
        definition.source,
        definition.created_at,
    )


def _deliver(conn: Connection, deliveries: Sequence[tuple[str, Event]], now: float) -> None:
    """Put each ``(execution_id, event)`` in its inbox, in order, and wake listeners.

    ``ExecutionNotFound`` if an execution is missing.
    """
    if not deliveries:
        return
    wanted = sorted({execution_id for execution_id, _ in deliveries})
    marked = conn.execute(QUERIES["mark_pending"], {"now": now, "ids": wanted}).fetchall()
    missing = set(wanted) - {row["id"] for row in marked}
    if missing:
        raise ExecutionNotFound(f"no execution with id {min(missing)!r}")
    with conn.cursor() as cur:
        cur.executemany(
            QUERIES["insert_inbox"],
            [(execution_id, now, *encode_event(event)) for execution_id, event in deliveries],
        )
        cur.execute(QUERIES["notify_work"])


def _claim(conn: Connection, request: ClaimRequest, now: float) -> list[TaskRecord]:
    rows = conn.execute(
        QUERIES["claim_tasks"],
        {
            "owner": request.owner,
            "now": now,
            "lease": request.lease,
            "queues": list(request.queues),
            "limit": request.limit,
        },
    ).fetchall()
    return sorted((task_from_row(r) for r in rows), key=lambda t: t.available_at)


def _finish(conn: Connection, request: FinishRequest, now: float) -> bool:
    """End an attempt as ``request.finish`` says; False if it is no longer the holder's."""
    finish = request.finish
    query = _FINISH_QUERIES.get(finish.outcome)
    if query is None:
        raise ValueError(f"unknown task finish outcome {finish.outcome!r}")
    cur = conn.execute(
        QUERIES[query],
        {
            "execution_id": request.execution_id,
            "task_id": request.task_id,
            "attempt": request.attempt,
            "owner": request.owner,
            "available_at": finish.available_at,
            "now": now,
        },
    )
    if cur.rowcount != 1:
        return False
    if finish.outcome == "retry":
        conn.execute(QUERIES["notify_work"])
    _deliver(conn, [(request.execution_id, e) for e in finish.events], now)
    return True
