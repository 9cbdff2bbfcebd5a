"""The decision round's reads and writes on one SQLite connection.

The round itself (``cadenza.store.rounds``) is the same for every backend;
this module only runs SQLite's statements for it. The read phase takes no
lock (WAL readers never block the writer), and the write phase is the
caller's ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from cadenza.model.errors import LeaseLost
from cadenza.model.events import JSON, Event, RecordedEvent
from cadenza.store.codec import (
    FINISH_STATEMENTS,
    decode_event,
    definition_from_row,
    dumps,
    encode_event,
    finish_values,
    loads,
    recorded_event,
    task_from_row,
    task_values,
)
from cadenza.store.protocol import ClaimRequest, FinishRequest, RoundRequest
from cadenza.store.queries import load_queries
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    DefinitionRecord,
    FinishOutcome,
    TaskRecord,
)
from cadenza.store.rounds import InboxEntry, PendingExecution, history_rows

#: Every statement of the backend, by name.
QUERIES: dict[str, str] = load_queries("cadenza.store.sqlite")


def json_list(values: Sequence[object]) -> str:
    """A list as the JSON array the statements read with ``json_each``."""
    return json.dumps(list(values))


def load_definitions(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, DefinitionRecord]:
    """The definitions among ``ids`` that exist, by id."""
    rows = conn.execute(QUERIES["load_definitions"], {"ids": json_list(ids)}).fetchall()
    return {row["id"]: definition_from_row(row) for row in rows}


def deliver(conn: sqlite3.Connection, deliveries: Sequence[tuple[str, Event]], now: float) -> None:
    """Put each ``(execution_id, event)`` in its inbox, in order."""
    for execution_id, event in deliveries:
        type_name, payload = encode_event(event)
        conn.execute(
            QUERIES["insert_inbox"],
            {"id": execution_id, "now": now, "type": type_name, "payload": payload},
        )
    for execution_id in sorted({execution_id for execution_id, _ in deliveries}):
        conn.execute(QUERIES["mark_pending"], {"id": execution_id, "now": now})


def finish(conn: sqlite3.Connection, request: FinishRequest, now: float) -> bool:
    """End an attempt's task row as ``request.finish`` says (events not delivered);
    False if it is no longer the holder's."""
    cur = conn.execute(
        QUERIES[FINISH_STATEMENTS[FinishOutcome(request.finish.outcome)]],
        finish_values(
            request.execution_id,
            request.task_id,
            request.attempt,
            request.owner,
            request.finish.available_at,
            now,
        ),
    )
    return cur.rowcount == 1


def claim(conn: sqlite3.Connection, request: ClaimRequest, now: float) -> list[TaskRecord]:
    """Lease up to ``request.limit`` due tasks of its queues, oldest first."""
    if request.limit <= 0 or not request.queues:
        return []
    rows = conn.execute(
        QUERIES["claim_tasks"],
        {
            "owner": request.owner,
            "now": now,
            "lease": request.lease,
            "queues": json_list(request.queues),
            "limit": request.limit,
            "external": request.external,
        },
    ).fetchall()
    return sorted((task_from_row(r) for r in rows), key=lambda t: (t.available_at, t.task_id))


def has_due_tasks(conn: sqlite3.Connection, request: ClaimRequest, now: float) -> bool:
    """Whether ``claim`` would find a task now."""
    if request.limit <= 0 or not request.queues:
        return False
    row = conn.execute(
        QUERIES["any_due_task"],
        {"queues": json_list(request.queues), "now": now, "external": request.external},
    ).fetchone()
    return row is not None


