"""TaskLeases: tasks are claimed under leases, extended by heartbeats, ended once."""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable

import pytest

from cadenza.model.errors import LeaseLost
from cadenza.model.events import Event, TaskCompleted, TaskSuspended
from cadenza.model.retry import RetryPolicy
from cadenza.store.protocol import ClaimRequest, FinishRequest, Store
from cadenza.store.records import FinishOutcome, TaskFinish, TaskRecord

from .conftest import (
    NOW,
    PROMPTLY,
    Background,
    claim,
    inbox,
    new_task,
    pending,
    run,
    start_with_tasks,
)


def finish(
    execution_id: str,
    task_id: str = "t1",
    *,
    attempt: int = 1,
    owner: str | None = "w",
    outcome: FinishOutcome = FinishOutcome.DONE,
    events: tuple[Event, ...] | None = None,
    available_at: float = 0.0,
) -> FinishRequest:
    if events is None:
        events = (TaskCompleted(task_id=task_id, attempt=attempt),)
    return FinishRequest(
        execution_id, task_id, attempt, owner, TaskFinish(outcome, events, available_at)
    )


def keys(tasks: list[TaskRecord]) -> list[tuple[str, str]]:
    return [(t.execution_id, t.task_id) for t in tasks]


# --- claiming ------------------------------------------------------------------------------


def test_due_tasks_are_claimed_oldest_first_up_to_the_limit(store: Store) -> None:
    (execution_id,) = start_with_tasks(
        store,
        1,
        new_task("a", available_at=NOW - 1),
        new_task("b", available_at=NOW - 3),
        new_task("c", available_at=NOW - 2),
        new_task("later", available_at=NOW + 5),
    )
    assert [t.task_id for t in claim(store, limit=2)] == ["b", "c"]
    assert [t.task_id for t in claim(store, limit=2)] == ["a"]
    assert claim(store) == []  # "later" is not due yet
    assert [t.task_id for t in claim(store, now=NOW + 5)] == ["later"]
    assert claim(store, now=NOW + 100) == []
    assert store.lease_owners() == ["w"]
    assert {t.execution_id for t in store.expired_tasks(NOW + 1000, 10)} == {execution_id}


def test_a_claim_leases_the_task_and_counts_the_attempt(store: Store) -> None:
    policy = RetryPolicy(max_attempts=4, initial_delay=2.5, backoff=3.0)
    task = dataclasses.replace(
        new_task("t1", input={"n": [1, "ü"]}, queue="q"), retry=policy, meta={"m": {"x": 1}}
    )
    (execution_id,) = start_with_tasks(store, 1, task)
    (claimed,) = claim(store, owner="w1", queues=("q",), lease=30, now=NOW + 1)
    assert (claimed.execution_id, claimed.task_id, claimed.name, claimed.action) == (
        execution_id,
        "t1",
        "t",
        "x",
    )
    assert (claimed.input, claimed.queue, claimed.meta) == ({"n": [1, "ü"]}, "q", {"m": {"x": 1}})
    assert claimed.retry == policy
    assert (claimed.status, claimed.attempt, claimed.lease_owner) == ("claimed", 1, "w1")
    assert claimed.lease_expires_at == NOW + 31
    assert (claimed.deadline, claimed.timeout, claimed.heartbeat_timeout) == (None, None, None)
    assert claimed.available_at == NOW and claimed.external is False


def test_the_lease_is_capped_by_the_timeout_and_set_by_the_heartbeat_timeout(
    store: Store,
) -> None:
    start_with_tasks(
        store,
        1,
        new_task("timeout", timeout=5),
        new_task("heartbeat", heartbeat_timeout=7),
        new_task("both", timeout=3, heartbeat_timeout=7),
        new_task("long", timeout=100),
    )
    got = {t.task_id: t for t in claim(store, lease=30)}
    assert (got["timeout"].lease_expires_at, got["timeout"].deadline) == (NOW + 5, NOW + 5)
    assert (got["heartbeat"].lease_expires_at, got["heartbeat"].deadline) == (NOW + 7, None)
    assert (got["both"].lease_expires_at, got["both"].deadline) == (NOW + 3, NOW + 3)
    assert (got["long"].lease_expires_at, got["long"].deadline) == (NOW + 30, NOW + 100)


def test_only_the_queues_asked_for_are_claimed(store: Store) -> None:
    start_with_tasks(store, 1, new_task("a", queue="one"), new_task("b", queue="two"))
    assert claim(store, queues=()) == []
    assert claim(store, queues=("three",)) == []
    assert claim(store, queues=("one", "two"), limit=0) == []
    assert [t.task_id for t in claim(store, queues=("two",))] == ["b"]
    assert [t.task_id for t in claim(store, queues=("one", "two"))] == ["a"]


