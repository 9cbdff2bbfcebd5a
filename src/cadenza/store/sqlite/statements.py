"""The SQL each SQLite store operation runs, on a connection inside its transaction.

The store (``store.py``) owns connections and transactions; these functions
only read and write rows, so one transaction can combine several of them
(``SQLiteStore.cycle`` applies finished attempts, decides and claims at once).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Container, Mapping, Sequence
from typing import Any, cast

from cadenza.model.errors import DefinitionNotFound, ExecutionNotFound
from cadenza.model.events import Event, RecordedEvent
from cadenza.store.codec import (
    decode_event,
    dumps,
    encode_event,
    encode_retry,
    loads,
    task_from_row,
)
from cadenza.store.protocol import ClaimRequest, DecideFn, FinishRequest
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    DefinitionRecord,
    TaskRecord,
)


def history(conn: sqlite3.Connection, execution_id: str, after_seq: int) -> list[RecordedEvent]:
    rows = conn.execute(
        "SELECT seq, decision, time, type, payload FROM history "
        "WHERE execution_id = ? AND seq > ? ORDER BY seq",
        (execution_id, after_seq),
    ).fetchall()
    return [
        RecordedEvent(r["seq"], r["decision"], r["time"], decode_event(r["type"], r["payload"]))
        for r in rows
    ]


def require_execution(conn: sqlite3.Connection, execution_id: str) -> None:
    if conn.execute("SELECT 1 FROM executions WHERE id = ?", (execution_id,)).fetchone() is None:
        raise ExecutionNotFound(f"no execution with id {execution_id!r}")


def load_definition(conn: sqlite3.Connection, definition_id: str) -> DefinitionRecord:
    row = conn.execute(
        "SELECT id, kind, name, source, created_at FROM definitions WHERE id = ?",
        (definition_id,),
    ).fetchone()
    if row is None:
        raise DefinitionNotFound(f"no definition with id {definition_id!r}")
    return DefinitionRecord(**dict(row))


EXECUTION_COLUMNS = (
    "id, definition_id, kind, name, status, created_at, updated_at, output, errors, next_seq"
)


def deliver(
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


def save_decision(
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
    if result.canceled_tasks:
        conn.executemany(
            "DELETE FROM tasks WHERE execution_id = ? AND task_id = ?",
            [(eid, task_id) for task_id in result.canceled_tasks],
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


def split_sql(script: str) -> list[str]:
    """Statements of a migration file (no semicolons inside statements there)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def decide(
    conn: sqlite3.Connection,
    limit: int,
    decide_fn: DecideFn,
    now: float,
    known_definitions: Container[str],
    known_states: Mapping[str, int],
) -> int:
    """Lock-free here (the caller's write transaction is the lock): load up to
    ``limit`` executions' work, decide, save. Returns how many were decided."""
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
        snapshot, replay = None, None
        if known_states.get(eid) != row["decision_no"] and row["decision_no"] > 0:
            # The caller does not hold this state: hand it the last snapshot
            # and what history recorded after it.
            snapshot = loads(
                conn.execute("SELECT snapshot FROM executions WHERE id = ?", (eid,)).fetchone()[0]
            )
            replay = history(conn, eid, row["snapshot_seq"])
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
                history=replay,
                definition=(
                    None
                    if row["definition_id"] in known_definitions
                    else load_definition(conn, row["definition_id"])
                ),
            )
        )
    results = decide_fn(works)
    by_id = {w.execution_id: w for w in works}
    for result in results:
        save_decision(conn, by_id[result.execution_id], result, inbox_ids, now)
    return len(results)


def claim(conn: sqlite3.Connection, request: ClaimRequest, now: float) -> list[TaskRecord]:
    """Lease up to ``request.limit`` due tasks of its queues, oldest first."""
    if request.limit <= 0 or not request.queues:
        return []
    marks = ",".join("?" * len(request.queues))
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
        (request.owner, now, now, request.lease, now, now, *request.queues, now, request.limit),
    ).fetchall()
    return sorted((task_from_row(r) for r in rows), key=lambda t: t.available_at)


def finish(conn: sqlite3.Connection, request: FinishRequest, now: float) -> bool:
    """End an attempt as ``request.finish`` says; False if it is no longer the holder's."""
    if request.owner is None:
        held = "status = 'suspended'"
        args: tuple[Any, ...] = (request.execution_id, request.task_id, request.attempt)
    else:
        held = "status = 'claimed' AND lease_owner = ?"
        args = (request.execution_id, request.task_id, request.attempt, request.owner)
    where = f"WHERE execution_id = ? AND task_id = ? AND attempt = ? AND {held}"
    outcome = request.finish.outcome
    if outcome == "done":
        cur = conn.execute(f"DELETE FROM tasks {where}", args)
    elif outcome == "retry":
        cur = conn.execute(
            "UPDATE tasks SET status = 'scheduled', lease_owner = NULL, "
            "lease_expires_at = NULL, deadline = NULL, available_at = ?, "
            f"updated_at = ? {where}",
            (request.finish.available_at, now, *args),
        )
    elif outcome == "suspend":
        cur = conn.execute(
            "UPDATE tasks SET status = 'suspended', lease_owner = NULL, "
            f"lease_expires_at = NULL, deadline = NULL, updated_at = ? {where}",
            (now, *args),
        )
    else:
        raise ValueError(f"unknown task finish outcome {outcome!r}")
    if cur.rowcount != 1:
        return False
    deliver(conn, request.execution_id, request.finish.events, now)
    return True
