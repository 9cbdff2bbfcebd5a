"""``decide`` inside one transaction: lock executions with work, load, save.

The executions are locked with ``FOR NO KEY UPDATE SKIP LOCKED`` for the whole
transaction, so across every process only one decider works on an execution
at a time, and deciders never wait for each other. Everything one batch
decided is saved with a handful of statements whatever its size (one per
table, rows sent together), because round trips, not rows, are the cost.

Saving is guarded so that a decision can never be applied twice, even if a
caller retries a transaction whose commit outcome it could not learn: the
inbox rows a decision consumed must still exist, and the execution must still
be at the decision number the decision started from. Otherwise the whole
batch is refused with ``LeaseLost`` and nothing of it is saved.
"""

from __future__ import annotations

from collections.abc import Collection, Container, Mapping, Sequence
from typing import Any

from cadenza.model.errors import DefinitionNotFound, LeaseLost
from cadenza.model.events import RecordedEvent
from cadenza.store.codec import decode_event, dumps, encode_event, encode_retry, loads
from cadenza.store.postgres.connections import Connection
from cadenza.store.postgres.queries import QUERIES
from cadenza.store.records import DecisionResult, DecisionWork, DefinitionRecord, NewTask

#: Inbox row ids handed to each execution's decision, oldest first.
InboxIds = dict[str, list[int]]


def load_definitions(conn: Connection, ids: Collection[str]) -> dict[str, DefinitionRecord]:
    """The definitions among ``ids`` that exist, by id."""
    rows = conn.execute(QUERIES["load_definitions"], (list(ids),)).fetchall()
    return {row["id"]: DefinitionRecord(**row) for row in rows}


def recorded_event(row: dict[str, Any]) -> RecordedEvent:
    """A ``history`` row as the event it records."""
    return RecordedEvent(
        row["seq"], row["decision"], row["time"], decode_event(row["type"], row["payload"])
    )


def read_histories(conn: Connection, ids: Sequence[str]) -> dict[str, list[RecordedEvent]]:
    """The whole histories of the executions ``ids``, by execution id."""
    histories: dict[str, list[RecordedEvent]] = {execution_id: [] for execution_id in ids}
    for row in conn.execute(QUERIES["read_histories"], (list(ids),)).fetchall():
        histories[row["execution_id"]].append(recorded_event(row))
    return histories


def lock_work(
    conn: Connection,
    limit: int,
    known_definitions: Container[str],
    known_states: Mapping[str, int],
) -> tuple[list[DecisionWork], InboxIds]:
    """Lock up to ``limit`` executions with inbox events, oldest first; load their work."""
    rows = conn.execute(QUERIES["lock_pending_executions"], (limit,)).fetchall()
    if not rows:
        return [], {}
    ids = [row["id"] for row in rows]
    inboxes: dict[str, list[dict[str, Any]]] = {execution_id: [] for execution_id in ids}
    for entry in conn.execute(QUERIES["load_inboxes"], (ids,)).fetchall():
        inboxes[entry["execution_id"]].append(entry)
    wanted = {row["definition_id"] for row in rows if row["definition_id"] not in known_definitions}
    definitions = load_definitions(conn, wanted) if wanted else {}
    # States the caller does not hold come from the last snapshot plus the
    # history recorded after it.
    rebuild = [
        row["id"]
        for row in rows
        if row["decision_no"] > 0 and known_states.get(row["id"]) != row["decision_no"]
    ]
    histories = read_histories(conn, rebuild) if rebuild else {}
    snapshots = (
        {r["id"]: loads(r["snapshot"]) for r in conn.execute(QUERIES["load_snapshots"], (rebuild,))}
        if rebuild
        else {}
    )
    works = []
    for row in rows:
        definition: DefinitionRecord | None = None
        if row["definition_id"] in wanted:
            definition = definitions.get(row["definition_id"])
            if definition is None:
                raise DefinitionNotFound(f"no definition with id {row['definition_id']!r}")
        inbox = inboxes[row["id"]]
        works.append(
            DecisionWork(
                execution_id=row["id"],
                definition_id=row["definition_id"],
                kind=row["kind"],
                status=row["status"],
                decision_no=row["decision_no"],
                next_seq=row["next_seq"],
                snapshot_seq=row["snapshot_seq"],
                snapshot=snapshots.get(row["id"]),
                inputs=[decode_event(entry["type"], entry["payload"]) for entry in inbox],
                input_times=[entry["time"] for entry in inbox],
                definition=definition,
                history=histories.get(row["id"]) if row["id"] in snapshots else None,
            )
        )
    inbox_ids = {
        execution_id: [entry["id"] for entry in inboxes[execution_id]] for execution_id in ids
    }
    return works, inbox_ids


