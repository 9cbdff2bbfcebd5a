"""A round that read keeps the tasks it schedules for its own free threads, all
but one of them (eager dispatch), and claims the longest-waiting due tasks
with the rest; and it says how many events it delivered to inboxes."""

from __future__ import annotations

from cadenza.model.events import TaskCompleted
from cadenza.store.protocol import ClaimRequest, DecideFn, FinishRequest, Store
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    FinishOutcome,
    NewTask,
    TaskFinish,
)

from .conftest import NOW, claim, new_task, planned, result_for, run, start, start_with_tasks


def mine(limit: int) -> ClaimRequest:
    return ClaimRequest("me", ("default",), limit, 30.0)


def scheduling(*tasks: NewTask) -> DecideFn:
    """Decide every execution by scheduling ``tasks``."""

    def decide(works: list[DecisionWork]) -> list[DecisionResult]:
        return [result_for(work, tasks=tasks) for work in works]

    return decide


def test_a_round_leases_its_new_tasks_to_all_but_one_free_thread(store: Store) -> None:
    first, second, third = start_with_tasks(store, 3, prefix="old")
    (fresh,) = start(store, 1, prefix="new", at=NOW + 10)
    outcome = run(
        store,
        planned({fresh: lambda w: result_for(w, tasks=[new_task(n) for n in "abc"])}),
        claim=mine(3),
        now=NOW + 20,
    )
    assert [r.execution_id for r in outcome.saved] == [fresh]
    taken = sorted((t.execution_id, t.task_id) for t in outcome.claimed)
    # Two of its own new tasks, ahead of older ones, and the task that waited
    # longest for the third thread.
    assert taken == [(fresh, "a"), (fresh, "b"), (first, "t1")]
    assert all(t.lease_owner == "me" and t.attempt == 1 for t in outcome.claimed)
    # The rest is anyone's.
    others = sorted((t.execution_id, t.task_id) for t in claim(store, now=NOW + 21))
    assert others == [(fresh, "c"), (second, "t1"), (third, "t1")]


def test_one_free_thread_goes_to_the_longest_waiting_task(store: Store) -> None:
    (waiting,) = start_with_tasks(store, 1, prefix="old")
    (fresh,) = start(store, 1, prefix="new", at=NOW + 10)
    outcome = run(store, scheduling(new_task("a")), claim=mine(1), now=NOW + 20)
    assert [(t.execution_id, t.task_id) for t in outcome.claimed] == [(waiting, "t1")]
    assert [(t.execution_id, t.task_id) for t in claim(store, now=NOW + 21)] == [(fresh, "a")]


def test_new_tasks_it_has_no_waiting_work_for_fill_every_thread(store: Store) -> None:
    (fresh,) = start(store, 1)
    low, high = new_task("low"), NewTask(**{**new_task("high").__dict__, "priority": 3})
    outcome = run(
        store, scheduling(low, high, new_task("later", available_at=NOW + 60)), claim=mine(4)
    )
    # "high" leased first (priority), "low" by the claim that found no older task;
    # "later" is not due.
    assert sorted(t.task_id for t in outcome.claimed) == ["high", "low"]
    assert {t.execution_id for t in outcome.claimed} == {fresh}
    assert claim(store, now=NOW + 1) == []


def test_a_round_counts_the_events_it_delivered(store: Store) -> None:
    ids = start_with_tasks(store, 2)
    (leased_a,) = claim(store, owner="me", limit=1)
    (leased_b,) = claim(store, owner="me", limit=1)

    def done(task_execution: str, task_id: str) -> FinishRequest:
        events = (TaskCompleted(task_id=task_id, attempt=1, result=None),)
        return FinishRequest(
            task_execution, task_id, 1, "me", TaskFinish(FinishOutcome.DONE, events, 0.0)
        )

    # One execution decided in the round, the other's finish left for later.
    outcome = run(
        store,
        planned({ids[0]: lambda w: result_for(w)}),
        finishes=[
            done(leased_a.execution_id, leased_a.task_id),
            done(leased_b.execution_id, leased_b.task_id),
        ],
        now=NOW + 1,
    )
    assert [r.execution_id for r in outcome.saved] == [ids[0]]
    assert outcome.delivered == 1
    # Deciding the event left in the inbox delivers nothing.
    assert run(store, planned({ids[1]: lambda w: result_for(w)}), now=NOW + 2).delivered == 0
