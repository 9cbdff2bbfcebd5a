"""The embedded store: one SQLite file in WAL mode.

Every write is one ``BEGIN IMMEDIATE`` transaction. Reads take no lock (WAL
readers never block the writer), so a decision round loads its work, decides
with no lock held, and takes the write lock only to save: user code in an
interpreter never holds the file's write lock. A decision whose execution
moved meanwhile (another process sharing the file decided it) is refused,
as on every backend.

Several processes may share the file (engine and workers); they find new work
by polling, since SQLite cannot notify them. SQL lives in ``queries.sql``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

from cadenza.model.errors import (
    ExecutionNotFound,
    StoreError,
    StoreReadOnly,
    StoreUnavailable,
)
from cadenza.model.events import JSON, Event, ExecutionStarted, RecordedEvent, TimerFired
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES
from cadenza.store.blobs import PayloadScope, SQLiteBlobs, payload_scope, store_options
from cadenza.store.claim_check import stored_bytes
from cadenza.store.codec import (
    definition_from_row,
    definition_values,
    execution_from_row,
    recorded_event,
    task_from_row,
)
from cadenza.store.datastore import DatastoreTable, KeyValueMethods
from cadenza.store.migrations import migrations_for
from cadenza.store.payloads import PayloadLimits
from cadenza.store.protocol import (
    ClaimRequest,
    DecideFn,
    FinishRequest,
    RoundOutcome,
    RoundRequest,
    StoreCapabilities,
)
from cadenza.store.records import (
    DefinitionRecord,
    ExecutionRecord,
    InboxEntry,
    StartedExecution,
    TaskRecord,
    check_tags,
)
from cadenza.store.rounds import attempt_lost, run_round
from cadenza.store.sqlite import round_statements as rs
from cadenza.store.sqlite.faults import newer_schema, translated
from cadenza.store.sqlite.listings import SQLiteListings
from cadenza.store.sqlite.round_phases import SWEEP_UNREFERENCED_BLOBS, SQLiteRound
from cadenza.store.sqlite.round_statements import SQLiteRoundReader
from cadenza.store.sqlite.schema import migrate
from cadenza.store.sqlite.statements import execute, sql_list

T = TypeVar("T")

_BUSY_TIMEOUT_MS = 30_000
_CACHED_STATEMENTS = 512


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


#: What deleting executions removes, children rows first.
_DELETES = (
    "delete_history",
    "delete_inbox",
    "delete_tasks",
    "delete_timers",
    "delete_execution_rows",
)


class SQLiteStore(SQLiteListings, KeyValueMethods):
    """A ``Store`` on one SQLite file. Safe to share between threads."""

    _datastore = DatastoreTable("sqlite")
    capabilities = StoreCapabilities(multi_host=False, notifications=False)

    def __init__(
        self,
        path: str,
        *,
        synchronous: str = "NORMAL",
        payload_limits: PayloadLimits | None = None,
        key_file: str | None = None,
        blob_dir: str | None = None,
    ) -> None:
        self.path = path
        #: Values above ``payload_limits.inline_bytes`` go to the blob table;
        #: secrets are encrypted with the key in ``key_file`` (or
        #: ``CADENZA_KEY_FILE``) when there is one (see ``cadenza.store.codec``);
        #: blobs are files in ``blob_dir`` (or ``CADENZA_BLOB_DIR``) when given.
        self._options = store_options(payload_limits, key_file, blob_dir)
        self.payload_limits = self._options.limits
        self._lock = threading.RLock()
        #: Whether the file could only be opened for reading (a read-only file or
        #: mount): listing and showing work, writing raises ``StoreReadOnly``.
        self.read_only = False
        #: ``commits`` at the last ``checkpoint_when_idle``.
        self._checkpointed_at = 0
        #: Ids of definitions this store has committed: a start of one of them
        #: writes no definition row (definitions are immutable and never deleted).
        self._saved_definitions: set[str] = set()
        self._conn = self._connect(path)
        try:
            with self._translate():
                self._conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                self._conn.execute("PRAGMA journal_mode = WAL")
                # NORMAL in WAL mode survives any process crash; only a power loss
                # can drop the last commits. FULL is there for those who need it.
                self._conn.execute(f"PRAGMA synchronous = {synchronous}")
                self._conn.execute("PRAGMA foreign_keys = ON")
            self.commits = 0
            self._migrate()
        except (StoreReadOnly, StoreUnavailable) as exc:
            # A read-only file or mount refuses the journal set-up or the
            # migration check ("readonly database", or "unable to open" for the
            # WAL index): such a store can still be listed and shown.
            self._conn.close()
            if not os.path.exists(path):
                raise
            self._open_read_only(exc)

    def _connect(self, target: str, *, uri: bool = False) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                target,
                isolation_level=None,
                check_same_thread=False,
                timeout=30,
                uri=uri,
                # IN lists of every length are distinct statements: keep many.
                cached_statements=_CACHED_STATEMENTS,
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite file {self.path!r}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        return conn

    def _open_read_only(self, cause: StoreError) -> None:
        """Open the file for reading only, as a read-only file or mount allows."""
        self.read_only = True
        self.commits = 0
        location = "file:" + urllib.parse.quote(os.path.abspath(self.path))
        # mode=ro still needs the WAL index beside the file; on a read-only
        # mount where it cannot be made, the file is read as immutable.
        for query in ("?mode=ro", "?mode=ro&immutable=1"):
            self._conn = self._connect(location + query, uri=True)
            try:
                version = self.schema_version()
            except StoreError:
                self._conn.close()
                continue
            newest = migrations_for("sqlite")[-1].version
            if version > newest:
                raise newer_schema(self.path, version, newest)
            if version < newest:
                raise StoreReadOnly(
                    f"the store {self.path!r} is read-only and needs its schema brought "
                    f"from version {version} to {newest}: open it once where it can be written",
                    path=self.path,
                )
            return
        raise cause

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        return cls(path_from_url(url))

    # --- plumbing ----------------------------------------------------------------

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise translated(self.path, exc) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._translate(), self._payloads():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            # Blobs whose last reference this transaction dropped (the triggers
            # of migration 0008 count them); at the end, since a reference can
            # be dropped before another row in the same transaction adds one.
            self._conn.execute(SWEEP_UNREFERENCED_BLOBS)
            self._conn.execute("COMMIT")
            self.commits += 1

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock, self._translate(), self._payloads():
            return fn(self._conn)

    def _payloads(self, *, deciding: bool = False) -> AbstractContextManager[PayloadScope]:
        """The blob table and options the codec uses on this connection."""
        blobs = self._options.blob_table(SQLiteBlobs(self._conn))
        return payload_scope(blobs, self._options, deciding=deciding)

    def _migrate(self) -> None:
        with self._write() as conn:
            migrate(conn, self.path)

    def stored_payload_bytes(self, execution_id: str) -> int:
        claimed = self._options.claimed_totals.get(execution_id)
        if claimed is not None:
            return claimed
        return self._read(
            lambda c: stored_bytes(self._options.blob_table(SQLiteBlobs(c)), execution_id)
        )

    def schema_version(self) -> int:
        row = self._read(lambda c: execute(c, "schema_version").fetchone())
        return int(row[0]) if row else 0

    def checkpoint_when_idle(self) -> None:
        """Copy the WAL's committed pages into the database file, if this store
        committed since the last time (a serve loop calls it when it has nothing
        to do).

        SQLite also checkpoints inside the ``COMMIT`` that takes the WAL past
        1,000 pages (about a hundred sequential steps), on the thread that
        decides the next step. A loop that goes quiet checkpoints here instead,
        so its next busy spell starts with a WAL that begins again from its
        start rather than paying for the previous spell's pages. Durability does
        not depend on checkpoints: a transaction is in the WAL when its
        ``COMMIT`` returns (synced there with ``synchronous = FULL``), and
        opening the file after a crash replays the WAL. The checkpoint is
        PASSIVE: it waits for no reader or writer (another process's), copies
        what it can, and the next one copies the rest.
        """
        if self.read_only or self.commits == self._checkpointed_at:
            return
        with self._lock, self._translate():
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self._checkpointed_at = self.commits

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- definitions ------------------------------------------------------------------

    def save_definition(self, definition: DefinitionRecord) -> None:
        with self._write() as conn:
            execute(conn, "save_definition", definition_values(definition))
        self._saved_definitions.add(definition.id)

    def load_definition(self, definition_id: str) -> DefinitionRecord:
        from cadenza.model.errors import DefinitionNotFound

        found = self._read(lambda c: rs.load_definitions(c, [definition_id]))
        if definition_id not in found:
            raise DefinitionNotFound(f"no definition with id {definition_id!r}")
        return found[definition_id]

    def list_definitions(
        self, *, name: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[DefinitionRecord]:
        params = {"name": name, "kind": kind, "limit": limit}
        rows = self._read(lambda c: execute(c, "list_definitions", params).fetchall())
        return [definition_from_row(r) for r in rows]

    # --- executions and history -------------------------------------------------------

    def create_execution(
        self,
        execution_id: str,
        definition: DefinitionRecord,
        first: Event,
        now: float,
        *,
        tags: Sequence[str] = (),
    ) -> StartedExecution:
        tags = check_tags(tags)
        with self._write() as conn:
            if definition.id not in self._saved_definitions:
                execute(conn, "save_definition", definition_values(definition))
            execute(
                conn,
                "insert_execution",
                {
                    "id": execution_id,
                    "definition_id": definition.id,
                    "kind": definition.kind,
                    "name": definition.name,
                    "now": now,
                    "parent_id": None,
                    "parent_task_id": None,
                },
            )
            if tags:
                params = {"id": execution_id, "tags": json.dumps(tags)}
                execute(conn, "set_execution_tags", params)
            workflow_id = first.workflow_id if isinstance(first, ExecutionStarted) else None
            if workflow_id is not None:
                rs.hold_workflow_id(conn, execution_id, workflow_id)
            # insert_execution marked it pending already.
            (inbox_id,) = rs.insert_inbox_rows(conn, [(execution_id, first)], now)
        self._saved_definitions.add(definition.id)
        return StartedExecution.new(execution_id, definition, InboxEntry(inbox_id, now, first))

    def open_run(self, workflow_id: str) -> ExecutionRecord | None:
        return self._read(lambda c: rs.open_workflow_run(c, workflow_id))

    def load_execution(self, execution_id: str) -> ExecutionRecord:
        # Rows become records inside the read: a large value is read from the
        # blob table on the same connection.
        found = self._read(
            lambda c: [
                execution_from_row(r)
                for r in execute(c, "load_execution", {"id": execution_id}).fetchall()
            ]
        )
        if not found:
            raise ExecutionNotFound(f"no execution with id {execution_id!r}")
        return found[0]

    def read_history(
        self, execution_id: str, after_seq: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        params = {"id": execution_id, "after": after_seq, "limit": -1 if limit is None else limit}

        def read(c: sqlite3.Connection) -> list[RecordedEvent]:
            _require_execution(c, execution_id)
            rows = execute(c, "read_history", params)
            return [recorded_event(r) for r in rows]

        return self._read(read)

    def snapshot_and_tail(self, execution_id: str) -> tuple[JSON, list[RecordedEvent]]:
        def read(c: sqlite3.Connection) -> tuple[JSON, list[RecordedEvent]]:
            _require_execution(c, execution_id)
            snapshots, tails = SQLiteRoundReader(c).snapshots_and_tails([execution_id])
            return snapshots.get(execution_id), tails[execution_id]

        return self._read(read)

    def deliver(self, execution_id: str, events: Sequence[Event], now: float) -> None:
        with self._write() as conn:
            _require_execution(conn, execution_id)
            rs.deliver(conn, [(execution_id, e) for e in events], now)

    def forget_snapshots(self, execution_ids: Sequence[str] | None = None) -> int:
        ids = None if execution_ids is None else sql_list(execution_ids)
        with self._write() as conn:
            return execute(conn, "forget_snapshots", {"ids": ids}).rowcount

    def delete_executions(self, execution_ids: Sequence[str]) -> int:
        if not execution_ids:
            return 0
        final = sql_list(sorted(FINAL_EXECUTION_STATUSES))
        with self._write() as conn:
            params = {"ids": sql_list(execution_ids), "final": final}
            ids = [row["id"] for row in execute(conn, "deletable_executions", params)]
            if not ids:
                return 0
            for statement in _DELETES:
                execute(conn, statement, {"ids": sql_list(ids)})
            return len(ids)

    # --- decision rounds -----------------------------------------------------------------

    def run_round(self, request: RoundRequest, decide: DecideFn) -> RoundOutcome:
        return run_round(SQLiteRound(self), request, decide)

    # --- tasks -----------------------------------------------------------------------------

    def claim_tasks(self, request: ClaimRequest, now: float) -> list[TaskRecord]:
        # A read first: an idle poll must not take the write lock (and count a commit).
        if not self._read(lambda c: rs.has_due_tasks(c, request, now)):
            return []
        # A claimed task's input is used, not shown: a secret in it must decrypt.
        with self._write() as conn, self._payloads(deciding=True):
            return rs.claim(conn, request, now)

    def heartbeat_tasks(
        self, owner: str, keys: Sequence[tuple[str, str]], lease: float, now: float
    ) -> set[tuple[str, str]]:
        held: set[tuple[str, str]] = set()
        if not keys:
            return held
        with self._write() as conn:
            for execution_id, task_id in keys:
                cur = execute(
                    conn,
                    "heartbeat_task",
                    {
                        "now": now,
                        "lease": lease,
                        "execution_id": execution_id,
                        "task_id": task_id,
                        "owner": owner,
                    },
                )
                if cur.rowcount:
                    held.add((execution_id, task_id))
        return held

    def finish_task(self, request: FinishRequest, now: float) -> None:
        with self._write() as conn:
            if not rs.finish(conn, request, now):
                raise attempt_lost(request)
            rs.deliver(conn, [(request.execution_id, e) for e in request.finish.events], now)

    def expired_tasks(self, now: float, limit: int) -> list[TaskRecord]:
        params = {"now": now, "limit": limit}
        return self._read(
            lambda c: [task_from_row(r) for r in execute(c, "expired_tasks", params).fetchall()]
        )

    def held_task(
        self, execution_id: str, task_id: str, attempt: int, owner: str
    ) -> TaskRecord | None:
        params = {
            "execution_id": execution_id,
            "task_id": task_id,
            "attempt": attempt,
            "owner": owner,
        }
        found = self._read(
            lambda c: [task_from_row(r) for r in execute(c, "held_task", params).fetchall()]
        )
        return found[0] if found else None

    def waiting_tasks(self, execution_id: str, name: str | None = None) -> list[TaskRecord]:
        params = {"id": execution_id, "name": name}
        return self._read(
            lambda c: [task_from_row(r) for r in execute(c, "waiting_tasks", params).fetchall()]
        )

    def break_leases(self, owners: Sequence[str], now: float) -> int:
        if not owners:
            return 0
        with self._write() as conn:
            cur = execute(conn, "break_leases", {"now": now, "owners": sql_list(owners)})
            return cur.rowcount

    def lease_owners(self) -> list[str]:
        rows = self._read(lambda c: execute(c, "lease_owners").fetchall())
        return sorted(r[0] for r in rows if r[0])

    # --- timers ------------------------------------------------------------------------------

    def fire_due_timers(self, now: float, limit: int) -> int:
        # A read first: most rounds find no timer due and must not commit.
        if self._read(lambda c: execute(c, "any_due_timer", {"now": now}).fetchone()) is None:
            return 0
        with self._write() as conn:
            due = execute(conn, "take_due_timers", {"now": now, "limit": limit}).fetchall()
            due.sort(key=lambda r: (r["fire_at"], r["execution_id"], r["timer_id"]))
            rs.deliver(
                conn, [(r["execution_id"], TimerFired(timer_id=r["timer_id"])) for r in due], now
            )
            return len(due)

    def wait_for_work(self, timeout: float) -> bool:
        """SQLite cannot notify other processes: False at once; callers poll."""
        return False

    def next_wakeup(
        self,
        kinds: Sequence[str] | None = None,
        actions: Sequence[str] | None = None,
        own: Sequence[str] = (),
        only: Collection[str] | None = None,
    ) -> float | None:
        params = {
            "kinds": None if kinds is None else sql_list(kinds),
            "only": None if only is None else sql_list(sorted(only)),
            **rs.serves(actions, own),
        }
        row = self._read(lambda c: execute(c, "next_wakeup", params).fetchone())
        return None if row is None or row[0] is None else float(row[0])


def _require_execution(conn: sqlite3.Connection, execution_id: str) -> None:
    if execute(conn, "execution_exists", {"id": execution_id}).fetchone() is None:
        raise ExecutionNotFound(f"no execution with id {execution_id!r}")