def save_decisions(
    conn: Connection,
    works: Sequence[DecisionWork],
    results: Sequence[DecisionResult],
    inbox_ids: InboxIds,
    now: float,
) -> None:
    """Save ``results`` (decided from ``works``); ``LeaseLost`` if any was saved before.

    Call inside the transaction that locked the executions; on ``LeaseLost``
    the caller must roll it back, which the store's transaction does.
    """
    if not results:
        return
    by_id = {work.execution_id: work for work in works}
    _consume_inbox(conn, results, inbox_ids, by_id)
    seqs = {r.execution_id: by_id[r.execution_id].next_seq + len(r.appended) for r in results}
    saved = {
        row["id"]
        for row in conn.execute(
            QUERIES["save_executions"],
            {
                "now": now,
                "ids": [r.execution_id for r in results],
                "expected": [by_id[r.execution_id].decision_no for r in results],
                "decision_nos": [r.decision_no for r in results],
                "statuses": [r.status for r in results],
                "next_seqs": [seqs[r.execution_id] for r in results],
                "snapshots": [None if r.snapshot is None else dumps(r.snapshot) for r in results],
                "save_snapshots": [r.snapshot is not None for r in results],
                "completed": [r.completed for r in results],
                "outputs": [dumps(r.output) for r in results],
                "errors": [dumps(r.errors) for r in results],
            },
        ).fetchall()
    }
    stale = [r for r in results if r.execution_id not in saved]
    if stale:
        first = stale[0]
        raise _superseded(
            first.execution_id,
            by_id[first.execution_id].decision_no,
            "has moved past the decision this batch started from",
        )
    with conn.cursor() as cur:
        with cur.copy(QUERIES["copy_history"]) as copy:
            for history_row in _history_rows(results, by_id):
                copy.write_row(history_row)
        tasks = [_task_row(r.execution_id, task, now) for r in results for task in r.tasks]
        if tasks:
            with cur.copy(QUERIES["copy_tasks"]) as copy:
                for task_row in tasks:
                    copy.write_row(task_row)
        canceled = [(r.execution_id, task_id) for r in results for task_id in r.canceled_tasks]
        if canceled:
            cur.executemany(QUERIES["cancel_task"], canceled)
        timers = [(r.execution_id, tid, fire_at) for r in results for tid, fire_at in r.timers]
        if timers:
            cur.executemany(QUERIES["upsert_timer"], timers)
        if tasks or timers:
            cur.execute(QUERIES["notify_work"])


def _consume_inbox(
    conn: Connection,
    results: Sequence[DecisionResult],
    inbox_ids: InboxIds,
    by_id: dict[str, DecisionWork],
) -> None:
    # Delete the exact rows that were decided, not "every row up to the last
    # one": inbox ids are handed out before commit, so a row with a smaller id
    # can become visible after this transaction read the inbox.
    consumed = {r.execution_id: inbox_ids[r.execution_id][: r.consumed_inputs] for r in results}
    wanted = [row_id for ids in consumed.values() for row_id in ids]
    if not wanted:
        return
    gone = {row["id"] for row in conn.execute(QUERIES["consume_inbox"], (wanted,)).fetchall()}
    for execution_id, ids in consumed.items():
        if not gone.issuperset(ids):
            raise _superseded(
                execution_id,
                by_id[execution_id].decision_no,
                "lost inbox events that another decision consumed",
            )


def _superseded(execution_id: str, decision_no: int, why: str) -> LeaseLost:
    return LeaseLost(
        f"execution {execution_id!r} {why} (after decision {decision_no}); it was decided "
        "elsewhere or this decision was already saved, so nothing of this batch was saved",
        execution_id=execution_id,
        decision_no=decision_no,
    )


def _history_rows(
    results: Sequence[DecisionResult], by_id: dict[str, DecisionWork]
) -> list[tuple[str, int, int, float, str, str]]:
    rows = []
    for result in results:
        seq = by_id[result.execution_id].next_seq
        for decision, time, event in result.appended:
            rows.append((result.execution_id, seq, decision, time, *encode_event(event)))
            seq += 1
    return rows


def _task_row(execution_id: str, task: NewTask, now: float) -> tuple[Any, ...]:
    return (
        execution_id,
        task.task_id,
        task.name,
        task.action,
        dumps(task.input),
        task.queue,
        "scheduled",
        0,
        task.available_at,
        encode_retry(task.retry),
        task.timeout,
        task.heartbeat_timeout,
        dumps(task.meta),
        now,
        now,
    )
