"""What PostgreSQL transactions a cluster does without: a listener that pauses
while its process could not take more work, and a round that reads the state
it must rebuild (snapshot and history after it) in the statement that takes
its executions.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import pytest

from cadenza.model.events import TaskCompleted
from cadenza.store.protocol import ClaimRequest, FinishRequest, RoundOutcome, RoundRequest
from cadenza.store.records import DecisionResult, DecisionWork, FinishOutcome, TaskFinish

from .conftest import NOW, decide_one_task_each, start

pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[test]'")

from cadenza.store.postgres import PostgresStore
from cadenza.store.postgres.queries import QUERIES

#: Upper bound for anything that should happen "at once"; never a sleep.
PROMPTLY = 10.0

CLAIM = ClaimRequest("me", ("default",), 10, 30.0)


def run(
    store: PostgresStore,
    decide: Callable[[list[DecisionWork]], list[DecisionResult]] = decide_one_task_each,
    **request: Any,
) -> RoundOutcome:
    request.setdefault("owner", "me")
    request.setdefault("now", NOW)
    return store.run_round(RoundRequest(**request), decide)


def done(execution_id: str, task_id: str) -> FinishRequest:
    event = TaskCompleted(task_id=task_id, attempt=1)
    return FinishRequest(execution_id, task_id, 1, "me", TaskFinish(FinishOutcome.DONE, [event]))


# --- the listener's pause ---------------------------------------------------------------


def last_statements(raw: Any) -> list[str]:
    """The last statement of every other session on this database."""
    rows = raw.execute(
        "SELECT query FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).fetchall()
    return [row["query"].strip() for row in rows]


def test_a_paused_listener_unlistens_and_says_at_once_that_it_may_have_missed_work(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore], raw: Any
) -> None:
    waiter = open_pg()
    assert waiter.wait_for_work(0) is False  # listening; nothing yet
    waiter.pause_notifications()
    assert QUERIES["unlisten_work"].strip() in last_statements(raw)
    waiter.pause_notifications()  # already paused: nothing more to do

    # No work was added, but a paused listener cannot know: it says so at once.
    started = time.monotonic()
    assert waiter.wait_for_work(60) is True
    assert time.monotonic() - started < PROMPTLY
    assert QUERIES["listen_work"].strip() in last_statements(raw)
    assert waiter.wait_for_work(0.1) is False

    waiter.pause_notifications()
    start(pg_store, 1)  # notifies while the waiter is not listening
    assert waiter.wait_for_work(PROMPTLY) is True
    start(pg_store, 1, prefix="f")  # listening again: new work is heard of
    assert waiter.wait_for_work(PROMPTLY) is True
    assert waiter.wait_for_work(0.1) is False


def test_pausing_a_store_that_never_listened_does_nothing(pg_store: PostgresStore) -> None:
    pg_store.pause_notifications()
    assert pg_store.wait_for_work(0) is False  # the first wait only starts listening


def test_a_paused_listener_whose_connection_failed_still_says_it_may_have_missed_work(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore], raw: Any
) -> None:
    waiter = open_pg()
    assert waiter.wait_for_work(0) is False
    listener_pids = [
        row["pid"]
        for row in raw.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
            (QUERIES["listen_work"].strip(),),
        ).fetchall()
    ]
    assert listener_pids
    for pid in listener_pids:
        raw.execute("SELECT pg_terminate_backend(%s)", (pid,))
    waiter.pause_notifications()  # fails on the dead connection, drops it
    assert waiter.wait_for_work(60) is True
    start(pg_store, 1)
    assert waiter.wait_for_work(PROMPTLY) is True


# --- rebuilding a state another process held ------------------------------------------------


def without_snapshot(works: list[DecisionWork]) -> list[DecisionResult]:
    return [dataclasses.replace(r, snapshot=None) for r in decide_one_task_each(works)]


def test_a_round_reads_the_state_it_rebuilds_with_the_executions_it_takes(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore], monkeypatch: Any
) -> None:
    (execution_id,) = start(pg_store, 1)
    (first,) = run(pg_store, claim=CLAIM).claimed  # decision 1, with a snapshot
    (second,) = run(
        pg_store, without_snapshot, finishes=[done(execution_id, first.task_id)], claim=CLAIM
    ).claimed  # decision 2, history after the snapshot
    tail = pg_store.read_history(execution_id, after_seq=1)
    assert {event.decision for event in tail} == {1, 2}

    # Another process finishes the task without holding the state: it must
    # rebuild it, and needs no statement of its own to read what it needs.
    other = open_pg()
    monkeypatch.setitem(QUERIES, "load_snapshots_and_tails", "SELECT no_such_function()")
    seen: list[DecisionWork] = []

    def watching(works: list[DecisionWork]) -> list[DecisionResult]:
        seen.extend(works)
        return decide_one_task_each(works)

    outcome = run(other, watching, finishes=[done(execution_id, second.task_id)])
    assert outcome.decided == 1
    (work,) = seen
    assert work.snapshot == {"decisions": 1}
    before = [event for event in tail if event.seq > work.snapshot_seq]
    assert work.history == before
    assert {event.decision for event in before} == {2}


def test_a_round_that_holds_the_state_reads_no_snapshot(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore]
) -> None:
    (execution_id,) = start(pg_store, 1)
    (first,) = run(pg_store, claim=CLAIM).claimed
    seen: list[DecisionWork] = []

    def watching(works: list[DecisionWork]) -> list[DecisionResult]:
        seen.extend(works)
        return decide_one_task_each(works)

    run(open_pg(), watching, finishes=[done(execution_id, first.task_id)], held={execution_id: 1})
    (work,) = seen
    assert work.history is None and work.snapshot is None


def test_an_execution_woken_by_its_inbox_is_rebuilt_by_a_statement_of_its_own(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore]
) -> None:
    # Not among this round's finishes: its state is read the usual way.
    (execution_id,) = start(pg_store, 1)
    (first,) = run(pg_store, claim=CLAIM).claimed
    pg_store.finish_task(done(execution_id, first.task_id), NOW)  # to the inbox
    seen: list[DecisionWork] = []

    def watching(works: list[DecisionWork]) -> list[DecisionResult]:
        seen.extend(works)
        return decide_one_task_each(works)

    assert run(open_pg(), watching).decided == 1
    (work,) = seen
    assert work.snapshot == {"decisions": 1} and work.history == []
    assert [type(e).__name__ for e in work.inputs] == ["TaskCompleted"]
