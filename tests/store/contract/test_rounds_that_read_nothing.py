"""Rounds that read nothing: a caller that knows its executions' rows (from its
own last round) and of no other work decides from them, and the round's own
new tasks are leased to it as they are inserted (``RoundRequest.known``)."""

from __future__ import annotations

from collections.abc import Mapping

from cadenza.model.events import ExecutionStarted, SignalReceived, TaskCompleted
from cadenza.store.protocol import ClaimRequest, FinishRequest, RoundOutcome, Store
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    FinishOutcome,
    NewTask,
    PendingExecution,
    TaskFinish,
)

from .conftest import (
    DEFINITION,
    NOW,
    Recorder,
    claim,
    history,
    inbox,
    new_task,
    one_task_each,
    pending,
    planned,
    result_for,
    run,
    start,
)

MINE = ClaimRequest("me", ("default",), 4, 30.0)


def done(execution_id: str, task_id: str, owner: str = "me") -> FinishRequest:
    events = (TaskCompleted(task_id=task_id, attempt=1, result=task_id),)
    return FinishRequest(
        execution_id, task_id, 1, owner, TaskFinish(FinishOutcome.DONE, events, 0.0)
    )


def quiet(
    store: Store,
    rows: Mapping[str, PendingExecution],
    decide: Recorder,
    *finishes: FinishRequest,
    claim_request: ClaimRequest = MINE,
    now: float = NOW + 1,
) -> tuple[list[DecisionWork], RoundOutcome]:
    """A round told the rows it knows, holding every state at the row's decision."""
    outcome = run(
        store,
        decide,
        finishes=finishes,
        claim=claim_request,
        known=rows,
        held={execution_id: row.decision_no for execution_id, row in rows.items()},
        known_definitions={DEFINITION.id},
        now=now,
    )
    return list(decide.works.values()), outcome


def test_a_round_decides_from_the_known_rows_and_leases_its_new_task(store: Store) -> None:
    (execution_id,) = start(store, 1)
    first = run(store, one_task_each, claim=MINE)
    assert [t.task_id for t in first.claimed] == ["t1"]
    row = first.rows[execution_id]
    assert (row.decision_no, row.status, row.definition_id) == (1, "running", DEFINITION.id)
    assert row.next_seq == 1 + len(first.saved[0].appended)

    # An event waiting in the inbox shows that the round reads nothing: the
    # decision sees only the finished attempt, and the event stays for later.
    store.deliver(execution_id, [SignalReceived(name="poke")], NOW)
    recorder = Recorder(one_task_each)
    works, outcome = quiet(store, first.rows, recorder, done(execution_id, "t1"))
    (work,) = works
    assert [type(e).__name__ for e in work.inputs] == ["TaskCompleted"]
    assert (work.decision_no, work.next_seq, work.history, work.snapshot) == (
        1,
        row.next_seq,
        None,
        None,
    )
    assert [r.execution_id for r in outcome.saved] == [execution_id]
    (leased,) = outcome.claimed
    assert (leased.task_id, leased.attempt, leased.lease_owner) == ("t2", 1, "me")
    assert leased.lease_expires_at is not None and leased.lease_expires_at > NOW
    assert claim(store, owner="w", now=NOW + 2) == []  # already leased to "me"
    assert [type(e).__name__ for e in inbox(store, execution_id)] == ["SignalReceived"]

    # The leased attempt ends like any claimed one, and the next round reads.
    after = run(store, one_task_each, finishes=[done(execution_id, "t2")], now=NOW + 3)
    assert [r.execution_id for r in after.saved] == [execution_id]
    decided = [(decision, t) for _seq, decision, t in history(store, execution_id)]
    assert decided[-3:] == [(3, "SignalReceived"), (3, "TaskCompleted"), (3, "TaskScheduled")]


def test_a_known_row_that_moved_is_refused_and_the_finish_waits(store: Store) -> None:
    (execution_id,) = start(store, 1)
    first = run(store, one_task_each, claim=MINE)
    # Another decider moves the execution on (it decides an event from elsewhere).
    store.deliver(execution_id, [SignalReceived(name="poke")], NOW)
    moved = run(store, planned({execution_id: lambda w: result_for(w)}))
    assert [r.execution_id for r in moved.saved] == [execution_id]

    recorder = Recorder(one_task_each)
    _works, outcome = quiet(store, first.rows, recorder, done(execution_id, "t1"))
    assert outcome.saved == [] and outcome.refused == [execution_id]
    assert outcome.claimed == []
    # Nothing of the stale decision was written; the finished attempt's event
    # is in the inbox for the next round that reads.
    assert [type(e).__name__ for e in inbox(store, execution_id)] == ["TaskCompleted"]
    assert claim(store, owner="w", now=NOW + 2) == []