def test_a_claim_takes_only_actions_it_can_run_and_every_task_of_its_own(
    store: Store,
) -> None:
    (mine,) = start_with_tasks(store, 1, new_task("m", action="other.act"), prefix="m")
    (theirs,) = start_with_tasks(
        store, 1, new_task("t", action="other.act"), new_task("u", action="x"), prefix="t"
    )
    request = ClaimRequest("w", ("default",), 10, 30, actions=("x",), own=(mine,))
    got = store.claim_tasks(request, NOW)
    assert sorted((t.execution_id, t.task_id) for t in got) == [(mine, "m"), (theirs, "u")]
    # What is left is another process's: it neither claims it nor wakes for it.
    assert store.claim_tasks(request, NOW) == []
    # Only the leases it now holds are due for it (at NOW + 30)...
    assert store.next_wakeup(actions=("x",), own=(mine,)) == NOW + 30
    assert store.next_wakeup() == NOW  # ...while someone who can run other.act would
    assert store.next_wakeup(actions=("other.act",)) == NOW
    assert [t.task_id for t in claim(store)] == ["t"]  # no filter: anything


def test_the_next_wakeup_ignores_external_work(store: Store) -> None:
    start_with_tasks(
        store,
        1,
        new_task("outside", queue="act", external=True, available_at=NOW),
        new_task("inside", queue="act", available_at=NOW + 50),
    )
    assert store.next_wakeup() == NOW + 50  # the engine's task, not the external one


def test_an_external_task_is_never_claimed_by_a_normal_claim(store: Store) -> None:
    (execution_id,) = start_with_tasks(store, 1, new_task("outside", queue="act", external=True))
    assert store.next_wakeup() is None  # nothing the engine itself waits for
    assert claim(store, queues=("act",)) == []
    round_claim = ClaimRequest("me", ("act",), 10, 30.0)
    assert run(store, claim=round_claim).claimed == []
    (taken,) = claim(store, queues=("act",), external=True, owner="poller")
    assert (taken.task_id, taken.external, taken.attempt) == ("outside", True, 1)
    assert taken.lease_owner == "poller"
    assert claim(store, queues=("act",), external=True) == []
    store.finish_task(finish(execution_id, "outside", owner="poller"), NOW)
    assert [e.type for e in inbox(store, execution_id)] == ["TaskCompleted"]


def test_an_external_claim_never_takes_the_engines_tasks(store: Store) -> None:
    start_with_tasks(store, 1, new_task("inside", queue="act"))
    assert claim(store, queues=("act",), external=True) == []
    assert store.next_wakeup() == NOW
    assert [t.task_id for t in claim(store, queues=("act",))] == ["inside"]


# --- heartbeats ------------------------------------------------------------------------------


def test_a_heartbeat_extends_and_reports_only_the_leases_still_held(store: Store) -> None:
    mine, theirs = start_with_tasks(store, 2)
    claim(store, owner="w", limit=1)  # mine
    claim(store, owner="v", limit=1)  # theirs
    held = store.heartbeat_tasks(
        "w", [(mine, "t1"), (theirs, "t1"), ("nope", "t1"), (mine, "nope")], 30, NOW + 20
    )
    assert held == {(mine, "t1")}
    assert store.heartbeat_tasks("w", [], 30, NOW) == set()
    # Extended to NOW + 50 from NOW + 30; the other owner's lease was not.
    assert keys(store.expired_tasks(NOW + 31, 10)) == [(theirs, "t1")]
    assert keys(store.expired_tasks(NOW + 50, 10)) == [(theirs, "t1"), (mine, "t1")]


def test_a_heartbeat_never_extends_a_lease_past_the_deadline(store: Store) -> None:
    (execution_id,) = start_with_tasks(store, 1, new_task("t1", timeout=40))
    claim(store, lease=30)
    assert store.heartbeat_tasks("w", [(execution_id, "t1")], 30, NOW + 20) == {
        (execution_id, "t1")
    }
    (expired,) = store.expired_tasks(NOW + 100, 10)
    assert expired.lease_expires_at == NOW + 40


def test_a_heartbeat_on_an_ended_or_suspended_attempt_holds_nothing(store: Store) -> None:
    done_id, suspended_id = start_with_tasks(store, 2)
    claim(store)
    store.finish_task(finish(done_id), NOW)
    store.finish_task(finish(suspended_id, outcome=FinishOutcome.SUSPEND, events=()), NOW)
    assert store.heartbeat_tasks("w", [(done_id, "t1"), (suspended_id, "t1")], 30, NOW) == set()


# --- finishing ---------------------------------------------------------------------------------


