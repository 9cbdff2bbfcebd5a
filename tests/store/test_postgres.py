"""What only the PostgreSQL store does: opening and error translation,
LISTEN/NOTIFY wake-ups, SKIP LOCKED claims, the advisory locks that mark the
executions a round is deciding, and its connection pool.

What every backend promises is in ``tests/store/contract``.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from cadenza.model.errors import StoreError, StoreUnavailable
from cadenza.model.events import PauseRequested, TaskCompleted
from cadenza.store import open_store
from cadenza.store.protocol import ClaimRequest, FinishRequest, RoundOutcome
from cadenza.store.records import DecisionResult, DecisionWork, FinishOutcome, TaskFinish

from .conftest import NOW, decide_one_task_each, start

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is not installed: pip install -e '.[test]'"
)

from cadenza.store.postgres import PostgresStore  # noqa: E402
from cadenza.store.postgres.connections import ConnectionPool  # noqa: E402
from cadenza.store.postgres.round_statements import DECIDING_LOCK_SPACE  # noqa: E402
from cadenza.store.protocol import RoundRequest  # noqa: E402

#: Upper bound for anything that should happen "at once"; never a sleep.
PROMPTLY = 10.0

CLAIM = ClaimRequest("me", ("default",), 10, 30.0)


def wait_until(condition: Callable[[], bool], timeout: float = PROMPTLY) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {condition}")
        time.sleep(0.01)


def run(
    store: PostgresStore,
    decide: Callable[[list[DecisionWork]], list[DecisionResult]] = decide_one_task_each,
    **request: Any,
) -> RoundOutcome:
    request.setdefault("owner", "me")
    request.setdefault("now", NOW)
    return store.run_round(RoundRequest(**request), decide)


class Blocked:
    """A decider that records its works, says it was entered, and waits to be released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.works: list[DecisionWork] = []

    def __call__(self, works: list[DecisionWork]) -> list[DecisionResult]:
        self.works = list(works)
        self.entered.set()
        if not self.release.wait(PROMPTLY):
            raise AssertionError("the blocked decider was not released")
        return decide_one_task_each(works)


