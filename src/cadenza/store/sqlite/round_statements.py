"""The decision round's reads and writes on one SQLite connection.

The round itself (``cadenza.store.rounds``) is the same for every backend;
this module only runs SQLite's statements for it. The read phase takes no
lock (WAL readers never block the writer), and the write phase is the
caller's ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cadenza.model.errors import LeaseLost, WorkflowIdTaken
from cadenza.model.events import JSON, Event, RecordedEvent
from cadenza.store.codec import (
    CLAIMED_TOTAL_COLUMN,
    FINISH_STATEMENTS,
    decode_event,
    definition_from_row,
    dumps,
    encode_event,
    execution_from_row,
    finish_values,
    loads,
    recorded_event,
    task_from_row,
    task_values,
)
from cadenza.store.history_rows import encoded_history
from cadenza.store.protocol import ClaimRequest, FinishRequest, RoundRequest
from cadenza.store.quiet_rounds import LEASED_TASK_COLUMNS, leased_task_values
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    DefinitionRecord,
    ExecutionRecord,
    Family,
    InboxEntry,
    NewChild,
    NewTaskLease,
    PendingExecution,
    TaskRecord,
    claim_order,
)
from cadenza.store.sqlite.statements import QUERIES, execute, sql_list


def load_definitions(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, DefinitionRecord]:
    """The definitions among ``ids`` that exist, by id."""
    rows = execute(conn, "load_definitions", {"ids": sql_list(ids)}).fetchall()
    return {row["id"]: definition_from_row(row) for row in rows}


def deliver(conn: sqlite3.Connection, deliveries: Sequence[tuple[str, Event]], now: float) -> None:
    """Put each ``(execution_id, event)`` in its inbox, in order, and mark the
    executions pending."""
    insert_inbox_rows(conn, deliveries, now)
    for execution_id in sorted({execution_id for execution_id, _ in deliveries}):
        execute(conn, "mark_pending", {"id": execution_id, "now": now})


def insert_inbox_rows(
    conn: sqlite3.Connection, deliveries: Sequence[tuple[str, Event]], now: float
) -> list[int]:
    """Put each ``(execution_id, event)`` in its inbox, in order, without marking
    the executions pending (``deliver`` does); return the rows' ids."""
    ids = []
    for execution_id, event in deliveries:
        type_name, payload = encode_event(event)
        cursor = execute(
            conn,
            "insert_inbox",
            {"id": execution_id, "now": now, "type": type_name, "payload": payload},
        )
        ids.append(int(cursor.lastrowid or 0))
    return ids


def hold_workflow_id(conn: sqlite3.Connection, execution_id: str, workflow_id: str) -> None:
    """Give the execution ``workflow_id``; ``WorkflowIdTaken`` (naming the holder)
    when another open run holds it. Inside the caller's write transaction."""
    try:
        execute(conn, "set_workflow_id", {"id": execution_id, "workflow_id": workflow_id})
    except sqlite3.IntegrityError as exc:
        holder = open_workflow_run(conn, workflow_id)
        if holder is None:
            raise WorkflowIdTaken.of(workflow_id, None, None) from exc
        raise WorkflowIdTaken.of(workflow_id, holder.id, holder.status) from exc


def open_workflow_run(conn: sqlite3.Connection, workflow_id: str) -> ExecutionRecord | None:
    """The open run holding ``workflow_id``, if any."""
    rows = execute(conn, "open_workflow_run", {"workflow_id": workflow_id}).fetchall()
    return execution_from_row(rows[0]) if rows else None


def finish(conn: sqlite3.Connection, request: FinishRequest, now: float) -> bool:
    """End an attempt's task row as ``request.finish`` says (events not delivered);
    False if it is no longer the holder's."""
    cur = execute(
        conn,
        FINISH_STATEMENTS[request.finish.outcome],
        finish_values(request, now),
    )
    return cur.rowcount == 1