def test_a_done_attempt_ends_the_task_and_delivers_its_events(store: Store) -> None:
    (execution_id,) = start_with_tasks(store, 1)
    claim(store)
    request = finish(execution_id)
    store.finish_task(request, NOW + 4)
    assert store.lease_owners() == []
    assert store.expired_tasks(NOW + 1000, 10) == []
    assert claim(store, now=NOW + 1000) == []
    work = pending(store)[execution_id]
    assert work.inputs == list(request.finish.events) and work.input_times == [NOW + 4]
    with pytest.raises(LeaseLost):
        store.finish_task(request, NOW + 5)  # once only
    assert inbox(store, execution_id) == list(request.finish.events)


def test_a_retried_attempt_is_claimed_again_when_due_as_the_next_attempt(store: Store) -> None:
    (execution_id,) = start_with_tasks(store, 1)
    claim(store)
    store.finish_task(
        finish(execution_id, outcome=FinishOutcome.RETRY, events=(), available_at=NOW + 10), NOW
    )
    assert store.lease_owners() == []
    assert inbox(store, execution_id) == []
    assert store.next_wakeup() == NOW + 10
    assert claim(store, now=NOW + 9) == []
    (again,) = claim(store, owner="v", now=NOW + 10)
    assert (again.attempt, again.lease_owner, again.available_at) == (2, "v", NOW + 10)
    with pytest.raises(LeaseLost):
        store.finish_task(finish(execution_id, attempt=1), NOW + 11)
    store.finish_task(finish(execution_id, attempt=2, owner="v"), NOW + 11)


@pytest.mark.parametrize(("owner", "attempt"), [("x", 1), ("w", 2), ("w", 0), (None, 1)], ids=str)
def test_finishing_an_attempt_not_held_is_lease_lost_and_changes_nothing(
    store: Store, owner: str | None, attempt: int
) -> None:
    (execution_id,) = start_with_tasks(store, 1)
    claim(store)
    with pytest.raises(LeaseLost) as caught:
        store.finish_task(finish(execution_id, owner=owner, attempt=attempt), NOW)
    assert caught.value.code == "store.lease_lost"
    assert caught.value.details == {
        "execution_id": execution_id,
        "task_id": "t1",
        "attempt": attempt,
    }
    assert inbox(store, execution_id) == []
    assert store.heartbeat_tasks("w", [(execution_id, "t1")], 30, NOW) == {(execution_id, "t1")}


def test_a_suspended_task_waits_and_is_ended_without_an_owner(store: Store) -> None:
    (execution_id,) = start_with_tasks(store, 1)
    claim(store)
    suspended = TaskSuspended(task_id="t1", status="pending", result={"ask": "ok?"})
    store.finish_task(
        finish(execution_id, outcome=FinishOutcome.SUSPEND, events=(suspended,)), NOW + 1
    )
    assert inbox(store, execution_id) == [suspended]
    (waiting,) = store.waiting_tasks(execution_id)
    assert (waiting.task_id, waiting.status, waiting.attempt) == ("t1", "suspended", 1)
    assert waiting.lease_owner is None and waiting.lease_expires_at is None
    assert store.lease_owners() == [] and store.expired_tasks(NOW + 1000, 10) == []
    assert claim(store, now=NOW + 1000) == []

    with pytest.raises(LeaseLost):  # it is nobody's attempt now
        store.finish_task(finish(execution_id, owner="w"), NOW + 2)
    with pytest.raises(LeaseLost):
        store.finish_task(finish(execution_id, owner=None, attempt=2), NOW + 2)
    answer = finish(execution_id, owner=None)
    store.finish_task(answer, NOW + 3)
    assert store.waiting_tasks(execution_id) == []
    assert inbox(store, execution_id) == [suspended, *answer.finish.events]


def test_a_suspended_task_may_be_queued_again(store: Store) -> None:
    (execution_id,) = start_with_tasks(store, 1)
    claim(store)
    store.finish_task(finish(execution_id, outcome=FinishOutcome.SUSPEND, events=()), NOW)
    store.finish_task(
        finish(
            execution_id, owner=None, outcome=FinishOutcome.RETRY, events=(), available_at=NOW + 2
        ),
        NOW + 1,
    )
    assert store.waiting_tasks(execution_id) == []
    (again,) = claim(store, now=NOW + 2)
    assert again.attempt == 2


