"""The decision round's reads and writes on one PostgreSQL connection.

The round itself (``cadenza.store.rounds``) is the same for every backend;
this module only runs PostgreSQL's statements for it. The read phase marks
the executions it takes with session advisory locks, so other deciders skip
them, and the round releases them after its commit; no transaction is open
while the engine decides. Everything one round saves goes in a handful of
statements whatever its size (one per table, rows sent together), because
round trips, not rows, are the cost.

The write phase sent as one pipeline is ``batched_round``'s; the writer here
sends it statement by statement (with COPY for the rows), the path a round
takes when it has many rows or when an assumption of the batch failed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import psycopg

from cadenza.model.errors import LeaseLost, WorkflowIdTaken
from cadenza.model.events import JSON, Event, RecordedEvent
from cadenza.store.codec import (
    FINISH_STATEMENTS,
    decode_event,
    definition_from_row,
    dumps,
    encode_event,
    execution_from_row,
    finish_values,
    json_text,
    loads,
    recorded_event,
    task_from_row,
    task_values,
)
from cadenza.store.history_rows import HistoryBytes, encoded_history
from cadenza.store.postgres.connections import Connection
from cadenza.store.postgres.queries import QUERIES
from cadenza.store.protocol import ClaimRequest, FinishRequest, RoundRequest
from cadenza.store.quiet_rounds import leased_task_values
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    DefinitionRecord,
    ExecutionRecord,
    Family,
    FinishOutcome,
    InboxEntry,
    NewChild,
    NewTaskLease,
    PendingExecution,
    TaskRecord,
    claim_order,
)

#: The first key of the advisory locks that mark executions being decided
#: (the second is the hash of the execution id). Two-key advisory locks never
#: collide with the one-key lock migrations take.
DECIDING_LOCK_SPACE = 0x43414445

#: How many waiting executions a decider looks at to find ``limit`` that no
#: other decider has taken.
_SCAN_FACTOR = 4


def load_definitions(conn: Connection, ids: Collection[str]) -> dict[str, DefinitionRecord]:
    """The definitions among ``ids`` that exist, by id."""
    rows = conn.execute(QUERIES["load_definitions"], (list(ids),)).fetchall()
    return {row["id"]: definition_from_row(row) for row in rows}


def deliver(conn: Connection, deliveries: Sequence[tuple[str, Event]], now: float) -> set[str]:
    """Put each ``(execution_id, event)`` in its inbox, in order, and wake listeners.

    Returns the execution ids that exist (the caller decides whether a missing
    one is an error).
    """
    if not deliveries:
        return set()
    wanted = sorted({execution_id for execution_id, _ in deliveries})
    marked = conn.execute(QUERIES["mark_pending"], {"now": now, "ids": wanted}).fetchall()
    found = {row["id"] for row in marked}
    with conn.cursor() as cur:
        cur.executemany(
            QUERIES["insert_inbox"],
            [
                (execution_id, now, *encode_event(event))
                for execution_id, event in deliveries
                if execution_id in found
            ],
        )
        cur.execute(QUERIES["notify_work"])
    return found


def finish(conn: Connection, request: FinishRequest, now: float) -> bool:
    """End an attempt's task row as ``request.finish`` says (events not delivered);
    False if it is no longer the holder's."""
    outcome = request.finish.outcome
    cur = conn.execute(
        QUERIES[FINISH_STATEMENTS[outcome]],
        finish_values(request, now),
    )
    if cur.rowcount != 1:
        return False
    if outcome == FinishOutcome.RETRY:
        conn.execute(QUERIES["notify_work"])
    return True


def claim(conn: Connection, request: ClaimRequest, now: float) -> list[TaskRecord]:
    """Lease up to ``request.limit`` due tasks of its queues, oldest first."""
    if request.limit <= 0 or not request.queues:
        return []
    rows = conn.execute(QUERIES["claim_tasks"], claim_parameters(request, now)).fetchall()
    return sorted((task_from_row(r) for r in rows), key=claim_order)