def claim(conn: sqlite3.Connection, request: ClaimRequest, now: float) -> list[TaskRecord]:
    """Lease up to ``request.limit`` due tasks of its queues, oldest first."""
    if request.limit <= 0 or not request.queues:
        return []
    rows = execute(
        conn,
        "claim_tasks",
        {
            "owner": request.owner,
            "now": now,
            "lease": request.lease,
            "queues": sql_list(request.queues),
            "limit": request.limit,
            "external": request.external,
            **_serves(request),
        },
    ).fetchall()
    return sorted((task_from_row(r) for r in rows), key=claim_order)


def has_due_tasks(conn: sqlite3.Connection, request: ClaimRequest, now: float) -> bool:
    """Whether ``claim`` would find a task now."""
    if request.limit <= 0 or not request.queues:
        return False
    row = execute(
        conn,
        "any_due_task",
        {
            "queues": sql_list(request.queues),
            "now": now,
            "external": request.external,
            **_serves(request),
        },
    ).fetchone()
    return row is not None


def _serves(request: ClaimRequest) -> dict[str, object]:
    """The ``actions``/``own`` parameters of a claim."""
    return serves(request.actions, request.own)


def serves(actions: Sequence[str] | None, own: Sequence[str]) -> dict[str, object]:
    """The parameters that limit tasks to those the caller can run."""
    return {"actions": None if actions is None else sql_list(actions), "own": sql_list(own)}


#: The columns of an execution a round decides from (``PendingExecution``).
_PENDING_COLUMNS = (
    "id",
    "definition_id",
    "kind",
    "status",
    "decision_no",
    "next_seq",
    "snapshot_seq",
    "parent_id",
    "parent_task_id",
    "has_children",
)


