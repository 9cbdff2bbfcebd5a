"""PostgreSQL's batched round write: the database checks the batch's assumptions
and a broken one rolls the whole batch back before the careful path writes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

import pytest

from cadenza.model.events import ExecutionStarted, SignalReceived, TaskCompleted
from cadenza.store import rounds
from cadenza.store.codec import encode_event
from cadenza.store.protocol import ClaimRequest, FinishRequest, RoundRequest
from cadenza.store.records import DecisionResult, Family, FinishOutcome, TaskFinish

from .conftest import DEFINITION, NOW, decide_one_task_each, start

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is not installed: pip install -e '.[test]'"
)

from cadenza.store.postgres import PostgresStore, batched_round, round_phases  # noqa: E402
from cadenza.store.round_backend import NotCurrent  # noqa: E402

CLAIM = ClaimRequest("me", ("default",), 10, 30.0)


@pytest.fixture
def store(postgres_url: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(postgres_url)
    yield opened
    opened.close()


@pytest.fixture
def failed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQLSTATEs of the batch failures the round looks at, in order."""
    seen: list[str] = []
    check = batched_round._assumption_failed

    def recording(error: Any) -> bool:
        seen.append(error.sqlstate)
        return check(error)

    monkeypatch.setattr(batched_round, "_assumption_failed", recording)
    return seen


def test_a_broken_assumption_rolls_the_batch_back_and_leaves_the_connection_usable(
    store: PostgresStore,
) -> None:
    [execution_id] = start(store, 1)
    committed: list[bool] = []
    with store._pool.connection() as conn:
        with (
            pytest.raises(NotCurrent),
            batched_round.batched_transaction(
                conn,
                nullcontext,
                before_commit=lambda: None,
                committed=lambda: committed.append(True),
            ) as writer,
        ):
            conn.execute("UPDATE executions SET name = 'changed' WHERE id = %s", (execution_id,))
            writer.lock_executions_later([execution_id])
            writer.consume_inbox_later([987654321])  # no such inbox row
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        row = conn.execute("SELECT name FROM executions WHERE id = %s", (execution_id,)).fetchone()
    assert row is not None and row["name"] != "changed"
    assert committed == []


def test_a_finish_no_longer_held_is_refused_by_the_database_then_reported_lost(
    store: PostgresStore, failed: list[str]
) -> None:
    [execution_id] = start(store, 1)
    outcome = store.run_round(RoundRequest(owner="me", now=NOW, claim=CLAIM), decide_one_task_each)
    [task] = outcome.claimed
    # Finished by an owner that does not hold the attempt.
    finish = FinishRequest(
        execution_id,
        task.task_id,
        task.attempt,
        "someone-else",
        TaskFinish(FinishOutcome.DONE, [TaskCompleted(task_id=task.task_id, attempt=1)]),
    )
    commits = store.commits
    outcome = store.run_round(
        RoundRequest(owner="me", now=NOW, finishes=[finish]), decide_one_task_each
    )
    assert failed == [batched_round.ASSUMPTION_FAILED]
    assert outcome.lost == [finish]
    assert outcome.saved == []
    # The careful path wrote once; the batch committed nothing.
    assert store.commits == commits + 1
    assert store.held_task(execution_id, task.task_id, task.attempt, "me") is not None


def test_one_lost_finish_among_many_ended_together_refuses_the_batch_not_the_others(
    store: PostgresStore, failed: list[str]
) -> None:
    ids = start(store, 3)
    outcome = store.run_round(RoundRequest(owner="me", now=NOW, claim=CLAIM), decide_one_task_each)
    tasks = {task.execution_id: task for task in outcome.claimed}

    def done(execution_id: str, attempt: int) -> FinishRequest:
        task = tasks[execution_id]
        completed = TaskCompleted(task_id=task.task_id, attempt=attempt)
        return FinishRequest(
            execution_id, task.task_id, attempt, "me", TaskFinish(FinishOutcome.DONE, [completed])
        )

    # Three done finishes of one owner, ended by one statement; the middle one
    # names an attempt that does not exist.
    finishes = [done(ids[0], 1), done(ids[1], 2), done(ids[2], 1)]
    outcome = store.run_round(
        RoundRequest(owner="me", now=NOW, finishes=finishes), decide_one_task_each
    )
    assert failed == [batched_round.ASSUMPTION_FAILED]
    assert outcome.lost == [finishes[1]]
    assert sorted(r.execution_id for r in outcome.saved) == [ids[0], ids[2]]
    assert store.held_task(ids[1], "t1", 1, "me") is not None
    assert store.held_task(ids[0], "t1", 1, "me") is None


def test_a_batch_whose_assumptions_hold_commits_and_answers_its_claim(
    store: PostgresStore,
) -> None:
    [execution_id] = start(store, 1)
    outcome = store.run_round(RoundRequest(owner="me", now=NOW, claim=CLAIM), decide_one_task_each)
    assert [r.execution_id for r in outcome.saved] == [execution_id]
    [task] = outcome.claimed
    assert (task.execution_id, task.task_id, task.attempt) == (execution_id, "t1", 1)
    assert store.held_task(execution_id, "t1", 1, "me") is not None


