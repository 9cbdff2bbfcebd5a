"""The embedded store: one SQLite file in WAL mode.

Every write is one ``BEGIN IMMEDIATE`` transaction, so SQLite's write lock is
the decision lock: while ``decide`` runs, no other process can write to the
file, and one decider per execution holds across processes sharing it.

Several processes may share the file (engine and workers); they find new work
by polling, since SQLite cannot notify them.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from cadenza.model.errors import (
    ExecutionNotFound,
    LeaseLost,
    SchemaMismatch,
    StoreError,
    StoreUnavailable,
)
from cadenza.model.events import Event, RecordedEvent, TimerFired
from cadenza.store.codec import (
    encode_event,
    execution_from_row,
    task_from_row,
)
from cadenza.store.migrations import migrations_for
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
from cadenza.store.sqlite import statements

T = TypeVar("T")

_BUSY_TIMEOUT_MS = 30_000


def path_from_url(url: str) -> str:
    """``sqlite:///relative.db`` or ``sqlite:////absolute.db`` to a file path."""
    if not url.startswith("sqlite://"):
        raise StoreError(f"not a SQLite store URL: {url!r}")
    rest = url[len("sqlite://") :]
    if rest.startswith("/"):
        rest = rest[1:]
    if not rest:
        raise StoreError(f"SQLite store URL names no file: {url!r}")
    return rest


