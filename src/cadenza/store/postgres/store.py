"""``PostgresStore``: the scale-out store, shared by processes on many machines.

Each protocol method is one transaction on a pooled connection. A decision
round holds one connection for its read and write phases: the executions it
decides are marked with session advisory locks that other deciders skip (see
``round_statements``), the engine decides with no transaction open, and the
results are saved guarded by decision number. Workers claim tasks with one
``UPDATE ... SKIP LOCKED ... RETURNING`` statement, so any number of engines
and workers can share the database.

Whenever a transaction adds tasks, inbox events or timers, it also sends
``NOTIFY cadenza_work``; PostgreSQL delivers it at commit, so a woken process
always finds the work. ``wait_for_work`` waits for such a notification.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

from cadenza.model.errors import (
    DefinitionNotFound,
    ExecutionNotFound,
    StoreError,
)
from cadenza.model.events import JSON, Event, ExecutionStarted, RecordedEvent, TimerFired
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES
from cadenza.store.blobs import PayloadScope, PostgresBlobs, payload_scope, store_options
from cadenza.store.claim_check import stored_bytes
from cadenza.store.codec import (
    definition_from_row,
    definition_values,
    encode_event,
    execution_from_row,
    recorded_event,
    task_from_row,
)
from cadenza.store.datastore import DatastoreTable, KeyValueMethods
from cadenza.store.payloads import PayloadLimits
from cadenza.store.postgres import round_statements as rs
from cadenza.store.postgres.batched_round import (
    pipelined_transaction,
    statement_alone,
)
from cadenza.store.postgres.connections import (
    Connection,
    ConnectionPool,
    WorkListener,
    describe_url,
    translate_errors,
)
from cadenza.store.postgres.listings import PostgresListings
from cadenza.store.postgres.queries import QUERIES
from cadenza.store.postgres.round_phases import PostgresRound
from cadenza.store.postgres.round_statements import PostgresRoundReader
from cadenza.store.postgres.schema import migrate, read_schema_version
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

T = TypeVar("T")

#: The URL schemes this backend opens.
SCHEMES = ("postgresql://", "postgres://")


class PostgresStore(PostgresListings, KeyValueMethods):
    """A ``Store`` on one PostgreSQL database. Safe to share between threads.

    ``pool_size`` bounds the connections this store opens for its operations
    (one more is opened by the first ``wait_for_work``). ``commits`` counts
    the write transactions it committed.
    """

    _datastore = DatastoreTable("postgres")
    capabilities = StoreCapabilities(multi_host=True, notifications=True)

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        connect_timeout: float = 10.0,
        payload_limits: PayloadLimits | None = None,
        key_file: str | None = None,
        blob_dir: str | None = None,
    ) -> None:
        self.url = url
        #: Values above ``payload_limits.inline_bytes`` go to the blob table;
        #: secrets are encrypted with the key in ``key_file`` (or
        #: ``CADENZA_KEY_FILE``) when there is one (see ``cadenza.store.codec``);
        #: blobs are files in ``blob_dir`` (or ``CADENZA_BLOB_DIR``) when given.
        self._options = store_options(payload_limits, key_file, blob_dir)
        self.payload_limits = self._options.limits
        self.where = describe_url(url)
        self._pool = ConnectionPool(
            url, self.where, max_size=pool_size, connect_timeout=connect_timeout
        )
        self._listener = WorkListener(
            url, self.where, connect_timeout=connect_timeout, own_pids=self._pool.backend_pids
        )
        self._commits_lock = threading.Lock()
        #: Ids of definitions this store has committed: a start of one of them
        #: writes no definition row (definitions are immutable and never deleted).
        self._saved_definitions: set[str] = set()
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
        with (
            translate_errors(self.where),
            self._pool.connection() as conn,
            self._transaction(conn),
            self._payloads(conn),
        ):
            yield conn

    @contextmanager
    def _pipelined_write(self) -> Iterator[Connection]:
        """A write transaction whose statements travel with its BEGIN and COMMIT,
        in one round trip, for statements whose answers are not read: an
        error surfaces when the block ends, and rolls everything back."""
        with (
            translate_errors(self.where),
            self._pool.connection() as conn,
            self._payloads(conn),
            pipelined_transaction(conn),
        ):
            yield conn
        self._count_commit()

    @contextmanager
    def _transaction(self, conn: Connection) -> Iterator[Connection]:
        with conn.transaction():
            yield conn
        self._count_commit()

    def _count_commit(self) -> None:
        with self._commits_lock:
            self.commits += 1

    def _read(self, fn: Callable[[Connection], T]) -> T:
        with translate_errors(self.where), self._pool.connection() as conn, self._payloads(conn):
            return fn(conn)

    def _payloads(
        self, conn: Connection, *, deciding: bool = False, begin_on_put: bool = False
    ) -> AbstractContextManager[PayloadScope]:
        """The blob table and options the codec uses on ``conn`` (``begin_on_put``:
        see ``PostgresBlobs``)."""
        blobs = self._options.blob_table(PostgresBlobs(conn, begin_on_put=begin_on_put))
        return payload_scope(blobs, self._options, deciding=deciding)

    def stored_payload_bytes(self, execution_id: str) -> int:
        claimed = self._options.claimed_totals.get(execution_id)
        if claimed is not None:
            return claimed
        return self._read(
            lambda c: stored_bytes(self._options.blob_table(PostgresBlobs(c)), execution_id)
        )

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

    def pause_notifications(self) -> None:
        """Stop listening until the next ``wait_for_work``, which then returns True
        at once (work added meanwhile was not heard of). For a caller that cannot
        take more work for a while: PostgreSQL reads each notification in a
        transaction on every listening session (see ``WorkListener``)."""
        self._listener.pause()

    def close(self) -> None:
        self._listener.close()
        self._pool.close()

    # --- definitions ------------------------------------------------------------------

    def save_definition(self, definition: DefinitionRecord) -> None:
        with self._write() as conn:
            conn.execute(QUERIES["save_definition"], definition_values(definition))
        self._saved_definitions.add(definition.id)

    def load_definition(self, definition_id: str) -> DefinitionRecord:
        found = self._read(lambda c: rs.load_definitions(c, [definition_id]))
        if definition_id not in found:
            raise DefinitionNotFound(f"no definition with id {definition_id!r}")
        return found[definition_id]

    def list_definitions(
        self, *, name: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[DefinitionRecord]:
        params = {"name": name, "kind": kind, "limit": limit}
        rows = self._read(lambda c: c.execute(QUERIES["list_definitions"], params).fetchall())
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
        workflow_id = first.workflow_id if isinstance(first, ExecutionStarted) else None
        if workflow_id is None and not tags and definition.id in self._saved_definitions:
            return self._start_alone(execution_id, definition, first, now)
        # Without a workflow id (whose refusal needs a savepoint) nothing is read
        # back: the statements go together, one round trip for the whole start.
        writing = self._write() if workflow_id is not None else self._pipelined_write()
        with writing as conn:
            if definition.id not in self._saved_definitions:
                conn.execute(QUERIES["save_definition"], definition_values(definition))
            conn.execute(
                QUERIES["insert_execution"],
                (
                    execution_id,
                    definition.id,
                    definition.kind,
                    definition.name,
                    now,
                    now,
                    now,
                    None,
                    None,
                ),
            )
            if tags:
                conn.execute(QUERIES["set_execution_tags"], (list(tags), execution_id))
            if workflow_id is not None:
                rs.hold_workflow_id(conn, execution_id, workflow_id)
            inbox = conn.execute(
                QUERIES["insert_first_inbox"], (execution_id, now, *encode_event(first))
            )
            conn.execute(QUERIES["notify_work"])
        self._saved_definitions.add(definition.id)
        # Pipelined: the id is there once the block has committed.
        row = inbox.fetchone()
        if row is None:
            raise StoreError(f"the start of {execution_id!r} returned no inbox row")
        return StartedExecution.new(execution_id, definition, InboxEntry(row["id"], now, first))

    def _start_alone(
        self, execution_id: str, definition: DefinitionRecord, first: Event, now: float
    ) -> StartedExecution:
        """A start with only its two rows to write: one statement in autocommit,
        so no BEGIN and COMMIT travel or wait (most starts, once a process has
        stored the definition)."""
        with (
            translate_errors(self.where),
            self._pool.connection() as conn,
            self._payloads(conn, begin_on_put=True),
        ):
            kind, payload = encode_event(first)
            parameters = {
                "id": execution_id,
                "definition_id": definition.id,
                "kind": definition.kind,
                "name": definition.name,
                "now": now,
                "type": kind,
                "payload": payload,
            }
            rows = statement_alone(conn, QUERIES["start_execution"], parameters)
        self._count_commit()
        return StartedExecution.new(execution_id, definition, InboxEntry(rows[0]["id"], now, first))

    def open_run(self, workflow_id: str) -> ExecutionRecord | None:
        return self._read(lambda c: rs.open_workflow_run(c, workflow_id))

    def load_execution(self, execution_id: str) -> ExecutionRecord:
        # Rows become records inside the read: a large value is read from the
        # blob table on the same connection.
        found = self._read(
            lambda c: [
                execution_from_row(r)
                for r in c.execute(QUERIES["load_execution"], (execution_id,)).fetchall()
            ]
        )
        if not found:
            raise ExecutionNotFound(f"no execution with id {execution_id!r}")
        return found[0]

    def read_history(
        self, execution_id: str, after_seq: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        def read(c: Connection) -> list[RecordedEvent]:
            params = (execution_id, after_seq, limit)
            rows = c.execute(QUERIES["read_history"], params).fetchall()
            # An empty answer is the only one that needs to know whether the
            # execution exists; most reads skip this round trip.
            if (
                not rows
                and c.execute(QUERIES["execution_exists"], (execution_id,)).fetchone() is None
            ):
                raise ExecutionNotFound(f"no execution with id {execution_id!r}")
            return [recorded_event(r) for r in rows]

        return self._read(read)

    def snapshot_and_tail(self, execution_id: str) -> tuple[JSON, list[RecordedEvent]]:
        def read(c: Connection) -> tuple[JSON, list[RecordedEvent]]:
            if c.execute(QUERIES["execution_exists"], (execution_id,)).fetchone() is None:
                raise ExecutionNotFound(f"no execution with id {execution_id!r}")
            snapshots, tails = PostgresRoundReader(c).snapshots_and_tails([execution_id])
            return snapshots.get(execution_id), tails[execution_id]

        return self._read(read)

    def deliver(self, execution_id: str, events: Sequence[Event], now: float) -> None:
        with self._write() as conn:
            if not events:
                if conn.execute(QUERIES["execution_exists"], (execution_id,)).fetchone() is None:
                    raise ExecutionNotFound(f"no execution with id {execution_id!r}")
                return
            if not rs.deliver(conn, [(execution_id, e) for e in events], now):
                raise ExecutionNotFound(f"no execution with id {execution_id!r}")

    def forget_snapshots(self, execution_ids: Sequence[str] | None = None) -> int:
        ids = None if execution_ids is None else list(execution_ids)
        with self._write() as conn:
            return conn.execute(QUERIES["forget_snapshots"], {"ids": ids}).rowcount

    def delete_executions(self, execution_ids: Sequence[str]) -> int:
        if not execution_ids:
            return 0
        final = sorted(FINAL_EXECUTION_STATUSES)
        with self._write() as conn:
            params = {"ids": list(execution_ids), "final": final}
            rows = conn.execute(QUERIES["deletable_executions"], params).fetchall()
            ids = [row["id"] for row in rows]
            if not ids:
                return 0
            for statement in (
                "delete_history",
                "delete_inbox",
                "delete_tasks",
                "delete_timers",
                "delete_execution_rows",
            ):
                conn.execute(QUERIES[statement], {"ids": ids})
            return len(ids)

    # --- decision rounds -----------------------------------------------------------------

    def run_round(self, request: RoundRequest, decide: DecideFn) -> RoundOutcome:
        with translate_errors(self.where), self._pool.connection() as conn:
            backend = PostgresRound(conn, self._payloads, self._transaction, self._count_commit)
            try:
                return run_round(backend, request, decide)
            finally:
                backend.release()

    # --- tasks -----------------------------------------------------------------------------

    def claim_tasks(self, request: ClaimRequest, now: float) -> list[TaskRecord]:
        if request.limit <= 0 or not request.queues:
            return []
        # A claimed task's input is used, not shown: a secret in it must decrypt.
        with self._write() as conn, self._payloads(conn, deciding=True):
            return rs.claim(conn, request, now)

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

    def finish_task(self, request: FinishRequest, now: float) -> None:
        with self._write() as conn:
            if not rs.finish(conn, request, now):
                raise attempt_lost(request)
            rs.deliver(conn, [(request.execution_id, e) for e in request.finish.events], now)

    def expired_tasks(self, now: float, limit: int) -> list[TaskRecord]:
        return self._read(
            lambda c: [
                task_from_row(r)
                for r in c.execute(QUERIES["expired_tasks"], (now, limit)).fetchall()
            ]
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
            lambda c: [task_from_row(r) for r in c.execute(QUERIES["held_task"], params).fetchall()]
        )
        return found[0] if found else None

    def waiting_tasks(self, execution_id: str, name: str | None = None) -> list[TaskRecord]:
        params = {"id": execution_id, "name": name}
        return self._read(
            lambda c: [
                task_from_row(r) for r in c.execute(QUERIES["waiting_tasks"], params).fetchall()
            ]
        )

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
            rs.deliver(
                conn, [(r["execution_id"], TimerFired(timer_id=r["timer_id"])) for r in due], now
            )
            return len(due)

    def next_wakeup(
        self,
        kinds: Sequence[str] | None = None,
        actions: Sequence[str] | None = None,
        own: Sequence[str] = (),
        only: Collection[str] | None = None,
    ) -> float | None:
        params = {
            "kinds": None if kinds is None else list(kinds),
            "only": None if only is None else sorted(only),
            **rs.serves(actions, own),
        }
        row = self._read(lambda c: c.execute(QUERIES["next_wakeup"], params).fetchone())
        return None if row is None or row["due"] is None else float(row["due"])
