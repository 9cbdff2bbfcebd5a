"""DecisionRounds across store objects sharing one database or file.

The engine's ``decide`` runs with no write lock held, so other processes keep
writing while it runs; and a decision that another decider overtook is
refused, never applied twice.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

from cadenza.model.events import ExecutionStarted, PauseRequested, ResumeRequested, TaskCompleted
from cadenza.store.protocol import FinishRequest, RoundOutcome, Store
from cadenza.store.records import FinishOutcome, TaskFinish, TaskRecord

from .conftest import (
    DEFINITION,
    NOW,
    PROMPTLY,
    Background,
    Blocking,
    claim,
    fold_inputs,
    history,
    inbox,
    new_task,
    one_task_each,
    pending,
    planned,
    result_for,
    run,
    start,
    start_with_tasks,
)


def test_a_decision_overtaken_by_another_store_is_refused_and_nothing_is_duplicated(
    store: Store,
    open_same: Callable[[], Store],
    ignoring_marks: Callable[[], AbstractContextManager[None]],
) -> None:
    """The stale decision: round A loads an execution and decides it slowly;
    meanwhile round B, on another store object, decides and saves the same
    execution. A's result must be refused, and nothing saved twice."""
    (execution_id,) = start(store, 1)
    other = open_same()
    slow = Blocking(one_task_each)
    round_a = Background(lambda: run(store, slow, owner="a"))
    assert slow.entered.wait(PROMPTLY)
    assert [w.decision_no for w in slow.works] == [0]

    with ignoring_marks():
        overtaking = run(other, one_task_each, owner="b", now=NOW + 1)
    assert [(r.execution_id, r.decision_no) for r in overtaking.saved] == [(execution_id, 1)]
    # An event that arrives after both loaded their work.
    store.deliver(execution_id, [ResumeRequested()], NOW + 2)

    slow.release.set()
    outcome: RoundOutcome = round_a.result()
    assert outcome.refused == [execution_id]
    assert (outcome.saved, outcome.lost) == ([], [])

    assert history(store, execution_id) == [(1, 1, "ExecutionStarted"), (2, 1, "TaskScheduled")]
    assert [r.time for r in store.read_history(execution_id)] == [NOW, NOW]
    assert store.load_execution(execution_id).last_seq == 2
    assert [(t.task_id, t.attempt) for t in claim(store)] == [("t1", 1)]  # one task, once
    # What arrived meanwhile is still there, and is decided once, next.
    assert inbox(store, execution_id) == [ResumeRequested()]
    assert [r.decision_no for r in run(store, fold_inputs, now=NOW + 3).saved] == [2]
    assert history(store, execution_id)[2:] == [(3, 2, "ResumeRequested")]
    assert pending(store) == {}


def test_an_overtaken_round_still_ends_its_attempts_and_keeps_their_events(
    store: Store,
    open_same: Callable[[], Store],
    ignoring_marks: Callable[[], AbstractContextManager[None]],
) -> None:
    (execution_id,) = start_with_tasks(store, 1)
    claim(store)
    store.deliver(execution_id, [PauseRequested()], NOW + 1)
    completed = TaskCompleted(task_id="t1", result=7)
    finish = FinishRequest(execution_id, "t1", 1, "w", TaskFinish(FinishOutcome.DONE, [completed]))
    slow = Blocking()
    round_a = Background(lambda: run(store, slow, finishes=[finish], now=NOW + 2))
    assert slow.entered.wait(PROMPTLY)
    assert slow.works[0].inputs == [PauseRequested(), completed]

    with ignoring_marks():
        overtaking = run(open_same(), now=NOW + 3)  # sees the pause, not the completion
    assert [r.execution_id for r in overtaking.saved] == [execution_id]

    slow.release.set()
    outcome = round_a.result()
    assert outcome.refused == [execution_id] and outcome.lost == [] and outcome.saved == []
    assert store.lease_owners() == []  # the attempt ended all the same
    assert inbox(store, execution_id) == [completed]
    run(store, now=NOW + 4)
    assert [e for _s, _d, e in history(store, execution_id)] == [
        "ExecutionStarted",
        "TaskScheduled",
        "PauseRequested",
        "TaskCompleted",
    ]
    assert [d for _s, d, _e in history(store, execution_id)] == [1, 1, 2, 3]