class SQLiteRoundReader:
    """The round's read phase (``RoundReader``)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def pending_work(
        self, request: RoundRequest, finished: Sequence[str]
    ) -> list[tuple[PendingExecution, list[InboxEntry]]]:
        if not finished and execute(self.conn, "any_pending").fetchone() is None:
            return []
        params = {
            "finished": sql_list(finished),
            "kinds": None if request.kinds is None else sql_list(sorted(request.kinds)),
            "only": None if request.only is None else sql_list(sorted(request.only)),
            "now": request.now,
            "limit": request.decide_limit,
            "oldest": request.kept_for_oldest,
        }
        rows: Sequence[Mapping[str, Any]] | None = (
            self._only_finished(params, request.now, request.decide_limit) if finished else None
        )
        if rows is None:
            rows = execute(self.conn, "pending_executions", params).fetchall()
        if not rows:
            return []
        inboxes: dict[str, list[InboxEntry]] = {row["id"]: [] for row in rows}
        # Every write of an inbox row marks its execution pending in the same
        # transaction, so an execution that is not pending has none to read:
        # in a sequential run (the finished attempt's event comes with the
        # round, not through the inbox) that is every step.
        waiting = [row["id"] for row in rows if row["has_inbox"]]
        if waiting:
            for entry in execute(self.conn, "load_inboxes", {"ids": sql_list(waiting)}):
                inboxes[entry["execution_id"]].append(
                    InboxEntry(
                        entry["id"], entry["time"], decode_event(entry["type"], entry["payload"])
                    )
                )
        return [
            (
                PendingExecution(
                    row["id"],
                    row["definition_id"],
                    row["kind"],
                    row["status"],
                    row["decision_no"],
                    row["next_seq"],
                    row["snapshot_seq"],
                    Family(row["parent_id"], row["parent_task_id"], bool(row["has_children"])),
                ),
                inboxes[row["id"]],
            )
            for row in rows
        ]

    def _only_finished(
        self, params: dict[str, Any], now: float, limit: int
    ) -> list[dict[str, Any]] | None:
        """The rows ``pending_executions`` would choose, read by primary key, when
        the executions that finish in this round are the only ones to decide
        (a sequential run's every step); None when others wait too."""
        rows = execute(self.conn, "finished_executions", params).fetchall()
        if not rows or rows[0]["others_waiting"]:
            return None
        chosen = [
            {
                **{key: row[key] for key in _PENDING_COLUMNS},
                "has_inbox": row["pending_since"] is not None,
                "waiting": now if row["pending_since"] is None else row["pending_since"],
            }
            for row in rows
        ]
        chosen.sort(key=lambda row: (row["waiting"], row["id"]))
        return chosen[:limit]

    def definitions(self, ids: Sequence[str]) -> dict[str, DefinitionRecord]:
        return load_definitions(self.conn, ids)

    def snapshots_and_tails(
        self, ids: Sequence[str]
    ) -> tuple[dict[str, JSON], dict[str, list[RecordedEvent]]]:
        snapshots = {
            row["id"]: loads(row["snapshot"])
            for row in execute(self.conn, "load_snapshots", {"ids": sql_list(ids)})
        }
        histories: dict[str, list[RecordedEvent]] = {execution_id: [] for execution_id in ids}
        for row in execute(self.conn, "read_histories", {"ids": sql_list(ids)}):
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
        rows = execute(self.conn, "decision_numbers", {"ids": sql_list(ids)})
        return {row["id"]: row["decision_no"] for row in rows}

    def consume_inbox(self, entry_ids: Sequence[int]) -> set[int]:
        rows = execute(self.conn, "consume_inbox", {"ids": sql_list(entry_ids)})
        return {row["id"] for row in rows}

    def save(
        self,
        decisions: Sequence[tuple[DecisionWork, DecisionResult]],
        now: float,
        lease: NewTaskLease | None = None,
    ) -> list[TaskRecord]:
        return self._save(decisions, now, _moved_while_saving, lease)

    def _save(
        self,
        decisions: Sequence[tuple[DecisionWork, DecisionResult]],
        now: float,
        moved: Callable[[DecisionWork, DecisionResult], Exception],
        lease: NewTaskLease | None,
    ) -> list[TaskRecord]:
        """``save``; ``moved`` is raised for an execution no longer at the decision
        number its work was loaded at (nothing of the transaction is kept)."""
        if not decisions:
            return []
        conn = self.conn
        # Encoded first: encoding writes large values to the blob table, and the
        # execution rows add up the sizes of the blobs the history rows refer to.
        history, added = encoded_history(decisions)
        # The execution rows next: each is guarded by its decision number, so a
        # stale decision stops here, before its history rows could collide
        # with those of the decision that moved it. Saved in the decisions'
        # order, consecutive rows of one statement in one executemany.
        runs: list[tuple[str, list[dict[str, Any]]]] = []
        for work, result in decisions:
            params: dict[str, Any] = {
                "id": result.execution_id,
                "expected": work.decision_no,
                "status": result.status,
                "decision_no": result.decision_no,
                "next_seq": work.next_seq + len(result.appended),
                "now": now,
                "added_bytes": added.inline.get(result.execution_id, 0),
                "blob_refs": _json_list(added.blobs.get(result.execution_id)),
            }
            if result.snapshot is None and not result.completed:
                # Most steps: no snapshot, no output yet (nothing of them encoded).
                name = "save_execution_step"
            else:
                name = "save_execution"
                params.update(
                    save_snapshot=result.snapshot is not None,
                    snapshot=None if result.snapshot is None else dumps(result.snapshot),
                    completed=result.completed,
                    output=dumps(result.output),
                    errors=dumps(result.errors),
                )
            if runs and runs[-1][0] == name:
                runs[-1][1].append(params)
            else:
                runs.append((name, [params]))
        done = 0
        for name, saving in runs:
            if conn.executemany(QUERIES[name], saving).rowcount != len(saving):
                raise moved(*_first_moved(conn, decisions[done : done + len(saving)]))
            done += len(saving)
        leased_keys = lease.keys if lease is not None else frozenset()
        leased_rows = []
        new_tasks = []
        for _work, result in decisions:
            for task in result.tasks:
                if lease is not None and (result.execution_id, task.task_id) in leased_keys:
                    leased_rows.append(leased_task_values(result.execution_id, task, now, lease))
                else:
                    new_tasks.append(task_values(result.execution_id, task, now))
        rows: dict[str, Sequence[tuple[Any, ...]]] = {
            "insert_history": history,
            "insert_task": new_tasks,
            "insert_leased_task": leased_rows,
            "cancel_task": [
                (r.execution_id, task_id) for _w, r in decisions for task_id in r.canceled_tasks
            ],
            "upsert_timer": [
                (r.execution_id, tid, at) for _w, r in decisions for tid, at in r.timers
            ],
        }
        for name, many in rows.items():
            if many:
                conn.executemany(QUERIES[name], many)
        return _leased_records(conn, leased_rows)

    def deliver(self, deliveries: Sequence[tuple[str, Event]], now: float) -> None:
        deliver(self.conn, deliveries, now)

    def definition_for(self, reference: str) -> DefinitionRecord | None:
        found = load_definitions(self.conn, [reference])
        if reference in found:
            return found[reference]
        params = {"name": reference, "kind": None, "limit": 1}
        row = execute(self.conn, "list_definitions", params).fetchone()
        return None if row is None else definition_from_row(row)

    def insert_child(
        self, child: NewChild, definition: DefinitionRecord, parent_id: str, now: float
    ) -> None:
        execute(
            self.conn,
            "insert_execution",
            {
                "id": child.execution_id,
                "definition_id": definition.id,
                "kind": definition.kind,
                "name": definition.name,
                "now": now,
                "parent_id": parent_id,
                # A detached child names its parent but no task to report to.
                "parent_task_id": None if child.detached else child.task_id,
            },
        )

    def parents_of(self, ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        rows = execute(self.conn, "parents_of", {"ids": sql_list(ids)})
        return {row["id"]: (row["parent_id"], row["parent_task_id"]) for row in rows}

    def children_of(self, ids: Sequence[str]) -> list[tuple[str, str, str | None, str, str | None]]:
        rows = execute(self.conn, "children_of", {"ids": sql_list(ids)})
        return [
            (r["id"], r["parent_id"], r["parent_task_id"], r["status"], r["child_policy"])
            for r in rows
        ]

    def hold_workflow_id(self, execution_id: str, workflow_id: str) -> None:
        hold_workflow_id(self.conn, execution_id, workflow_id)

    def set_child_policy(self, execution_id: str, policy: str) -> None:
        execute(self.conn, "set_child_policy", {"id": execution_id, "policy": policy})

    def withdraw_work(self, ids: Sequence[str]) -> None:
        for statement in ("delete_tasks", "delete_timers"):
            execute(self.conn, statement, {"ids": sql_list(ids)})

    def claim(self, request: ClaimRequest, now: float) -> list[TaskRecord]:
        return claim(self.conn, request, now)


def _first_moved(
    conn: sqlite3.Connection, decisions: Sequence[tuple[DecisionWork, DecisionResult]]
) -> tuple[DecisionWork, DecisionResult]:
    """Which of ``decisions`` (saved together, one of them refused) found its
    execution row moved: the first whose row is not at the decision it saved.
    Another decider may have moved a row to that same number, so when every
    row looks saved the first decision is named (the transaction is dropped
    whichever it is)."""
    ids = [result.execution_id for _work, result in decisions]
    current = {
        row["id"]: row["decision_no"]
        for row in execute(conn, "decision_numbers", {"ids": sql_list(ids)})
    }
    for work, result in decisions:
        if current.get(result.execution_id) != result.decision_no:
            return work, result
    return decisions[0]


def _leased_records(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> list[TaskRecord]:
    """The records of the tasks inserted leased as ``rows``, as a claim returns
    them (with their executions' stored payload bytes, read once)."""
    if not rows:
        return []
    ids = sorted({row[0] for row in rows})
    totals = {
        r["id"]: r["payload_bytes"] for r in execute(conn, "payload_bytes", {"ids": sql_list(ids)})
    }
    return [
        task_from_row(
            {
                **dict(zip(LEASED_TASK_COLUMNS, row, strict=True)),
                CLAIMED_TOTAL_COLUMN: totals[row[0]],
            }
        )
        for row in rows
    ]


def _moved_while_saving(work: DecisionWork, result: DecisionResult) -> Exception:
    # Checked under this same write lock a moment ago: only a writer that
    # broke the protocol can get here. Save nothing.
    return LeaseLost(
        f"execution {result.execution_id!r} moved past decision "
        f"{work.decision_no} while its decision was being saved",
        execution_id=result.execution_id,
    )


def _json_list(values: Sequence[str] | None) -> str | None:
    """``values`` as a JSON list for ``json_each``, or None for none."""
    return json.dumps(list(values)) if values else None
