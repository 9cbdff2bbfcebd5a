"""Timers, signals, workflow-safe values, failures, cancellation, fan-out and children."""

from __future__ import annotations

import code_flows as flows
import pytest

from cadenza.store.protocol import Store
from cadenza.testing.clock import FakeClock
from cadenza.testing.replay import check_replay

from .conftest import make_engine, ref


@pytest.mark.parametrize("target", ["code_flows:Sleepy", "code_flows:sleepy"])
def test_a_durable_sleep_and_a_signal(store: Store, target: str) -> None:
    clock = FakeClock()
    engine = make_engine(store, flows.ACTIVITIES, clock=clock)
    execution_id = engine.start(engine.register(ref(target)))
    engine.run_until_idle(skip_time=True)  # the hour passes at once
    assert engine.get(execution_id).status == "running"  # waiting for "go"
    clock.advance(60)
    engine.signal(execution_id, "go", {"crew": "ready"}, by="captain")
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded"
    assert record.output["slept"] == pytest.approx(3660)
    assert record.output["signal"] == {"crew": "ready"}
    draw, uuid = record.output["draws"]
    assert 0 <= draw < 1 and len(uuid) == 36 and uuid[14] == "4"
    history = engine.history(execution_id)
    assert check_replay(engine.compile(ref(target), kind="code"), history) == []
    # The same recorded seed gives the same values to a replay of another face.
    other = "code_flows:sleepy" if target.endswith("Sleepy") else "code_flows:Sleepy"
    assert check_replay(engine.compile(ref(other), kind="code"), history) == []


def test_a_signal_sent_before_the_workflow_waits_is_kept(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = engine.start(engine.register(ref("code_flows:Sleepy")))
    engine.run_until_idle()  # asleep
    engine.signal(execution_id, "go", 1)
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).output["signal"] == 1


def test_a_failed_activity_fails_the_workflow_after_its_retries(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = engine.start(engine.register(ref("code_flows:Fails")), [False])
    engine.run_until_idle(skip_time=True)
    record = engine.get(execution_id)
    assert record.status == "failed"
    [error] = record.errors
    assert error["type"] == "code.task_failed"
    assert error["task_id"] == "code_flows.always_fails#1"
    assert "the hull leaks" in error["message"]
    attempts = [r for r in engine.history(execution_id) if r.event.type == "TaskAttemptFailed"]
    assert len(attempts) == 1  # max_attempts=2: one retry, after the backoff


def test_a_workflow_may_catch_a_failed_activity(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = engine.start(engine.register(ref("code_flows:Fails")), [True])
    engine.run_until_idle(skip_time=True)
    record = engine.get(execution_id)
    assert record.status == "succeeded"
    assert record.output == {"caught": "failed", "type": "Broken"}


def test_cancel_stops_a_waiting_workflow(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = engine.start(engine.register(ref("code_flows:Sleepy")))
    engine.run_until_idle(skip_time=True)
    engine.cancel(execution_id)
    engine.run_until_idle()
    assert engine.get(execution_id).status == "canceled"


def test_map_runs_tasks_in_parallel(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = engine.start(engine.register(ref("code_flows:Fanout")), [[1, 2, 3]])
    engine.run_until_idle()
    assert engine.get(execution_id).output == [2, 4, 6]
    decisions = {
        r.decision for r in engine.history(execution_id) if r.event.type == "TaskScheduled"
    }
    assert len(decisions) == 1


def test_an_error_in_the_workflow_code_fails_it_with_the_line(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    # Sequence takes one argument: two is the workflow's own TypeError.
    execution_id = engine.start(engine.register(ref("code_flows:Sequence")), [1, 2])
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "failed"
    assert record.errors[0]["type"] == "TypeError"
    assert "where" in record.errors[0]


def test_child_workflows_return_their_output_to_the_parent(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    engine.register(ref("code_flows:Child"))
    execution_id = engine.start(engine.register(ref("code_flows:Parent")), [3])
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded", engine.history(execution_id)
    assert record.output == [7, 9]


def test_a_paused_workflow_keeps_results_and_goes_on_when_resumed(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = engine.start(engine.register(ref("code_flows:sequence")), [3])
    engine.tick()  # the first doubling is scheduled and run
    engine.pause(execution_id)
    engine.run_until_idle()
    assert engine.get(execution_id).status == "paused"
    scheduled = [r for r in engine.history(execution_id) if r.event.type == "TaskScheduled"]
    assert len(scheduled) == 1  # nothing new while paused
    engine.resume(execution_id)
    engine.run_until_idle()
    assert engine.get(execution_id).output == 8
    interpreter = engine.compile(ref("code_flows:sequence"), kind="code")
    assert check_replay(interpreter, engine.history(execution_id)) == []


def test_an_idempotent_call_made_twice_is_scheduled_once(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = engine.start(engine.register(ref("code_flows:Shouts")))
    engine.run_until_idle()
    assert engine.get(execution_id).output == ["AHOY", "ARR", "AHOY"]
    scheduled = [r.event for r in engine.history(execution_id) if r.event.type == "TaskScheduled"]
    assert len(scheduled) == 2
    assert all(e.task_id.startswith("code_flows.shout@") for e in scheduled)  # type: ignore[attr-defined]


def test_an_external_activity_is_answered_by_an_outside_worker(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = engine.start(engine.register(ref("code_flows:Translates")), ["hello"])
    engine.run_until_idle()
    assert engine.get(execution_id).status == "running"
    task = engine.external.poll("translations", "translator-1")
    assert task is not None
    assert task.input == {"args": ["hello"], "kwargs": {"to": "pirate"}}
    engine.external.succeed(task.token, "ahoy")
    engine.run_until_idle()
    assert engine.get(execution_id).output == "ahoy"
