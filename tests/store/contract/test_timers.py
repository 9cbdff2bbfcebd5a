"""Timers: due timers become ``TimerFired`` inputs; ``next_wakeup`` says when
anything is due next."""

from __future__ import annotations

from cadenza.model.events import ResumeRequested, TimerFired
from cadenza.store.protocol import FinishRequest, Store
from cadenza.store.records import FinishOutcome, TaskFinish

from .conftest import NOW, claim, inbox, new_task, pending, planned, result_for, run, start


def _with_timers(store: Store, timers: dict[str, list[tuple[str, float]]]) -> list[str]:
    ids = start(store, len(timers))
    plan = {i: list(t) for i, t in zip(ids, timers.values(), strict=True)}
    run(store, planned({i: lambda w: result_for(w, timers=plan[w.execution_id]) for i in ids}))
    assert pending(store) == {}
    return ids


def test_due_timers_fire_into_their_executions_inboxes(store: Store) -> None:
    first, second = _with_timers(
        store, {"a": [("late", NOW + 20), ("soon", NOW + 10)], "b": [("x", NOW + 5)]}
    )
    commits = store.commits
    assert store.fire_due_timers(NOW + 4, 10) == 0
    assert store.commits == commits  # nothing due: nothing written
    assert pending(store) == {}

    assert store.fire_due_timers(NOW + 10, 1) == 1  # the earliest first
    work = pending(store)
    assert list(work) == [second]
    assert (work[second].inputs, work[second].input_times) == (
        [TimerFired(timer_id="x")],
        [NOW + 10],
    )

    assert store.fire_due_timers(NOW + 10, 10) == 1
    assert inbox(store, first) == [TimerFired(timer_id="soon")]
    assert store.fire_due_timers(NOW + 10, 10) == 0  # a fired timer is gone
    assert store.fire_due_timers(NOW + 100, 10) == 1
    assert inbox(store, first) == [TimerFired(timer_id="soon"), TimerFired(timer_id="late")]
    assert store.fire_due_timers(NOW + 1000, 10) == 0


def test_timers_due_together_arrive_in_the_order_they_were_due(store: Store) -> None:
    (execution_id,) = _with_timers(store, {"a": [("c", NOW + 3), ("a", NOW + 1), ("b", NOW + 2)]})
    assert store.fire_due_timers(NOW + 3, 10) == 3
    assert inbox(store, execution_id) == [TimerFired(timer_id=t) for t in ("a", "b", "c")]


def test_a_timer_started_again_fires_once_at_its_new_time(store: Store) -> None:
    (execution_id,) = _with_timers(store, {"a": [("t", NOW + 10)]})
    store.deliver(execution_id, [ResumeRequested()], NOW + 1)
    run(store, planned({execution_id: lambda w: result_for(w, timers=[("t", NOW + 50)])}))
    assert store.next_wakeup() == NOW + 50
    assert store.fire_due_timers(NOW + 10, 10) == 0
    assert store.fire_due_timers(NOW + 50, 10) == 1
    assert inbox(store, execution_id) == [TimerFired(timer_id="t")]
    assert store.fire_due_timers(NOW + 1000, 10) == 0


def test_the_next_wakeup_is_the_earliest_thing_due(store: Store) -> None:
    assert store.next_wakeup() is None
    (execution_id,) = start(store, 1, at=NOW + 100)
    assert store.next_wakeup() == NOW + 100  # an inbox event
    run(
        store,
        planned(
            {
                execution_id: lambda w: result_for(
                    w,
                    tasks=[
                        new_task("t1", available_at=NOW + 40),
                        new_task("t2", available_at=NOW + 200),
                    ],
                    timers=[("z", NOW + 60)],
                )
            }
        ),
        now=NOW + 100,
    )
    assert store.next_wakeup() == NOW + 40  # a task
    claim(store, lease=5, limit=1, now=NOW + 40)
    assert store.next_wakeup() == NOW + 45  # a lease expiry
    store.finish_task(
        FinishRequest(execution_id, "t1", 1, "w", TaskFinish(FinishOutcome.DONE, [])), NOW + 41
    )
    assert store.next_wakeup() == NOW + 60  # a timer (no event was delivered)
    store.fire_due_timers(NOW + 61, 10)
    assert store.next_wakeup() == NOW + 61  # the fired timer, waiting in the inbox
    run(store, now=NOW + 61)
    assert store.next_wakeup() == NOW + 200
    claim(store, now=NOW + 200)
    store.finish_task(
        FinishRequest(execution_id, "t2", 1, "w", TaskFinish(FinishOutcome.SUSPEND, [])), NOW + 201
    )
    assert store.next_wakeup() is None  # a suspended task waits for an answer, not a time
