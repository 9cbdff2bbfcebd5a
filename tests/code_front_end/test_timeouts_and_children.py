"""Activity schedule-to-start and schedule-to-close timeouts; child policies."""

from __future__ import annotations

import threading
import time

import pytest
import testing_flows as flows

from cadenza.engine.clock import SystemClock
from cadenza.interpreters.code.frontend import tasks_view
from cadenza.store.protocol import Store
from cadenza.testing import run_workflow
from cadenza.testing.clock import FakeClock
from cadenza.testing.replay import check_replay

from .conftest import make_engine, ref


def test_an_activity_nobody_takes_times_out_schedule_to_start(store: Store) -> None:
    clock = FakeClock()
    engine = make_engine(store, clock=clock)
    execution_id = engine.start(engine.register(ref("testing_flows:Deadlines")), ["start"])
    engine.run_until_idle(skip_time=True)
    record = engine.get(execution_id)
    assert record.output == {"status": "timeout", "type": "code.schedule_to_start_timeout"}
    assert clock.now() == pytest.approx(1_700_000_000.0 + 10)
    assert engine.external.poll("outside", "late-worker") is None  # withdrawn
    history = engine.history(execution_id)
    assert [r.event.type for r in history].count("TaskCanceled") == 1
    assert [t["task_id"] for t in tasks_view(history)] == ["testing_flows.slow_to_start#1"]
    interpreter = engine.compile(ref("testing_flows:Deadlines"), kind="code")
    assert check_replay(interpreter, history) == []


def test_an_activity_taken_in_time_is_not_held_to_schedule_to_start(store: Store) -> None:
    clock = FakeClock()
    engine = make_engine(store, clock=clock)
    execution_id = engine.start(engine.register(ref("testing_flows:Deadlines")), ["start"])
    engine.run_until_idle()
    clock.advance(5)
    task = engine.external.poll("outside", "quick-worker")
    assert task is not None
    clock.advance(10)  # the limit passes while it runs (not its lease)
    engine.run_until_idle()
    assert engine.get(execution_id).status == "running"
    timeouts = [r for r in engine.history(execution_id) if r.event.type == "TimerFired"]
    assert len(timeouts) == 1  # the schedule-to-start timer fired and changed nothing
    engine.external.succeed(task.token, 42)
    engine.run_until_idle()
    assert engine.get(execution_id).output == {"result": 42}


def test_an_activity_taken_but_not_finished_times_out_schedule_to_close(store: Store) -> None:
    clock = FakeClock()
    engine = make_engine(store, clock=clock)
    execution_id = engine.start(engine.register(ref("testing_flows:Deadlines")), ["close"])
    engine.run_until_idle()
    task = engine.external.poll("outside", "slow-worker")
    assert task is not None
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).output == {
        "status": "timeout",
        "type": "code.schedule_to_close_timeout",
    }
    assert clock.now() == pytest.approx(1_700_000_000.0 + 30)


def test_schedule_to_close_covers_every_retry(store: Store) -> None:
    engine = make_engine(store, flows.keeps_failing)
    execution_id = engine.start(engine.register(ref("testing_flows:Deadlines")), ["retry"])
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).output == {
        "status": "timeout",
        "type": "code.schedule_to_close_timeout",
    }
    history = engine.history(execution_id)
    # Attempts at 0 s and 60 s failed; the next was due at 180 s, after the 100 s limit.
    assert [r.event.type for r in history].count("TaskAttemptFailed") == 2


def test_a_local_run_times_out_a_mocked_activity_without_waiting() -> None:
    def stuck() -> None:
        from cadenza.model.errors import ActivityError

        raise ActivityError("still stuck", type="Stuck")

    done = run_workflow(flows.Deadlines, ["retry"], mocks={flows.keeps_failing: stuck})
    assert done.output == {"status": "timeout", "type": "code.schedule_to_close_timeout"}
    assert len(done.calls) == 2


@pytest.mark.parametrize("policy", ["request_cancel", "terminate"])
def test_a_parent_that_ends_cancels_its_children(store: Store, policy: str) -> None:
    engine = make_engine(store)
    engine.register(ref("testing_flows:Lookout"))
    parent = engine.start(engine.register(ref("testing_flows:Captain")), [policy])
    engine.run_until_idle()
    assert engine.get(parent).output == "ended"
    [child] = engine.store.list_executions(parent_id=parent)
    assert child.status == "canceled"
    asked = [r.event.type for r in engine.history(child.id) if r.event.is_input]
    if policy == "terminate":
        # Ended by force: its code was not asked, and the error says why.
        assert "TerminateRequested" in asked and "CancelRequested" not in asked
        assert child.errors[0]["type"] == "Terminated"
        assert parent in child.errors[0]["message"]
    else:
        assert "CancelRequested" in asked and "TerminateRequested" not in asked
        assert child.errors == []