class InThread:
    """``fn`` on a thread of its own; ``result`` waits for it with a deadline."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()

        def target() -> None:
            try:
                self.value = fn()
            except BaseException as exc:
                self.error = exc
            finally:
                self.done.set()

        threading.Thread(target=target, daemon=True).start()

    def result(self, timeout: float = PROMPTLY) -> Any:
        if not self.done.wait(timeout):
            raise AssertionError(f"still running after {timeout} s")
        if self.error is not None:
            raise self.error
        return self.value


def marks(raw: Any) -> list[int]:
    """The execution hashes marked as being decided, by any session."""
    rows = raw.execute(
        "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = %s "
        "AND objsubid = 2 AND granted AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())",
        (DECIDING_LOCK_SPACE,),
    ).fetchall()
    return sorted(row["objid"] for row in rows)


def marking_pids(raw: Any) -> list[int]:
    rows = raw.execute(
        "SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = %s "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (DECIDING_LOCK_SPACE,),
    ).fetchall()
    return [row["pid"] for row in rows]


def history_types(store: PostgresStore, execution_id: str) -> list[str]:
    return [r.event.type for r in store.read_history(execution_id)]


def done(execution_id: str, task_id: str, owner: str = "me", attempt: int = 1) -> FinishRequest:
    event = TaskCompleted(task_id=task_id, attempt=attempt)
    return FinishRequest(
        execution_id, task_id, attempt, owner, TaskFinish(FinishOutcome.DONE, [event])
    )


# --- opening and errors ---------------------------------------------------------------


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
    assert len(pg_store.list_executions()) == 1


# --- wake-ups -----------------------------------------------------------------------


def test_added_work_wakes_a_waiting_store_and_nothing_else_does(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore]
) -> None:
    waiter = open_pg()
    assert waiter.wait_for_work(0) is False  # starts listening; nothing yet

    blocked = InThread(lambda: waiter.wait_for_work(60))
    started = time.monotonic()
    (execution_id,) = start(pg_store, 1)  # an inbox event
    assert blocked.result() is True and time.monotonic() - started < PROMPTLY
    assert waiter.wait_for_work(0) is False  # one notification, one wake-up

    assert run(pg_store).decided == 1  # a task
    assert waiter.wait_for_work(PROMPTLY) is True

    (task,) = pg_store.claim_tasks(CLAIM, NOW)  # adds no work
    assert waiter.wait_for_work(0.1) is False

    pg_store.finish_task(done(execution_id, task.task_id), NOW)
    assert waiter.wait_for_work(PROMPTLY) is True


def test_a_due_timer_and_a_retried_task_wake_waiters(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore]
) -> None:
    waiter = open_pg()
    (execution_id,) = start(pg_store, 1)

    def with_timer(works: list[DecisionWork]) -> list[DecisionResult]:
        return [
            dataclasses.replace(r, timers=[("z", NOW + 5)]) for r in decide_one_task_each(works)
        ]

    run(pg_store, with_timer)
    (task,) = pg_store.claim_tasks(CLAIM, NOW)
    assert waiter.wait_for_work(0) is False  # starts listening after the work above

    pg_store.finish_task(
        FinishRequest(
            execution_id,
            task.task_id,
            1,
            "me",
            TaskFinish(FinishOutcome.RETRY, [], available_at=NOW + 5),
        ),
        NOW,
    )
    assert waiter.wait_for_work(PROMPTLY) is True

    pg_store.deliver(execution_id, [], NOW)  # nothing delivered, nothing to wake for
    assert pg_store.fire_due_timers(NOW, 10) == 0  # nothing due
    assert waiter.wait_for_work(0.1) is False

    assert pg_store.fire_due_timers(NOW + 5, 10) == 1
    assert waiter.wait_for_work(PROMPTLY) is True


def test_a_store_is_not_woken_by_its_own_work(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore]
) -> None:
    assert pg_store.wait_for_work(0) is False
    (execution_id,) = start(pg_store, 1)
    run(pg_store)
    assert pg_store.wait_for_work(0.2) is False  # its caller knows already
    open_pg().deliver(execution_id, [PauseRequested()], NOW)
    assert pg_store.wait_for_work(PROMPTLY) is True


def test_a_lost_listening_connection_wakes_the_waiter_and_it_listens_again(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore], raw: Any
) -> None:
    waiter = open_pg()
    assert waiter.wait_for_work(0) is False
    (listener,) = [
        row["pid"]
        for row in raw.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'LISTEN%%'"
        ).fetchall()
    ]
    raw.execute("SELECT pg_terminate_backend(%s)", (listener,))
    # Notifications may have been missed while it was gone: the waiter is told
    # to look for work itself.
    assert waiter.wait_for_work(PROMPTLY) is True
    assert waiter.wait_for_work(0) is False  # listening again
    start(pg_store, 1)
    assert waiter.wait_for_work(PROMPTLY) is True


# --- claims skip locked rows ------------------------------------------------------------


def test_a_claim_skips_a_task_locked_elsewhere_instead_of_waiting(
    pg_store: PostgresStore, postgres_url: str
) -> None:
    start(pg_store, 3)
    assert run(pg_store).decided == 3
    with psycopg.connect(postgres_url) as other, other.transaction():
        locked = other.execute(
            "SELECT execution_id FROM tasks ORDER BY execution_id LIMIT 1 FOR UPDATE"
        ).fetchone()[0]
        claimer = InThread(lambda: pg_store.claim_tasks(CLAIM, NOW))
        got = [t.execution_id for t in claimer.result()]
    assert len(got) == 2 and locked not in got
    assert [t.execution_id for t in pg_store.claim_tasks(CLAIM, NOW)] == [locked]


# --- executions being decided are marked -------------------------------------------------


def test_a_round_between_phases_keeps_its_executions_from_other_rounds(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore], raw: Any
) -> None:
    ids = start(pg_store, 5)
    slow = Blocked()
    first = InThread(lambda: run(pg_store, slow, decide_limit=3))
    assert slow.entered.wait(PROMPTLY)
    assert [w.execution_id for w in slow.works] == ids[:3]
    assert len(marks(raw)) == 3

    seen: list[str] = []

    def record(works: list[DecisionWork]) -> list[DecisionResult]:
        seen.extend(w.execution_id for w in works)
        return decide_one_task_each(works)

    other = open_pg()
    second = run(other, record, owner="other")
    assert seen == ids[3:]
    assert [r.execution_id for r in second.saved] == ids[3:]
    assert run(other, record, owner="other").decided == 0  # still taken

    slow.release.set()
    outcome: RoundOutcome = first.result()
    assert [r.execution_id for r in outcome.saved] == ids[:3] and outcome.refused == []
    assert marks(raw) == []  # released after the commit
    for execution_id in ids:
        assert history_types(pg_store, execution_id) == ["ExecutionStarted", "TaskScheduled"]


def test_two_deciders_take_disjoint_executions_at_the_same_time(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore]
) -> None:
    ids = start(pg_store, 20)
    deciders = [open_pg(), open_pg()]
    # Each callback waits for the other to be between its phases too, so both
    # hold their marks at once: the marks must split the work.
    both_inside = threading.Barrier(2, timeout=PROMPTLY)
    decided: list[list[str]] = [[], []]

    def decide(i: int) -> RoundOutcome:
        def callback(works: list[DecisionWork]) -> list[DecisionResult]:
            decided[i].extend(w.execution_id for w in works)
            both_inside.wait()
            return decide_one_task_each(works)

        return run(deciders[i], callback, owner=f"d{i}", decide_limit=10)

    rounds = [InThread(functools.partial(decide, i)) for i in range(2)]
    outcomes = [r.result() for r in rounds]
    assert len(decided[0]) == len(decided[1]) == 10
    assert sorted(decided[0] + decided[1]) == ids
    assert [o.refused for o in outcomes] == [[], []]
    assert run(pg_store).decided == 0


def test_an_execution_marked_by_another_session_is_skipped_until_released(
    pg_store: PostgresStore, postgres_url: str
) -> None:
    ids = start(pg_store, 3)
    with psycopg.connect(postgres_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (DECIDING_LOCK_SPACE, ids[0]))
        assert [r.execution_id for r in run(pg_store).saved] == ids[1:]
        assert run(pg_store).decided == 0
        other.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (DECIDING_LOCK_SPACE, ids[0]))
        assert [r.execution_id for r in run(pg_store).saved] == ids[:1]


def test_a_failing_decider_leaves_no_execution_marked(
    pg_store: PostgresStore, open_pg: Callable[[], PostgresStore], raw: Any
) -> None:
    ids = start(pg_store, 3)

    def failing(works: list[DecisionWork]) -> list[DecisionResult]:
        assert len(marks(raw)) == 3
        raise RuntimeError("the decider failed")

    with pytest.raises(RuntimeError, match="the decider failed"):
        run(pg_store, failing)
    assert marks(raw) == []
    assert [r.execution_id for r in run(open_pg(), owner="other").saved] == ids


def test_a_connection_lost_between_phases_saves_nothing_and_the_store_recovers(
    pg_store: PostgresStore, raw: Any
) -> None:
    (execution_id,) = start(pg_store, 1)

    def killing_decider(works: list[DecisionWork]) -> list[DecisionResult]:
        (pid,) = marking_pids(raw)  # the round's own session
        raw.execute("SELECT pg_terminate_backend(%s)", (pid,))
        wait_until(lambda: pid not in marking_pids(raw))
        return decide_one_task_each(works)

    with pytest.raises(StoreUnavailable) as caught:
        run(pg_store, killing_decider)
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    assert pg_store.read_history(execution_id) == []
    assert run(pg_store).decided == 1
    assert history_types(pg_store, execution_id) == ["ExecutionStarted", "TaskScheduled"]


# --- the connection pool -----------------------------------------------------------------


def test_after_the_server_ends_the_stores_connections_one_call_fails_then_it_reconnects(
    pg_store: PostgresStore, raw: Any
) -> None:
    (execution_id,) = start(pg_store, 1)
    # Two connections idle in the pool: one lent to a round blocked in decide,
    # another lent meanwhile.
    slow = Blocked()
    blocked = InThread(lambda: run(pg_store, slow))
    assert slow.entered.wait(PROMPTLY)
    pg_store.deliver(execution_id, [PauseRequested()], NOW)
    slow.release.set()
    assert blocked.result().decided == 1

    own = raw.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]

    def others() -> list[int]:
        rows = raw.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> %s",
            (own,),
        ).fetchall()
        return [row["pid"] for row in rows]

    pids = others()
    assert len(pids) == 2
    for pid in pids:
        raw.execute("SELECT pg_terminate_backend(%s)", (pid,))
    wait_until(lambda: others() == [])

    failures = 0
    for _ in range(3):
        try:
            recorded = pg_store.read_history(execution_id)
            assert recorded[0].event.type == "ExecutionStarted"
        except StoreUnavailable:
            failures += 1
    assert failures == 1  # the dead idle connections were dropped together
    assert len(others()) == 1


def test_the_pool_lends_at_most_its_size_and_says_when_none_came_free(
    postgres_url: str,
) -> None:
    pool = ConnectionPool(postgres_url, "here", max_size=1, acquire_timeout=0.2)
    try:
        with pool.connection() as held:
            first = held.info.backend_pid
            with pytest.raises(StoreUnavailable, match="pool exhausted"), pool.connection():
                pass
        with pool.connection() as again:
            assert again.info.backend_pid == first  # kept and reused
    finally:
        pool.close()


def test_a_connection_given_back_inside_a_transaction_is_not_reused(postgres_url: str) -> None:
    pool = ConnectionPool(postgres_url, "here", max_size=2)
    try:
        with pool.connection() as conn:
            left_open = conn.info.backend_pid
            conn.execute("BEGIN")
        assert conn.closed
        with pool.connection() as conn:
            assert conn.info.backend_pid != left_open
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    finally:
        pool.close()