def test_waiting_tasks_are_the_executions_suspended_ones_by_name_oldest_first(
    store: Store,
) -> None:
    first, second = start_with_tasks(
        store, 2, new_task("b", name="ask"), new_task("a", name="ask"), new_task("c", name="other")
    )
    claim(store)
    for execution_id in (first, second):
        for task_id in ("a", "b", "c"):
            store.finish_task(
                finish(execution_id, task_id, outcome=FinishOutcome.SUSPEND, events=()), NOW
            )
    assert [t.task_id for t in store.waiting_tasks(first)] == ["a", "b", "c"]
    assert [t.task_id for t in store.waiting_tasks(first, name="ask")] == ["a", "b"]
    assert [t.task_id for t in store.waiting_tasks(second, name="other")] == ["c"]
    assert {t.execution_id for t in store.waiting_tasks(second)} == {second}
    assert store.waiting_tasks(first, name="none") == []
    assert store.waiting_tasks("nope") == []


# --- expiry and dead owners ---------------------------------------------------------------------


def test_expired_tasks_are_the_claimed_ones_whose_lease_ran_out(store: Store) -> None:
    start_with_tasks(
        store,
        1,
        new_task("short", heartbeat_timeout=5),
        new_task("shorter", heartbeat_timeout=3),
        new_task("long"),
        new_task("queued", available_at=NOW + 1000),
    )
    claim(store, lease=30)
    assert store.expired_tasks(NOW + 2, 10) == []
    assert [t.task_id for t in store.expired_tasks(NOW + 3, 10)] == ["shorter"]
    assert [t.task_id for t in store.expired_tasks(NOW + 30, 10)] == ["shorter", "short", "long"]
    assert [t.task_id for t in store.expired_tasks(NOW + 30, 2)] == ["shorter", "short"]
    (expired,) = store.expired_tasks(NOW + 4, 10)
    assert (expired.status, expired.lease_owner, expired.attempt) == ("claimed", "w", 1)


def test_breaking_leases_expires_the_dead_owners_leases_now(store: Store) -> None:
    ids = start_with_tasks(store, 3)
    claim(store, owner="dead", limit=2)
    claim(store, owner="alive", limit=1)
    assert store.lease_owners() == ["alive", "dead"]
    assert store.break_leases([], NOW + 1) == 0
    assert store.break_leases(["nobody"], NOW + 1) == 0
    assert store.break_leases(["dead"], NOW + 1) == 2
    expired = store.expired_tasks(NOW + 1, 10)
    assert sorted(keys(expired)) == [(i, "t1") for i in ids[:2]]
    assert {t.lease_expires_at for t in expired} == {NOW + 1}
    assert store.break_leases(["dead"], NOW + 2) == 0  # already expired
    assert store.lease_owners() == ["alive", "dead"]  # expired is not ended


def test_lease_owners_are_those_holding_claimed_tasks(store: Store) -> None:
    assert store.lease_owners() == []
    ids = start_with_tasks(store, 3)
    claim(store, owner="b", limit=1)
    claim(store, owner="a", limit=2)
    assert store.lease_owners() == ["a", "b"]
    store.finish_task(finish(ids[0], owner="b"), NOW)
    assert store.lease_owners() == ["a"]


# --- many claimers ---------------------------------------------------------------------------


def test_concurrent_claimers_each_get_different_tasks(
    store: Store, open_same: Callable[[], Store]
) -> None:
    ids = start_with_tasks(store, 60)
    workers = [open_same() for _ in range(8)]
    barrier = threading.Barrier(len(workers), timeout=PROMPTLY)

    def claim_all(i: int) -> list[tuple[str, str]]:
        barrier.wait()
        won: list[tuple[str, str]] = []
        while got := claim(workers[i], owner=f"w{i}", limit=2):
            won.extend(keys(got))
        return won

    claimers = [Background(functools.partial(claim_all, i)) for i in range(len(workers))]
    won = [claimer.result(60) for claimer in claimers]
    everything = [key for got in won for key in got]
    assert sorted(everything) == [(i, "t1") for i in ids]
    assert len(set(everything)) == 60
    assert len(store.lease_owners()) == sum(1 for got in won if got)


def test_the_task_of_a_held_attempt_is_read_back_only_by_its_holder(store: Store) -> None:
    (execution_id,) = start_with_tasks(store, 1)
    (task,) = claim(store, owner="w")
    held = store.held_task(execution_id, task.task_id, task.attempt, "w")
    assert held is not None and (held.task_id, held.attempt, held.lease_owner) == (
        task.task_id,
        1,
        "w",
    )
    assert store.held_task(execution_id, task.task_id, task.attempt, "someone else") is None
    assert store.held_task(execution_id, task.task_id, 2, "w") is None
    store.finish_task(
        FinishRequest(execution_id, task.task_id, 1, "w", TaskFinish(FinishOutcome.DONE, [])),
        NOW,
    )
    assert store.held_task(execution_id, task.task_id, 1, "w") is None