class SQLiteRoundReader:
    """The round's read phase (``RoundReader``)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def pending_work(
        self, request: RoundRequest, finished: Sequence[str]
    ) -> list[tuple[PendingExecution, list[InboxEntry]]]:
        if not finished and self.conn.execute(QUERIES["any_pending"]).fetchone() is None:
            return []
        rows = self.conn.execute(
            QUERIES["pending_executions"],
            {
                "finished": json_list(finished),
                "kinds": None if request.kinds is None else json_list(sorted(request.kinds)),
                "now": request.now,
                "limit": request.decide_limit,
            },
        ).fetchall()
        if not rows:
            return []
        inboxes: dict[str, list[InboxEntry]] = {row["id"]: [] for row in rows}
        for entry in self.conn.execute(QUERIES["load_inboxes"], {"ids": json_list(list(inboxes))}):
            inboxes[entry["execution_id"]].append(
                InboxEntry(
                    entry["id"], entry["time"], decode_event(entry["type"], entry["payload"])
                )
            )
        return [(PendingExecution(**dict(row)), inboxes[row["id"]]) for row in rows]

    def definitions(self, ids: Sequence[str]) -> dict[str, DefinitionRecord]:
        return load_definitions(self.conn, ids)

    def snapshots_and_tails(
        self, ids: Sequence[str]
    ) -> tuple[dict[str, JSON], dict[str, list[RecordedEvent]]]:
        snapshots = {
            row["id"]: loads(row["snapshot"])
            for row in self.conn.execute(QUERIES["load_snapshots"], {"ids": json_list(ids)})
        }
        histories: dict[str, list[RecordedEvent]] = {execution_id: [] for execution_id in ids}
        for row in self.conn.execute(QUERIES["read_histories"], {"ids": json_list(ids)}):
            histories[row["execution_id"]].append(recorded_event(row))
        return snapshots, histories

    def has_due_tasks(self, claim: ClaimRequest, now: float) -> bool:
        return has_due_tasks(self.conn, claim, now)


class SQLiteRoundWriter:
    """The round's write phase (``RoundWriter``), inside ``BEGIN IMMEDIATE``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def finish(self, request: FinishRequest, now: float) -> bool:
        return finish(self.conn, request, now)

    def decision_numbers(self, ids: Sequence[str]) -> dict[str, int]:
        if not ids:
            return {}
        rows = self.conn.execute(QUERIES["decision_numbers"], {"ids": json_list(ids)})
        return {row["id"]: row["decision_no"] for row in rows}

    def consume_inbox(self, entry_ids: Sequence[int]) -> set[int]:
        rows = self.conn.execute(QUERIES["consume_inbox"], {"ids": json_list(entry_ids)})
        return {row["id"] for row in rows}

    def save(self, decisions: Sequence[tuple[DecisionWork, DecisionResult]], now: float) -> None:
        if not decisions:
            return
        conn = self.conn
        conn.executemany(
            QUERIES["insert_history"],
            [
                (execution_id, seq, decision, time, *encode_event(event))
                for execution_id, seq, decision, time, event in history_rows(decisions)
            ],
        )
        conn.executemany(
            QUERIES["insert_task"],
            [task_values(r.execution_id, task, now) for _w, r in decisions for task in r.tasks],
        )
        conn.executemany(
            QUERIES["cancel_task"],
            [(r.execution_id, task_id) for _w, r in decisions for task_id in r.canceled_tasks],
        )
        conn.executemany(
            QUERIES["upsert_timer"],
            [(r.execution_id, tid, fire_at) for _w, r in decisions for tid, fire_at in r.timers],
        )
        for work, result in decisions:
            cur = conn.execute(
                QUERIES["save_execution"],
                {
                    "id": result.execution_id,
                    "expected": work.decision_no,
                    "status": result.status,
                    "decision_no": result.decision_no,
                    "next_seq": work.next_seq + len(result.appended),
                    "save_snapshot": result.snapshot is not None,
                    "snapshot": None if result.snapshot is None else dumps(result.snapshot),
                    "completed": result.completed,
                    "output": dumps(result.output),
                    "errors": dumps(result.errors),
                    "now": now,
                },
            )
            if cur.rowcount != 1:
                # Checked under this same write lock a moment ago: only a writer
                # that broke the protocol can get here. Save nothing.
                raise LeaseLost(
                    f"execution {result.execution_id!r} moved past decision "
                    f"{work.decision_no} while its decision was being saved",
                    execution_id=result.execution_id,
                )

    def deliver(self, deliveries: Sequence[tuple[str, Event]], now: float) -> None:
        deliver(self.conn, deliveries, now)

    def claim(self, request: ClaimRequest, now: float) -> list[TaskRecord]:
        return claim(self.conn, request, now)