def test_a_round_without_every_row_known_reads_as_usual(store: Store) -> None:
    (execution_id,) = start(store, 1)
    first = run(store, one_task_each, claim=MINE)
    store.deliver(execution_id, [SignalReceived(name="poke")], NOW)
    recorder = Recorder(one_task_each)
    # The state is not held at the row's decision: the round must read.
    outcome = run(
        store,
        recorder,
        finishes=[done(execution_id, "t1")],
        claim=MINE,
        known=first.rows,
        held={},
        known_definitions={DEFINITION.id},
        now=NOW + 1,
    )
    (work,) = recorder.works.values()
    assert sorted(type(e).__name__ for e in work.inputs) == ["SignalReceived", "TaskCompleted"]
    assert [t.task_id for t in outcome.claimed] == ["t2"]


def test_only_the_tasks_the_claim_could_take_are_leased(store: Store) -> None:
    (execution_id,) = start(store, 1)
    first = run(store, one_task_each, claim=MINE)

    def task(task_id: str, **fields: object) -> NewTask:
        base = new_task(task_id)
        return NewTask(**{**base.__dict__, **fields})  # type: ignore[arg-type]

    wanted = [
        task("low"),
        task("high", priority=5),
        task("elsewhere", queue="other"),
        task("later", available_at=NOW + 60),
        task("outside", external=True),
        task("unknown-action", action="nobody.runs.this"),
        task("second-high", priority=5),
    ]

    def decide(works: list[DecisionWork]) -> list[DecisionResult]:
        return [result_for(work, tasks=wanted) for work in works]

    limited = ClaimRequest("me", ("default",), 2, 30.0, actions=("x",))
    _works, outcome = quiet(
        store, first.rows, Recorder(decide), done(execution_id, "t1"), claim_request=limited
    )
    leased = outcome.claimed
    assert [t.task_id for t in leased] == ["high", "second-high"]
    assert all(t.lease_owner == "me" and t.attempt == 1 for t in leased)
    # The rest were inserted as scheduled: a claim finds those it can take.
    found = claim(store, owner="w", queues=("default", "other"), now=NOW + 120)
    assert sorted(t.task_id for t in found) == ["elsewhere", "later", "low", "unknown-action"]


# --- executions just created ----------------------------------------------------------


def test_a_start_returns_the_row_and_inbox_row_a_round_would_read(store: Store) -> None:
    # The first start also stores the definition; a later one writes less (on
    # PostgreSQL one statement): both return what a round reads.
    new = store.create_execution("fresh", DEFINITION, ExecutionStarted(seed=7), NOW)
    later = store.create_execution("later", DEFINITION, ExecutionStarted(seed=8), NOW + 2)
    read = pending(store)
    for started in (new, later):
        work = read[started.row.id]
        assert started.row == PendingExecution.of_work(work)
        assert ([started.inbox.event], [started.inbox.time]) == (work.inputs, work.input_times)
    assert new.inbox.id != later.inbox.id


def test_a_started_execution_is_decided_from_its_start_without_reading(store: Store) -> None:
    new = store.create_execution("fresh", DEFINITION, ExecutionStarted(seed=7), NOW)
    # An event that arrived after the start shows the round read nothing: the
    # decision sees only what the start wrote, and the event stays for later.
    store.deliver("fresh", [SignalReceived(name="poke")], NOW)
    recorder = Recorder(one_task_each)
    outcome = run(
        store,
        recorder,
        claim=MINE,
        known={},
        started={"fresh": new},
        known_definitions={DEFINITION.id},
        now=NOW + 1,
    )
    (work,) = recorder.works.values()
    assert work.inputs == [new.inbox.event] and work.history is None
    assert [r.execution_id for r in outcome.saved] == ["fresh"]
    assert [t.task_id for t in outcome.claimed] == ["t1"]
    assert history(store, "fresh") == [(1, 1, "ExecutionStarted"), (2, 1, "TaskScheduled")]
    # Its inbox row was consumed, exactly: the later event waits.
    assert [type(e).__name__ for e in inbox(store, "fresh")] == ["SignalReceived"]


def test_a_started_execution_decided_elsewhere_first_is_refused(store: Store) -> None:
    new = store.create_execution("fresh", DEFINITION, ExecutionStarted(seed=7), NOW)
    elsewhere = run(store, one_task_each, claim=ClaimRequest("w", ("default",), 4, 30.0))
    assert [r.execution_id for r in elsewhere.saved] == ["fresh"]

    outcome = run(
        store,
        Recorder(one_task_each),
        claim=MINE,
        known={},
        started={"fresh": new},
        known_definitions={DEFINITION.id},
        now=NOW + 1,
    )
    assert outcome.saved == [] and outcome.refused == ["fresh"] and outcome.claimed == []
    assert history(store, "fresh") == [(1, 1, "ExecutionStarted"), (2, 1, "TaskScheduled")]