def test_an_abandoned_child_runs_on_after_its_parent(store: Store) -> None:
    engine = make_engine(store)
    engine.register(ref("testing_flows:Lookout"))
    parent = engine.start(engine.register(ref("testing_flows:Captain")), ["abandon"])
    engine.run_until_idle()
    [child] = engine.store.list_executions(parent_id=parent)
    assert engine.get(parent).status == "succeeded"
    assert engine.get(parent).output == {"execution_id": child.id}
    assert child.status == "running"
    engine.signal(child.id, "land-ho", "an island")
    engine.run_until_idle()
    assert engine.get(child.id).output == "an island"
    interpreter = engine.compile(ref("testing_flows:Captain"), kind="code")
    assert check_replay(interpreter, engine.history(parent)) == []


def test_a_child_class_may_declare_its_policy(store: Store) -> None:
    engine = make_engine(store)
    engine.register(ref("testing_flows:Lookout"))
    parent = engine.start(engine.register(ref("testing_flows:SubmitsAnAbandoned")))
    engine.run_until_idle()
    [child] = engine.store.list_executions(parent_id=parent)
    assert engine.get(parent).output == {"execution_id": child.id}
    assert child.status == "running"


def test_an_unknown_child_policy_fails_the_workflow_naming_the_choices(store: Store) -> None:
    engine = make_engine(store)
    parent = engine.start(engine.register(ref("testing_flows:BadPolicy")))
    engine.run_until_idle()
    record = engine.get(parent)
    assert record.status == "failed"
    assert "'sink'" in record.errors[0]["message"]
    assert "abandon" in record.errors[0]["message"]


@pytest.mark.parametrize("policy", ["request_cancel", "terminate"])
def test_a_terminated_parent_ends_its_children_as_their_policy_says(
    store: Store, policy: str
) -> None:
    engine = make_engine(store)
    engine.register(ref("testing_flows:Lookout"))
    parent = engine.start(engine.register(ref("testing_flows:WaitingCaptain")), [policy])
    engine.run_until_idle()
    [child] = engine.store.list_executions(parent_id=parent)
    assert child.status == "running"
    engine.terminate(parent, "mutiny", by="crew")
    engine.run_until_idle()
    record = engine.get(parent)
    assert record.status == "canceled"
    assert record.errors[0]["type"] == "Terminated" and record.errors[0]["reason"] == "mutiny"
    child = engine.get(child.id)
    assert child.status == "canceled"
    asked = [r.event.type for r in engine.history(child.id) if r.event.is_input]
    expected = "TerminateRequested" if policy == "terminate" else "CancelRequested"
    assert expected in asked
    assert (child.errors[0]["type"] if child.errors else None) == (
        "Terminated" if policy == "terminate" else None
    )


def test_terminating_a_sleeping_workflow_withdraws_its_timer(store: Store) -> None:
    clock = FakeClock()
    engine = make_engine(store, clock=clock)
    execution_id = engine.start(engine.register(ref("testing_flows:Sleeper")))
    engine.run_until_idle()
    assert engine.store.next_wakeup() is not None  # the hour-long timer
    engine.terminate(execution_id, "not worth the wait")
    assert engine.store.next_wakeup() is None
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).status == "canceled"
    assert "TimerFired" not in [r.event.type for r in engine.history(execution_id)]


def test_an_activity_the_engines_workers_never_take_times_out_schedule_to_start(
    store: Store,
) -> None:
    clock = FakeClock()
    engine = make_engine(store, flows.nobody_serves, clock=clock)
    execution_id = engine.start(engine.register(ref("testing_flows:Deadlines")), ["nobody"])
    engine.run_until_idle()
    assert engine.get(execution_id).status == "running"
    clock.advance(11)  # past the limit; its task list is served by nobody here
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.output == {"status": "timeout", "type": "code.schedule_to_start_timeout"}
    assert engine.store.task_counts() == {}  # withdrawn
    interpreter = engine.compile(ref("testing_flows:Deadlines"), kind="code")
    assert check_replay(interpreter, engine.history(execution_id)) == []


def test_an_activity_the_engines_workers_took_in_time_runs_past_schedule_to_start(
    store: Store,
) -> None:
    engine = make_engine(store, flows.held_until_released, clock=SystemClock())
    execution_id = engine.start(engine.register(ref("testing_flows:Deadlines")), ["held"])
    flows.RELEASE.clear()
    stop = threading.Event()
    serving = threading.Thread(target=engine.serve, args=(stop,))
    serving.start()
    try:
        # Wait (with a deadline) until the 0.2 s schedule-to-start timer fired
        # while the activity still runs; only then let the activity finish.
        deadline = time.monotonic() + 30
        while not any(
            r.event.type == "TimerFired" and "schedule_to_start" in r.event.timer_id  # type: ignore[attr-defined]
            for r in engine.history(execution_id)
        ):
            assert time.monotonic() < deadline, "the schedule-to-start timer never fired"
            stop.wait(0.05)
        flows.RELEASE.set()
        while engine.get(execution_id).status == "running":
            assert time.monotonic() < deadline, "the workflow never finished"
            stop.wait(0.05)
    finally:
        flows.RELEASE.set()
        stop.set()
        serving.join(timeout=30)
    assert engine.get(execution_id).output == {"result": 2}
    [started] = [r.event for r in engine.history(execution_id) if r.event.type == "TaskStarted"]
    assert started.worker == engine.owner  # type: ignore[attr-defined]
