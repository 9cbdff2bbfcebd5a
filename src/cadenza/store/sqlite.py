"""The embedded store: one SQLite file in WAL mode.

Every write is one ``BEGIN IMMEDIATE`` transaction, so SQLite's write lock is
the decision lock: while ``decide`` runs, no other process can write to the
file, and one decider per execution holds across processes sharing it.

Several processes may share the file (engine and workers); they find new work
by polling, since SQLite cannot notify them.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from cadenza.model.errors import (
    DefinitionNotFound,
    ExecutionNotFound,
    LeaseLost,
    SchemaMismatch,
    StoreError,
    StoreUnavailable,
)
from cadenza.model.events import Event, RecordedEvent, TimerFired
from cadenza.store.codec import (
    decode_event,
    dumps,
    encode_event,
    encode_retry,
    execution_from_row,
    loads,
    task_from_row,
)
from cadenza.store.migrations import migrations_for
from cadenza.store.protocol import DecideFn, StoreCapabilities
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    DefinitionRecord,
    ExecutionRecord,
    TaskFinish,
    TaskRecord,
)

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
                    for statement in _split_sql(migration.sql):
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
        return self._read(lambda c: _load_definition(c, definition_id))

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
                f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE id = ?", (execution_id,)
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
                f"SELECT {_EXECUTION_COLUMNS} FROM executions {where} "
                "ORDER BY created_at DESC, id DESC LIMIT ?",
                args,
            ).fetchall()
        )
        return [execution_from_row(r) for r in rows]

    def read_history(self, execution_id: str, after_seq: int = 0) -> list[RecordedEvent]:
        def read(c: sqlite3.Connection) -> list[RecordedEvent]:
            _require_execution(c, execution_id)
            return _history(c, execution_id, after_seq)

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
            _require_execution(conn, execution_id)
            _deliver(conn, execution_id, events, now)

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
        known = known_states or {}
        with self._write() as conn:
            rows = conn.execute(
                "SELECT id, definition_id, kind, status, decision_no, next_seq, snapshot_seq "
                "FROM executions WHERE pending_since IS NOT NULL "
                "ORDER BY pending_since LIMIT ?",
                (limit,),
            ).fetchall()
            if not rows:
                return 0
            works = []
            inbox_ids: dict[str, list[int]] = {}
            for row in rows:
                eid = row["id"]
                inbox = conn.execute(
                    "SELECT id, time, type, payload FROM inbox WHERE execution_id = ? ORDER BY id",
                    (eid,),
                ).fetchall()
                inbox_ids[eid] = [r["id"] for r in inbox]
                snapshot, history = None, None
                if known.get(eid) != row["decision_no"] and row["decision_no"] > 0:
                    # The caller does not hold this state: hand it the last
                    # snapshot and what history recorded after it.
                    snapshot = loads(
                        conn.execute(
                            "SELECT snapshot FROM executions WHERE id = ?", (eid,)
                        ).fetchone()[0]
                    )
                    history = _history(conn, eid, row["snapshot_seq"])
                works.append(
                    DecisionWork(
                        execution_id=eid,
                        definition_id=row["definition_id"],
                        kind=row["kind"],
                        status=row["status"],
                        decision_no=row["decision_no"],
                        next_seq=row["next_seq"],
                        snapshot_seq=row["snapshot_seq"],
                        inputs=[decode_event(r["type"], r["payload"]) for r in inbox],
                        input_times=[r["time"] for r in inbox],
                        snapshot=snapshot,
                        history=history,
                        definition=(
                            None
                            if row["definition_id"] in known_definitions
                            else _load_definition(conn, row["definition_id"])
                        ),
                    )
                )
            results = decide(works)
            by_id = {w.execution_id: w for w in works}
            for result in results:
                _save_decision(conn, by_id[result.execution_id], result, inbox_ids, now)
            return len(results)

    # --- tasks -----------------------------------------------------------------------------

    def claim_tasks(
        self, owner: str, queues: Sequence[str], limit: int, lease: float, now: float
    ) -> list[TaskRecord]:
        if limit <= 0 or not queues:
            return []
        marks = ",".join("?" * len(queues))
        with self._write() as conn:
            rows = conn.execute(
                "UPDATE tasks SET status = 'claimed', attempt = attempt + 1, lease_owner = ?, "
                "  deadline = CASE WHEN timeout IS NULL THEN NULL ELSE ? + timeout END, "
                "  lease_expires_at = MIN(? + COALESCE(heartbeat_timeout, ?), "
                "                         ? + COALESCE(timeout, 1e18)), "
                "  updated_at = ? "
                "WHERE rowid IN (SELECT rowid FROM tasks WHERE status = 'scheduled' "
                f"  AND queue IN ({marks}) AND available_at <= ? "
                "  ORDER BY available_at LIMIT ?) "
                "RETURNING *",
                (owner, now, now, lease, now, now, *queues, now, limit),
            ).fetchall()
        return sorted((task_from_row(r) for r in rows), key=lambda t: t.available_at)

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
        if owner is None:
            held = "status = 'suspended'"
            args: tuple[Any, ...] = (execution_id, task_id, attempt)
        else:
            held = "status = 'claimed' AND lease_owner = ?"
            args = (execution_id, task_id, attempt, owner)
        where = f"WHERE execution_id = ? AND task_id = ? AND attempt = ? AND {held}"
        with self._write() as conn:
            if finish.outcome == "done":
                cur = conn.execute(f"DELETE FROM tasks {where}", args)
            elif finish.outcome == "retry":
                cur = conn.execute(
                    "UPDATE tasks SET status = 'scheduled', lease_owner = NULL, "
                    "lease_expires_at = NULL, deadline = NULL, available_at = ?, "
                    f"updated_at = ? {where}",
                    (finish.available_at, now, *args),
                )
            elif finish.outcome == "suspend":
                cur = conn.execute(
                    "UPDATE tasks SET status = 'suspended', lease_owner = NULL, "
                    f"lease_expires_at = NULL, deadline = NULL, updated_at = ? {where}",
                    (now, *args),
                )
            else:
                raise ValueError(f"unknown task finish outcome {finish.outcome!r}")
            if cur.rowcount != 1:
                raise LeaseLost(
                    f"task {task_id!r} of execution {execution_id!r} (attempt {attempt}) "
                    "is no longer held by this owner",
                    execution_id=execution_id,
                    task_id=task_id,
                    attempt=attempt,
                )
            _deliver(conn, execution_id, finish.events, now)

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
                _deliver(conn, row["execution_id"], [TimerFired(timer_id=row["timer_id"])], now)
            return len(due)

    def wait_for_work(self, timeout: float) -> bool:
        """SQLite cannot notify other processes: False at once; callers poll."""
        return False

    def next_wakeup(self) -> float | None:
        row = self._read(
            lambda c: c.execute(
                "SELECT MIN(t) FROM ("
                " SELECT MIN(available_at) AS t FROM tasks WHERE status = 'scheduled'"
                " UNION ALL SELECT MIN(lease_expires_at) FROM tasks WHERE status = 'claimed'"
                " UNION ALL SELECT MIN(fire_at) FROM timers"
                " UNION ALL SELECT MIN(pending_since) FROM executions"
                "   WHERE pending_since IS NOT NULL)"
            ).fetchone()
        )
        return None if row is None or row[0] is None else float(row[0])


def _history(conn: sqlite3.Connection, execution_id: str, after_seq: int) -> list[RecordedEvent]:
    rows = conn.execute(
        "SELECT seq, decision, time, type, payload FROM history "
        "WHERE execution_id = ? AND seq > ? ORDER BY seq",
        (execution_id, after_seq),
    ).fetchall()
    return [
        RecordedEvent(r["seq"], r["decision"], r["time"], decode_event(r["type"], r["payload"]))
        for r in rows
    ]


def _require_execution(conn: sqlite3.Connection, execution_id: str) -> None:
    if conn.execute("SELECT 1 FROM executions WHERE id = ?", (execution_id,)).fetchone() is None:
        raise ExecutionNotFound(f"no execution with id {execution_id!r}")


def _load_definition(conn: sqlite3.Connection, definition_id: str) -> DefinitionRecord:
    row = conn.execute(
        "SELECT id, kind, name, source, created_at FROM definitions WHERE id = ?",
        (definition_id,),
    ).fetchone()
    if row is None:
        raise DefinitionNotFound(f"no definition with id {definition_id!r}")
    return DefinitionRecord(**dict(row))


_EXECUTION_COLUMNS = (
    "id, definition_id, kind, name, status, created_at, updated_at, output, errors, next_seq"
)


def _deliver(
    conn: sqlite3.Connection, execution_id: str, events: Sequence[Event], now: float
) -> None:
    if not events:
        return
    conn.executemany(
        "INSERT INTO inbox (execution_id, time, type, payload) VALUES (?, ?, ?, ?)",
        [(execution_id, now, *encode_event(e)) for e in events],
    )
    conn.execute(
        "UPDATE executions SET pending_since = COALESCE(pending_since, ?) WHERE id = ?",
        (now, execution_id),
    )


def _save_decision(
    conn: sqlite3.Connection,
    work: DecisionWork,
    result: DecisionResult,
    inbox_ids: dict[str, list[int]],
    now: float,
) -> None:
    eid = result.execution_id
    consumed = inbox_ids[eid][: result.consumed_inputs]
    if consumed:
        conn.execute("DELETE FROM inbox WHERE execution_id = ? AND id <= ?", (eid, consumed[-1]))
    seq = work.next_seq
    rows = []
    for decision, time, event in result.appended:
        type_name, payload = encode_event(event)
        rows.append((eid, seq, decision, time, type_name, payload))
        seq += 1
    conn.executemany(
        "INSERT INTO history (execution_id, seq, decision, time, type, payload) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    if result.tasks:
        conn.executemany(
            "INSERT INTO tasks (execution_id, task_id, name, action, input, queue, status, "
            "attempt, available_at, retry, timeout, heartbeat_timeout, meta, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, 'scheduled', 0, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    eid,
                    t.task_id,
                    t.name,
                    t.action,
                    dumps(t.input),
                    t.queue,
                    t.available_at,
                    encode_retry(t.retry),
                    t.timeout,
                    t.heartbeat_timeout,
                    dumps(t.meta),
                    now,
                    now,
                )
                for t in result.tasks
            ],
        )
    if result.timers:
        conn.executemany(
            "INSERT OR REPLACE INTO timers (execution_id, timer_id, fire_at) VALUES (?, ?, ?)",
            [(eid, timer_id, fire_at) for timer_id, fire_at in result.timers],
        )
    snapshot_sql, snapshot_args = "", cast("tuple[object, ...]", ())
    if result.snapshot is not None:
        snapshot_sql = "snapshot = ?, snapshot_seq = ?, "
        snapshot_args = (dumps(result.snapshot), seq - 1)
    conn.execute(
        "UPDATE executions SET status = ?, decision_no = ?, next_seq = ?, "
        f"{snapshot_sql}"
        "output = CASE WHEN ? THEN ? ELSE output END, "
        "errors = CASE WHEN ? THEN ? ELSE errors END, updated_at = ?, "
        "pending_since = (SELECT MIN(time) FROM inbox WHERE execution_id = ?) "
        "WHERE id = ?",
        (
            result.status,
            result.decision_no,
            seq,
            *snapshot_args,
            result.completed,
            dumps(result.output),
            result.completed,
            dumps(result.errors),
            now,
            eid,
            eid,
        ),
    )


def _split_sql(script: str) -> list[str]:
    """Statements of a migration file (no semicolons inside statements there)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def default_path() -> str:
    """The embedded default: ``cadenza.db`` in the working directory."""
    return os.path.join(os.getcwd(), "cadenza.db")