def test_other_store_objects_write_while_a_decider_runs(
    store: Store, open_same: Callable[[], Store]
) -> None:
    """``decide`` runs with no write lock held: while it is blocked, other store
    objects on the same database or file commit without waiting for it."""
    deciding, other_one = start(store, 2)
    slow = Blocking()
    round_a = Background(
        lambda: run(store, slow, decide_limit=1)  # takes only the oldest: ``deciding``
    )
    assert slow.entered.wait(PROMPTLY)
    assert [w.execution_id for w in slow.works] == [deciding]

    other = open_same()
    commits = other.commits

    def write_elsewhere() -> tuple[RoundOutcome, list[TaskRecord]]:
        other.deliver(deciding, [PauseRequested()], NOW + 1)
        other.create_execution("late", DEFINITION, ExecutionStarted(), NOW + 1)
        decided = run(
            other,
            planned({other_one: lambda w: result_for(w, tasks=[new_task("t1")])}),
            owner="b",
        )
        return decided, claim(other, owner="b")

    writes = Background(write_elsewhere)
    try:
        decided, claimed = writes.result(PROMPTLY)
    finally:
        slow.release.set()
    assert other.commits == commits + 4
    assert [r.execution_id for r in decided.saved] == [other_one]
    assert [(t.execution_id, t.task_id) for t in claimed] == [(other_one, "t1")]

    outcome = round_a.result()
    # Nothing it saved moved the decision number, so the slow decision stands;
    # the event delivered while it was deciding was not consumed by it.
    assert [r.execution_id for r in outcome.saved] == [deciding]
    assert history(store, deciding) == [(1, 1, "ExecutionStarted")]
    assert inbox(store, deciding) == [PauseRequested()]
    assert sorted(pending(store)) == [deciding, "late"]


def test_another_thread_writes_through_the_same_store_while_a_decider_runs(
    store: Store,
) -> None:
    (execution_id,) = start(store, 1)
    slow = Blocking()
    round_a = Background(lambda: run(store, slow))
    assert slow.entered.wait(PROMPTLY)
    write = Background(lambda: store.deliver(execution_id, [ResumeRequested()], NOW + 1))
    try:
        write.result(PROMPTLY)
    finally:
        slow.release.set()
    assert [r.execution_id for r in round_a.result().saved] == [execution_id]
    assert inbox(store, execution_id) == [ResumeRequested()]


def test_concurrent_deciders_decide_each_execution_exactly_once(
    store: Store, open_same: Callable[[], Store]
) -> None:
    ids = start(store, 40)
    deciders = [open_same() for _ in range(4)]
    barrier = threading.Barrier(len(deciders), timeout=PROMPTLY)
    saved: list[list[str]] = [[] for _ in deciders]
    refused: list[list[str]] = [[] for _ in deciders]

    def loop(i: int) -> None:
        barrier.wait()
        for _ in range(200):
            outcome = run(deciders[i], one_task_each, owner=f"d{i}", decide_limit=3)
            saved[i].extend(r.execution_id for r in outcome.saved)
            refused[i].extend(outcome.refused)
            if not outcome.saved and not outcome.refused and not pending(deciders[i]):
                return
        raise AssertionError("the deciders never ran out of work")

    threads = [Background(functools.partial(loop, i)) for i in range(len(deciders))]
    for thread in threads:
        thread.result(60)
    everything = [execution_id for got in saved for execution_id in got]
    assert sorted(everything) == ids
    for execution_id in ids:
        assert history(store, execution_id) == [
            (1, 1, "ExecutionStarted"),
            (2, 1, "TaskScheduled"),
        ]
    assert len(claim(store, limit=100)) == 40