def claim_parameters(request: ClaimRequest, now: float) -> dict[str, object]:
    """The parameters of ``claim_tasks`` for ``request``."""
    return {
        "owner": request.owner,
        "now": now,
        "lease": request.lease,
        "queues": list(request.queues),
        "limit": request.limit,
        "external": request.external,
        **serves(request.actions, request.own),
    }


def save_parameters(
    decisions: Sequence[tuple[DecisionWork, DecisionResult]], now: float, added: HistoryBytes
) -> dict[str, object]:
    """The parameters of ``save_executions`` for these decisions, whose history
    rows add ``added`` to the executions' stored bytes."""
    rows = [
        {
            "id": result.execution_id,
            "expected": work.decision_no,
            "decision_no": result.decision_no,
            "status": result.status,
            "next_seq": work.next_seq + len(result.appended),
            "snapshot": None if result.snapshot is None else dumps(result.snapshot),
            "save_snapshot": result.snapshot is not None,
            "completed": result.completed,
            "output": dumps(result.output),
            "errors": dumps(result.errors),
            "added_bytes": added.inline.get(result.execution_id, 0),
        }
        for work, result in decisions
    ]
    references = [
        {"id": execution_id, "digest": digest}
        for execution_id, digests in added.blobs.items()
        for digest in digests
    ]
    return {
        "now": now,
        # The envelopes are plain JSON: what is stored inside was encoded above.
        "decisions": json_text(rows),
        "refs": json_text(references) if references else None,
    }


