"""What only the PostgreSQL store does: wake-ups, row locks across connections,
guarded decision saves, and error translation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from cadenza.model.errors import ExecutionNotFound, LeaseLost, StoreError, StoreUnavailable
from cadenza.model.events import ResumeRequested, TaskCompleted
from cadenza.store import open_store
from cadenza.store.records import DecisionResult, DecisionWork, TaskFinish

from .conftest import DEFINITION, NOW, decide_one_task_each, start

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is not installed: pip install -e '.[test]'"
)

from cadenza.store.postgres import PostgresStore  # noqa: E402
from cadenza.store.postgres.decisions import lock_work, save_decisions  # noqa: E402

#: Upper bound for anything that should happen "at once"; never a sleep.
PROMPTLY = 10.0


def wait_until(condition: Callable[[], bool], timeout: float = PROMPTLY) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {condition}")


def history_rows(raw: Any, execution_id: str) -> list[tuple[int, str]]:
    rows = raw.execute(
        "SELECT seq, type FROM history WHERE execution_id = %s ORDER BY seq", (execution_id,)
    ).fetchall()
    return [(r["seq"], r["type"]) for r in rows]


# --- opening -----------------------------------------------------------------------


def test_both_url_schemes_open_a_postgres_store(postgres_url: str) -> None:
    for url in (postgres_url, postgres_url.replace("postgresql://", "postgres://", 1)):
        store = open_store(url)
        assert isinstance(store, PostgresStore)
        assert store.capabilities.multi_host and store.capabilities.notifications
        store.close()


def test_an_unreachable_server_is_store_unavailable_and_hides_the_password() -> None:
    with pytest.raises(StoreUnavailable) as caught:
        PostgresStore("postgresql://cadenza:s3cret@127.0.0.1:1/nothing", connect_timeout=1)
    assert caught.value.code == "store.unavailable"
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    assert "127.0.0.1:1/nothing" in caught.value.message
    assert "s3cret" not in caught.value.message


def test_a_failing_statement_is_a_store_error_chained_to_psycopg(
    pg_store: PostgresStore,
) -> None:
    start(pg_store, 1)
    with pytest.raises(StoreError) as caught:
        start(pg_store, 1)  # the same execution id again
    assert type(caught.value) is StoreError
    assert isinstance(caught.value.__cause__, psycopg.errors.UniqueViolation)


# --- wake-ups ---------------------------------------------------------------------


def test_added_work_wakes_a_waiting_store_and_nothing_else_does(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore]
) -> None:
    waiter = open_pg()
    assert waiter.wait_for_work(0) is False  # starts listening; nothing yet

    woke: list[bool] = []
    blocked = threading.Thread(target=lambda: woke.append(waiter.wait_for_work(60)))
    blocked.start()
    started = time.monotonic()
    (execution_id,) = start(pg_store, 1)  # an inbox event
    blocked.join(PROMPTLY)
    assert woke == [True] and time.monotonic() - started < PROMPTLY
    assert waiter.wait_for_work(0) is False  # one notification, one wake-up

    assert pg_store.decide("me", 10, decide_one_task_each, NOW) == 1  # a task
    assert waiter.wait_for_work(PROMPTLY) is True

    (task,) = pg_store.claim_tasks("me", ["default"], 10, 30, NOW)  # adds no work
    assert waiter.wait_for_work(0.1) is False

    done = TaskCompleted(task_id=task.task_id, attempt=task.attempt)
    pg_store.finish_task(execution_id, task.task_id, 1, "me", TaskFinish("done", [done]), NOW)
    assert waiter.wait_for_work(PROMPTLY) is True


def test_a_due_timer_and_a_retried_task_wake_waiters(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore]
) -> None:
    waiter = open_pg()
    (execution_id,) = start(pg_store, 1)
    pg_store.decide("me", 10, decide_one_task_each, NOW)
    (task,) = pg_store.claim_tasks("me", ["default"], 10, 30, NOW)
    assert waiter.wait_for_work(0) is False  # starts listening after the work above

    pg_store.finish_task(
        execution_id, task.task_id, 1, "me", TaskFinish("retry", [], available_at=NOW + 5), NOW
    )
    assert waiter.wait_for_work(PROMPTLY) is True

    pg_store.deliver(execution_id, [], NOW)  # nothing delivered, nothing to wake for
    assert waiter.wait_for_work(0.1) is False


# --- row locks across connections -------------------------------------------------


def test_claims_race_across_connections_and_each_task_has_one_winner(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore]
) -> None:
    start(pg_store, 60)
    assert pg_store.decide("me", 100, decide_one_task_each, NOW) == 60
    workers = [open_pg() for _ in range(8)]
    barrier = threading.Barrier(len(workers))
    won: list[list[str]] = [[] for _ in workers]

    def claim(i: int) -> None:
        barrier.wait()
        while got := workers[i].claim_tasks(f"w{i}", ["default"], 2, 30, NOW):
            won[i].extend(t.execution_id for t in got)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PROMPTLY)
    claimed = [execution_id for got in won for execution_id in got]
    assert len(claimed) == 60 and len(set(claimed)) == 60


def test_a_claim_skips_a_task_locked_elsewhere_instead_of_waiting(
    pg_store: PostgresStore, postgres_url: str
) -> None:
    start(pg_store, 3)
    pg_store.decide("me", 10, decide_one_task_each, NOW)
    with psycopg.connect(postgres_url) as other, other.transaction():
        locked = other.execute(
            "SELECT execution_id FROM tasks ORDER BY execution_id LIMIT 1 FOR UPDATE"
        ).fetchone()[0]
        got: list[str] = []
        claimer = threading.Thread(
            target=lambda: got.extend(
                t.execution_id for t in pg_store.claim_tasks("me", ["default"], 10, 30, NOW)
            )
        )
        claimer.start()
        claimer.join(PROMPTLY)
        assert not claimer.is_alive(), "the claim waited for the other transaction's lock"
    assert len(got) == 2 and locked not in got
    assert [t.execution_id for t in pg_store.claim_tasks("me", ["default"], 10, 30, NOW)] == [
        locked
    ]


def test_two_deciders_hold_disjoint_executions_at_the_same_time(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore]
) -> None:
    ids = start(pg_store, 20)
    deciders = [open_pg(), open_pg()]
    # Each callback waits for the other to be inside its own transaction, so
    # both hold their row locks at once; SKIP LOCKED must split the work.
    both_inside = threading.Barrier(2, timeout=PROMPTLY)
    decided: list[list[str]] = [[], []]

    def decide(i: int) -> None:
        def callback(works: list[DecisionWork]) -> list[DecisionResult]:
            decided[i].extend(w.execution_id for w in works)
            both_inside.wait()
            return decide_one_task_each(works)

        deciders[i].decide(f"d{i}", 10, callback, NOW)

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PROMPTLY)
    assert len(decided[0]) == len(decided[1]) == 10
    assert sorted(decided[0] + decided[1]) == ids
    assert pg_store.decide("me", 100, decide_one_task_each, NOW) == 0


def test_decide_skips_an_execution_locked_elsewhere(
    pg_store: PostgresStore, postgres_url: str
) -> None:
    ids = start(pg_store, 3)
    with psycopg.connect(postgres_url) as other, other.transaction():
        other.execute("SELECT 1 FROM executions WHERE id = %s FOR UPDATE", (ids[0],))
        assert pg_store.decide("me", 10, decide_one_task_each, NOW) == 2
    assert pg_store.decide("me", 10, decide_one_task_each, NOW) == 1


# --- a decision is never applied twice ----------------------------------------------


def test_a_decision_saved_again_after_its_commit_is_refused(
    pg_store: PostgresStore, raw: Any
) -> None:
    """A commit whose outcome the caller did not learn, then retried as is."""
    ids = start(pg_store, 2)
    with raw.transaction():
        works, inbox_ids = lock_work(raw, 10, (), {})
        results = decide_one_task_each(works)
        save_decisions(raw, works, results, inbox_ids, NOW)
    saved = {i: history_rows(raw, i) for i in ids}
    commits = pg_store.commits

    with pytest.raises(LeaseLost) as caught, raw.transaction():
        save_decisions(raw, works, results, inbox_ids, NOW)
    assert caught.value.code == "store.lease_lost"
    assert caught.value.details["execution_id"] in ids
    assert {i: history_rows(raw, i) for i in ids} == saved
    assert [pg_store.load_execution(i).last_seq for i in ids] == [2, 2]
    # A retried decide() reads the store afresh and finds nothing left to do.
    assert pg_store.decide("me", 10, decide_one_task_each, NOW) == 0
    assert pg_store.commits == commits + 1


def test_a_stale_decision_refuses_its_whole_batch(pg_store: PostgresStore, raw: Any) -> None:
    """The decision-number guard alone: the inbox rows exist, the decision moved on."""
    fresh_id, stale_id = start(pg_store, 2)
    with raw.transaction():
        old_works, _ = lock_work(raw, 10, (), {})
    pg_store.decide("me", 10, decide_one_task_each, NOW)  # decision 1 of both
    pg_store.deliver(fresh_id, [ResumeRequested()], NOW)
    pg_store.deliver(stale_id, [ResumeRequested()], NOW)
    before = {i: history_rows(raw, i) for i in (fresh_id, stale_id)}

    with pytest.raises(LeaseLost) as caught, raw.transaction():
        works, inbox_ids = lock_work(raw, 10, (), {})
        current = {w.execution_id: w for w in works}
        # The fresh execution's decision starts from the current state; the
        # other one's from the state before decision 1, as a slow or
        # partitioned decider would have it.
        batch = [current[fresh_id], next(w for w in old_works if w.execution_id == stale_id)]
        save_decisions(raw, batch, decide_one_task_each(batch), inbox_ids, NOW)
    assert caught.value.details == {"execution_id": stale_id, "decision_no": 0}
    assert {i: history_rows(raw, i) for i in (fresh_id, stale_id)} == before
    assert pg_store.decide("me", 10, decide_one_task_each, NOW) == 2


def test_a_connection_lost_mid_decision_saves_nothing_and_the_store_recovers(
    pg_store: PostgresStore, postgres_server: Any, postgres_url: str
) -> None:
    (execution_id,) = start(pg_store, 1)
    database = postgres_url.rsplit("/", 1)[1]
    admin = postgres_server.admin

    def in_transaction() -> list[int]:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND state = 'idle in transaction'",
            (database,),
        ).fetchall()
        return [row[0] for row in rows]

    def killing_decider(works: list[DecisionWork]) -> list[DecisionResult]:
        (pid,) = in_transaction()
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        wait_until(lambda: pid not in in_transaction())
        return decide_one_task_each(works)

    with pytest.raises(StoreUnavailable) as caught:
        pg_store.decide("me", 10, killing_decider, NOW)
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    assert [r.event.type for r in pg_store.read_history(execution_id)] == []
    assert pg_store.decide("me", 10, decide_one_task_each, NOW) == 1
    assert [r.event.type for r in pg_store.read_history(execution_id)] == [
        "ExecutionStarted",
        "TaskScheduled",
    ]


def test_a_delivery_to_a_missing_execution_is_refused_whole(pg_store: PostgresStore) -> None:
    start(pg_store, 1)
    with pytest.raises(ExecutionNotFound):
        pg_store.deliver("nope", [ResumeRequested()], NOW)
    assert pg_store.next_wakeup() == NOW
    assert DEFINITION.id == pg_store.load_definition(DEFINITION.id).id


def test_batched_rows_keep_every_character_and_time_exactly(pg_store: PostgresStore) -> None:
    (execution_id,) = start(pg_store, 1)
    tricky = 'tab\t newline\n backslash\\ quote" nul\x00 é ☃ \\N'
    when = NOW + 0.1 + 1e-9
    pg_store.decide("me", 10, decide_one_task_each, NOW)
    (task,) = pg_store.claim_tasks("me", ["default"], 10, 30, NOW)
    done = TaskCompleted(task_id=task.task_id, result={"text": tricky, tricky: [1.5e-300]})
    pg_store.finish_task(execution_id, task.task_id, 1, "me", TaskFinish("done", [done]), when)
    pg_store.decide("me", 10, decide_one_task_each, NOW)
    recorded = pg_store.read_history(execution_id, after_seq=2)
    assert recorded[0].event == done and recorded[0].time == when
    (again,) = pg_store.claim_tasks("me", ["default"], 10, 30, NOW)
    assert again.input == {"decision": 2}