class SQLiteStore:
    """A ``Store`` on one SQLite file. Safe to share between threads."""

    capabilities = StoreCapabilities(multi_host=False, notifications=False)

    def __init__(self, path: str, *, synchronous: str = "NORMAL") -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite file {path!r}: {exc}") from exc
        self._conn.row_factory = sqlite3.Row
        with self._translate():
            self._conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode survives any process crash; only a power loss can
            # drop the last commits. FULL is available for those who need it.
            self._conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._conn.execute("PRAGMA foreign_keys = ON")
        self.commits = 0
        self._migrate()

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        return cls(path_from_url(url))

    # --- plumbing ----------------------------------------------------------------

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                raise StoreUnavailable(f"SQLite file {self.path!r} is busy: {text}") from exc
            raise StoreError(f"SQLite error on {self.path!r}: {text}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"SQLite error on {self.path!r}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._translate():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self.commits += 1

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock, self._translate():
            return fn(self._conn)

    def _migrate(self) -> None:
        migrations = migrations_for("sqlite")
        newest = migrations[-1].version
        with self._write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS cadenza_meta (key TEXT PRIMARY KEY, value TEXT)"
            )
            row = conn.execute(
                "SELECT value FROM cadenza_meta WHERE key = 'schema_version'"
            ).fetchone()
            current = int(row[0]) if row else 0
            if current > newest:
                raise SchemaMismatch(
                    f"the store {self.path!r} has schema version {current}; this Cadenza "
                    f"understands up to {newest}. Upgrade Cadenza to use it.",
                    store_version=current,
                    known_version=newest,
                )
            for migration in migrations:
                if migration.version > current:
                    for statement in statements.split_sql(migration.sql):
                        conn.execute(statement)
            if current < newest:
                conn.execute(
                    "INSERT OR REPLACE INTO cadenza_meta (key, value) VALUES ('schema_version', ?)",
                    (str(newest),),
                )

    def schema_version(self) -> int:
        row = self._read(
            lambda c: c.execute(
                "SELECT value FROM cadenza_meta WHERE key = 'schema_version'"
            ).fetchone()
        )
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- definitions ------------------------------------------------------------------

    def save_definition(self, definition: DefinitionRecord) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO definitions (id, kind, name, source, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    definition.id,
                    definition.kind,
                    definition.name,
                    definition.source,
                    definition.created_at,
                ),
            )

    def load_definition(self, definition_id: str) -> DefinitionRecord:
        return self._read(lambda c: statements.load_definition(c, definition_id))

    # --- executions and history -------------------------------------------------------

    def create_execution(
        self, execution_id: str, definition: DefinitionRecord, first: Event, now: float
    ) -> None:
        type_name, payload = encode_event(first)
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO definitions (id, kind, name, source, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    definition.id,
                    definition.kind,
                    definition.name,
                    definition.source,
                    definition.created_at,
                ),
            )
            conn.execute(
                "INSERT INTO executions (id, definition_id, kind, name, status, created_at, "
                "updated_at, pending_since) VALUES (?, ?, ?, ?, 'requested', ?, ?, ?)",
                (execution_id, definition.id, definition.kind, definition.name, now, now, now),
            )
            conn.execute(
                "INSERT INTO inbox (execution_id, time, type, payload) VALUES (?, ?, ?, ?)",
                (execution_id, now, type_name, payload),
            )

    def load_execution(self, execution_id: str) -> ExecutionRecord:
        row = self._read(
            lambda c: c.execute(
                f"SELECT {statements.EXECUTION_COLUMNS} FROM executions WHERE id = ?",
                (execution_id,),
            ).fetchone()
        )
        if row is None:
            raise ExecutionNotFound(f"no execution with id {execution_id!r}")
        return execution_from_row(row)

    def list_executions(
        self, *, limit: int = 100, statuses: Sequence[str] = ()
    ) -> list[ExecutionRecord]:
        where = ""
        args: list[Any] = []
        if statuses:
            where = f"WHERE status IN ({','.join('?' * len(statuses))})"
            args.extend(statuses)
        args.append(limit)
        rows = self._read(
            lambda c: c.execute(
                f"SELECT {statements.EXECUTION_COLUMNS} FROM executions {where} "
                "ORDER BY created_at DESC, id DESC LIMIT ?",
                args,
            ).fetchall()
        )
        return [execution_from_row(r) for r in rows]

    def read_history(self, execution_id: str, after_seq: int = 0) -> list[RecordedEvent]:
        def read(c: sqlite3.Connection) -> list[RecordedEvent]:
            statements.require_execution(c, execution_id)
            return statements.history(c, execution_id, after_seq)

        return self._read(read)

    def forget_snapshots(self, execution_ids: Sequence[str] | None = None) -> int:
        with self._write() as conn:
            if execution_ids is None:
                return conn.execute(
                    "UPDATE executions SET snapshot = NULL, snapshot_seq = 0"
                ).rowcount
            return sum(
                conn.execute(
                    "UPDATE executions SET snapshot = NULL, snapshot_seq = 0 WHERE id = ?", (eid,)
                ).rowcount
                for eid in execution_ids
            )

    def deliver(self, execution_id: str, events: Sequence[Event], now: float) -> None:
        with self._write() as conn:
            statements.require_execution(conn, execution_id)
            statements.deliver(conn, execution_id, events, now)

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
        if not self._has_pending():
            return 0
        with self._write() as conn:
            return statements.decide(
                conn, limit, decide, now, known_definitions, known_states or {}
            )

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
        if not finishes and not self._has_pending() and not self._has_due(claim, now):
            return CycleOutcome(decided=0, claimed=[], lost=[])
        with self._write() as conn:
            lost = [f for f in finishes if not statements.finish(conn, f, now)]
            decided = statements.decide(
                conn, decide_limit, decide, now, known_definitions, known_states or {}
            )
            claimed = [] if claim is None else statements.claim(conn, claim, now)
        return CycleOutcome(decided=decided, claimed=claimed, lost=lost)

    def _has_pending(self) -> bool:
        # A read first: an idle loop must not take the write lock (and count a
        # commit) just to find nothing to do.
        return bool(
            self._read(
                lambda c: c.execute(
                    "SELECT 1 FROM executions WHERE pending_since IS NOT NULL LIMIT 1"
                ).fetchone()
            )
        )

    def _has_due(self, claim: ClaimRequest | None, now: float) -> bool:
        if claim is None or claim.limit <= 0 or not claim.queues:
            return False
        marks = ",".join("?" * len(claim.queues))
        return bool(
            self._read(
                lambda c: c.execute(
                    "SELECT 1 FROM tasks WHERE status = 'scheduled' "
                    f"AND queue IN ({marks}) AND available_at <= ? LIMIT 1",
                    (*claim.queues, now),
                ).fetchone()
            )
        )

    # --- tasks -----------------------------------------------------------------------------

    def claim_tasks(
        self, owner: str, queues: Sequence[str], limit: int, lease: float, now: float
    ) -> list[TaskRecord]:
        request = ClaimRequest(owner, tuple(queues), limit, lease)
        if not self._has_due(request, now):
            return []
        with self._write() as conn:
            return statements.claim(conn, request, now)

    def heartbeat_tasks(
        self, owner: str, keys: Sequence[tuple[str, str]], lease: float, now: float
    ) -> set[tuple[str, str]]:
        held: set[tuple[str, str]] = set()
        if not keys:
            return held
        with self._write() as conn:
            for execution_id, task_id in keys:
                cur = conn.execute(
                    "UPDATE tasks SET lease_expires_at = MIN(? + COALESCE(heartbeat_timeout, ?), "
                    "  COALESCE(deadline, 1e18)), updated_at = ? "
                    "WHERE execution_id = ? AND task_id = ? AND status = 'claimed' "
                    "AND lease_owner = ?",
                    (now, lease, now, execution_id, task_id, owner),
                )
                if cur.rowcount:
                    held.add((execution_id, task_id))
        return held

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
            if not statements.finish(conn, request, now):
                raise LeaseLost(
                    f"task {task_id!r} of execution {execution_id!r} (attempt {attempt}) "
                    "is no longer held by this owner",
                    execution_id=execution_id,
                    task_id=task_id,
                    attempt=attempt,
                )

    def expired_tasks(self, now: float, limit: int) -> list[TaskRecord]:
        rows = self._read(
            lambda c: c.execute(
                "SELECT * FROM tasks WHERE status = 'claimed' AND lease_expires_at <= ? "
                "ORDER BY lease_expires_at LIMIT ?",
                (now, limit),
            ).fetchall()
        )
        return [task_from_row(r) for r in rows]

    def find_task(self, execution_id: str, name: str, key: str | None) -> list[TaskRecord]:
        rows = self._read(
            lambda c: c.execute(
                "SELECT * FROM tasks WHERE execution_id = ? AND name = ? ORDER BY created_at",
                (execution_id, name),
            ).fetchall()
        )
        tasks = [task_from_row(r) for r in rows]
        if key is not None:
            tasks = [t for t in tasks if str(t.meta.get("key", "")) == key]
        return tasks

    def break_leases(self, owners: Sequence[str], now: float) -> int:
        if not owners:
            return 0
        marks = ",".join("?" * len(owners))
        with self._write() as conn:
            cur = conn.execute(
                f"UPDATE tasks SET lease_expires_at = ? WHERE status = 'claimed' "
                f"AND lease_owner IN ({marks}) AND lease_expires_at > ?",
                (now, *owners, now),
            )
            return cur.rowcount

    def lease_owners(self) -> list[str]:
        rows = self._read(
            lambda c: c.execute(
                "SELECT DISTINCT lease_owner FROM tasks WHERE status = 'claimed'"
            ).fetchall()
        )
        return sorted(r[0] for r in rows if r[0])

    # --- timers ------------------------------------------------------------------------------

    def fire_due_timers(self, now: float, limit: int) -> int:
        due = self._read(
            lambda c: c.execute(
                "SELECT 1 FROM timers WHERE fire_at <= ? LIMIT 1", (now,)
            ).fetchone()
        )
        if due is None:
            return 0
        with self._write() as conn:
            due = conn.execute(
                "SELECT execution_id, timer_id FROM timers WHERE fire_at <= ? "
                "ORDER BY fire_at LIMIT ?",
                (now, limit),
            ).fetchall()
            for row in due:
                conn.execute(
                    "DELETE FROM timers WHERE execution_id = ? AND timer_id = ?",
                    (row["execution_id"], row["timer_id"]),
                )
                statements.deliver(
                    conn, row["execution_id"], [TimerFired(timer_id=row["timer_id"])], now
                )
            return len(due)

    def wait_for_work(self, timeout: float) -> bool:
        """SQLite cannot notify other processes: False at once; callers poll."""
        return False

    def next_wakeup(self) -> float | None:
        row = self._read(
            lambda c: c.execute(
                "SELECT MIN(t) FROM ("
                # Tasks on activity queues wait for outside pollers: no wake-up.
                " SELECT MIN(available_at) AS t FROM tasks WHERE status = 'scheduled'"
                "   AND queue NOT LIKE 'activity:%'"
                " UNION ALL SELECT MIN(lease_expires_at) FROM tasks WHERE status = 'claimed'"
                " UNION ALL SELECT MIN(fire_at) FROM timers"
                " UNION ALL SELECT MIN(pending_since) FROM executions"
                "   WHERE pending_since IS NOT NULL)"
            ).fetchone()
        )
        return None if row is None or row[0] is None else float(row[0])