def split_leased(
    results: Sequence[DecisionResult], now: float, lease: NewTaskLease | None
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows of the new tasks of ``results``: those inserted as scheduled, and
    those ``lease`` names, inserted claimed (``insert_leased_task``)."""
    plain: list[tuple[Any, ...]] = []
    leased: list[tuple[Any, ...]] = []
    for result in results:
        for task in result.tasks:
            if lease is not None and (result.execution_id, task.task_id) in lease.keys:
                leased.append(leased_task_values(result.execution_id, task, now, lease))
            else:
                plain.append(task_values(result.execution_id, task, now))
    return plain, leased


def withdraw_and_time(
    cur: psycopg.Cursor[Any], results: Sequence[DecisionResult], tasks: Sequence[object]
) -> None:
    """Withdraw canceled tasks, set timers, and notify when work was added."""
    canceled = [(r.execution_id, task_id) for r in results for task_id in r.canceled_tasks]
    if canceled:
        cur.executemany(QUERIES["cancel_task"], canceled)
    timers = [(r.execution_id, tid, at) for r in results for tid, at in r.timers]
    if timers:
        cur.executemany(QUERIES["upsert_timer"], timers)
    if tasks or timers:
        cur.execute(QUERIES["notify_work"])


def hold_workflow_id(conn: Connection, execution_id: str, workflow_id: str) -> None:
    """Give the execution ``workflow_id``; ``WorkflowIdTaken`` (naming the holder)
    when another open run holds it. Inside the caller's transaction: a savepoint
    keeps it usable after the refusal, to read the holder."""
    params = {"id": execution_id, "workflow_id": workflow_id}
    try:
        with conn.transaction():
            conn.execute(QUERIES["set_workflow_id"], params)
    except psycopg.errors.UniqueViolation as exc:
        holder = open_workflow_run(conn, workflow_id)
        if holder is None:
            raise WorkflowIdTaken.of(workflow_id, None, None) from exc
        raise WorkflowIdTaken.of(workflow_id, holder.id, holder.status) from exc


def open_workflow_run(conn: Connection, workflow_id: str) -> ExecutionRecord | None:
    """The open run holding ``workflow_id``, if any."""
    rows = conn.execute(QUERIES["open_workflow_run"], {"workflow_id": workflow_id}).fetchall()
    return execution_from_row(rows[0]) if rows else None


def has_due_tasks(conn: Connection, request: ClaimRequest, now: float) -> bool:
    """Whether ``claim`` would find a task now."""
    if request.limit <= 0 or not request.queues:
        return False
    row = conn.execute(
        QUERIES["any_due_task"],
        {
            "queues": list(request.queues),
            "now": now,
            "external": request.external,
            **serves(request.actions, request.own),
        },
    ).fetchone()
    return row is not None


def serves(actions: Sequence[str] | None, own: Sequence[str]) -> dict[str, object]:
    """The parameters that limit tasks to those the caller can run."""
    return {"actions": None if actions is None else list(actions), "own": list(own)}


class PostgresRoundReader:
    """The round's read phase (``RoundReader``), statements in autocommit."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        #: Whether this session took deciding locks that must be released.
        self.marked = False
        #: Snapshots and history tails ``pending_work`` read along, by execution.
        self._snapshots: dict[str, JSON] = {}
        self._tails: dict[str, list[RecordedEvent]] = {}

    def pending_work(
        self, request: RoundRequest, finished: Sequence[str]
    ) -> list[tuple[PendingExecution, list[InboxEntry]]]:
        # One round trip: the executions taken, each joined with its inbox, and
        # what rebuilding the states of finished ones the caller lacks needs.
        rows = self.conn.execute(
            QUERIES["take_pending_work"],
            {
                "finished": list(finished),
                "held": [request.held.get(execution_id) for execution_id in finished],
                "kinds": None if request.kinds is None else sorted(request.kinds),
                "only": None if request.only is None else sorted(request.only),
                "now": request.now,
                "scan": request.decide_limit * _SCAN_FACTOR,
                "limit": request.decide_limit,
                "oldest": request.kept_for_oldest,
                "space": DECIDING_LOCK_SPACE,
            },
        ).fetchall()
        self.marked = self.marked or bool(rows)
        found: dict[str, tuple[PendingExecution, list[InboxEntry]]] = {}
        for row in rows:
            if row["part"] == 1:
                self._snapshots[row["id"]] = loads(row["snapshot"])
                self._tails[row["id"]] = []
                continue
            if row["part"] == 2:
                self._tails[row["id"]].append(recorded_event(row))
                continue
            if row["id"] not in found:
                found[row["id"]] = (
                    PendingExecution(
                        id=row["id"],
                        definition_id=row["definition_id"],
                        kind=row["kind"],
                        status=row["status"],
                        decision_no=row["decision_no"],
                        next_seq=row["next_seq"],
                        snapshot_seq=row["snapshot_seq"],
                        family=Family(row["parent_id"], row["parent_task_id"], row["has_children"]),
                    ),
                    [],
                )
            if row["inbox_id"] is not None:
                found[row["id"]][1].append(
                    InboxEntry(
                        row["inbox_id"], row["time"], decode_event(row["type"], row["payload"])
                    )
                )
        return list(found.values())

    def definitions(self, ids: Sequence[str]) -> dict[str, DefinitionRecord]:
        return load_definitions(self.conn, ids)

    def snapshots_and_tails(
        self, ids: Sequence[str]
    ) -> tuple[dict[str, JSON], dict[str, list[RecordedEvent]]]:
        snapshots: dict[str, JSON] = {}
        histories: dict[str, list[RecordedEvent]] = {}
        for execution_id in ids:
            if execution_id in self._tails:
                snapshots[execution_id] = self._snapshots.pop(execution_id)
                histories[execution_id] = self._tails.pop(execution_id)
        missing = [execution_id for execution_id in ids if execution_id not in histories]
        if not missing:
            return snapshots, histories
        histories.update({execution_id: [] for execution_id in missing})
        rows = self.conn.execute(QUERIES["load_snapshots_and_tails"], {"ids": missing})
        for row in rows.fetchall():
            if row["seq"] is None:
                snapshots[row["execution_id"]] = loads(row["snapshot"])
            else:
                histories[row["execution_id"]].append(recorded_event(row))
        return snapshots, histories

    def has_due_tasks(self, claim: ClaimRequest, now: float) -> bool:
        return has_due_tasks(self.conn, claim, now)


class PostgresRoundWriter:
    """The round's write phase (``RoundWriter``), inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def finish(self, request: FinishRequest, now: float) -> bool:
        return finish(self.conn, request, now)

    def decision_numbers(self, ids: Sequence[str]) -> dict[str, int]:
        if not ids:
            return {}
        rows = self.conn.execute(QUERIES["decision_numbers"], (sorted(ids),)).fetchall()
        return {row["id"]: row["decision_no"] for row in rows}

    def consume_inbox(self, entry_ids: Sequence[int]) -> set[int]:
        rows = self.conn.execute(QUERIES["consume_inbox"], (list(entry_ids),)).fetchall()
        return {row["id"] for row in rows}

    def save(
        self,
        decisions: Sequence[tuple[DecisionWork, DecisionResult]],
        now: float,
        lease: NewTaskLease | None = None,
    ) -> list[TaskRecord]:
        if not decisions:
            return []
        results = [result for _work, result in decisions]
        # Encoded first: the rows' blobs must be in the blob table when the
        # execution rows add up their sizes.
        history, added = encoded_history(decisions)
        saved = {
            row["id"]
            for row in self.conn.execute(
                QUERIES["save_executions"], save_parameters(decisions, now, added)
            ).fetchall()
        }
        moved = [r.execution_id for r in results if r.execution_id not in saved]
        if moved:
            # Checked under row lock a moment ago: only a writer that broke the
            # protocol can get here. Save nothing.
            raise LeaseLost(
                f"execution {moved[0]!r} moved while its decision was being saved",
                execution_id=moved[0],
            )
        with self.conn.cursor() as cur:
            with cur.copy(QUERIES["copy_history"]) as copy:
                for row in history:
                    copy.write_row(row)
            tasks, leased_rows = split_leased(results, now, lease)
            if tasks:
                with cur.copy(QUERIES["copy_tasks"]) as copy:
                    for task_row in tasks:
                        copy.write_row(task_row)
            leased = [
                task_from_row(row)
                for values in leased_rows
                for row in cur.execute(QUERIES["insert_leased_task"], values).fetchall()
            ]
            withdraw_and_time(cur, results, tasks)
        return leased

    def deliver(self, deliveries: Sequence[tuple[str, Event]], now: float) -> None:
        deliver(self.conn, deliveries, now)

    def definition_for(self, reference: str) -> DefinitionRecord | None:
        found = load_definitions(self.conn, [reference])
        if reference in found:
            return found[reference]
        params = {"name": reference, "kind": None, "limit": 1}
        row = self.conn.execute(QUERIES["list_definitions"], params).fetchone()
        return None if row is None else definition_from_row(row)

    def insert_child(
        self, child: NewChild, definition: DefinitionRecord, parent_id: str, now: float
    ) -> None:
        self.conn.execute(
            QUERIES["insert_execution"],
            (
                child.execution_id,
                definition.id,
                definition.kind,
                definition.name,
                now,
                now,
                now,
                parent_id,
                # A detached child names its parent but no task to report to.
                None if child.detached else child.task_id,
            ),
        )

    def parents_of(self, ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        rows = self.conn.execute(QUERIES["parents_of"], {"ids": list(ids)}).fetchall()
        return {row["id"]: (row["parent_id"], row["parent_task_id"]) for row in rows}

    def children_of(self, ids: Sequence[str]) -> list[tuple[str, str, str | None, str, str | None]]:
        rows = self.conn.execute(QUERIES["children_of"], {"ids": list(ids)}).fetchall()
        return [
            (r["id"], r["parent_id"], r["parent_task_id"], r["status"], r["child_policy"])
            for r in rows
        ]

    def hold_workflow_id(self, execution_id: str, workflow_id: str) -> None:
        hold_workflow_id(self.conn, execution_id, workflow_id)

    def set_child_policy(self, execution_id: str, policy: str) -> None:
        self.conn.execute(QUERIES["set_child_policy"], {"id": execution_id, "policy": policy})

    def withdraw_work(self, ids: Sequence[str]) -> None:
        for statement in ("delete_tasks", "delete_timers"):
            self.conn.execute(QUERIES[statement], {"ids": list(ids)})

    def claim(self, request: ClaimRequest, now: float) -> list[TaskRecord]:
        return claim(self.conn, request, now)