def test_a_statement_first_prepared_in_a_failed_batch_still_runs_afterwards(
    store: PostgresStore,
) -> None:
    """psycopg prepares a statement on its sixth run; in a batch that fails
    before the server reaches it, it is never prepared, though the client
    counted it as prepared."""
    probe = "SELECT %s::int AS probe"
    with store._pool.connection() as conn:
        threshold = conn.prepare_threshold
        assert threshold is not None
        # A connection's first ROLLBACK clears psycopg's cache by chance; later
        # ones, like the one after a failed batch, do not.
        conn.execute("ROLLBACK")
        for i in range(threshold):
            assert conn.execute(probe, (i,)).fetchone() == {"probe": i}
        with (
            pytest.raises(NotCurrent),
            batched_round.batched_transaction(
                conn, nullcontext, before_commit=lambda: None, committed=lambda: None
            ) as writer,
        ):
            writer.consume_inbox_later([987654321])  # fails: no such row
            conn.execute(probe, (-1,))  # the run that prepares it, skipped
        assert conn.execute(probe, (7,)).fetchone() == {"probe": 7}
        assert conn.execute(probe, (8,)).fetchone() == {"probe": 8}


def test_an_inbox_row_committed_while_the_round_saves_keeps_its_execution_pending(
    store: PostgresStore, postgres_url: str
) -> None:
    """Another transaction delivers an event and holds the execution's row while
    a round's batch is on its way; the round saves after that transaction
    commits and must still leave the execution pending (the round's statements
    see the new inbox row because the row lock is taken before the save)."""
    [execution_id] = start(store, 1)
    kind, payload = encode_event(SignalReceived(name="poke"))
    with psycopg.connect(postgres_url) as other:
        other.execute(
            "INSERT INTO inbox (execution_id, time, type, payload) VALUES (%s, %s, %s, %s)",
            (execution_id, NOW + 5, kind, payload),
        )
        other.execute(
            "UPDATE executions SET pending_since = COALESCE(pending_since, %s) WHERE id = %s",
            (NOW + 5, execution_id),
        )
        # The round decides ExecutionStarted; its write waits for this row.
        request = RoundRequest(owner="me", now=NOW + 10, decide_limit=1)
        done: list[object] = []
        errors: list[BaseException] = []

        def round_() -> None:
            try:
                done.append(store.run_round(request, decide_one_task_each))
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=round_)
        thread.start()
        deadline = time.monotonic() + 10
        while not _waits_for_a_lock(other, postgres_url):
            assert thread.is_alive() and time.monotonic() < deadline, (done, errors)
            time.sleep(0.01)  # the round's connection is not ours to wait on
        other.commit()
        thread.join(10)
    assert not errors and done
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute(
            "SELECT pending_since, decision_no FROM executions WHERE id = %s", (execution_id,)
        ).fetchone()
        waiting = conn.execute(
            "SELECT count(*) FROM inbox WHERE execution_id = %s", (execution_id,)
        ).fetchone()
    assert row is not None and row[1] == 1
    assert waiting is not None and waiting[0] == 1
    assert row[0] == NOW + 5  # still pending: the next round decides the signal


def _waits_for_a_lock(other: Any, postgres_url: str) -> bool:
    """Whether some session of this database waits for a lock that ``other`` holds."""
    with psycopg.connect(postgres_url, autocommit=True) as look:
        row = look.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND %s = ANY(pg_blocking_pids(pid))",
            (other.info.backend_pid,),
        ).fetchone()
    return bool(row and row[0])


@pytest.fixture
def one_go(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each round offered to the one-statement write: whether it took it."""
    taken: list[bool] = []
    write = round_phases.quiet_round

    def recording(*args: Any) -> Any:
        leased = write(*args)
        taken.append(leased is not None)
        return leased

    monkeypatch.setattr(round_phases, "quiet_round", recording)
    return taken


def completing(works: list[Any]) -> list[DecisionResult]:
    return [
        DecisionResult(
            execution_id=w.execution_id,
            decision_no=w.decision_no + 1,
            consumed_inputs=len(w.inputs),
            appended=[(w.decision_no + 1, NOW, e) for e in w.inputs],
            snapshot=None,
            status="succeeded",
            completed=True,
            output={"done": True},
        )
        for w in works
    ]


def test_an_execution_alone_ends_in_one_statement_and_a_child_the_careful_way(
    store: PostgresStore, one_go: list[bool]
) -> None:
    # Started here: its row says it has no parent and no child.
    new = store.create_execution("alone", DEFINITION, ExecutionStarted(), NOW)
    first = store.run_round(
        RoundRequest(
            owner="me",
            now=NOW,
            claim=CLAIM,
            known={},
            started={"alone": new},
            known_definitions={DEFINITION.id},
        ),
        decide_one_task_each,
    )
    (task,) = first.claimed
    finish = FinishRequest(
        "alone",
        task.task_id,
        1,
        "me",
        TaskFinish(FinishOutcome.DONE, [TaskCompleted(task_id=task.task_id, attempt=1)]),
    )
    ended = store.run_round(
        RoundRequest(
            owner="me",
            now=NOW + 1,
            finishes=[finish],
            known=first.rows,
            held={"alone": first.rows["alone"].decision_no},
            known_definitions={DEFINITION.id},
        ),
        completing,
    )
    assert [r.execution_id for r in ended.saved] == ["alone"]
    assert one_go == [True]
    record = store.load_execution("alone")
    assert (record.status, record.output) == ("succeeded", {"done": True})

    # A child's end is its parent's news: not written in one go.
    child_row = replace(first.rows["alone"], id="child", family=Family("p", "t", False))
    assert not rounds._alone(child_row.work([], []))
