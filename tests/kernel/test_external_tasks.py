"""Tasks answered from outside the engine: activity workers and callback tokens."""

from __future__ import annotations

import json

import pytest

from cadenza.model.errors import InputError, LeaseLost
from cadenza.model.tokens import callback_token, decode_token
from cadenza.store.protocol import Store
from cadenza.testing.clock import FakeClock

from .steps import steps
from .test_engine import make_engine

ARN = "arn:aws:states:us-east-1:111111111111:activity:approve"


def test_an_activity_worker_polls_and_answers_with_the_token(store: Store) -> None:
    engine = make_engine(store)
    definition = engine.register(
        steps(
            {"name": "ask", "action": ARN, "input": {"amount": 5}, "queue": ARN, "external": True}
        ),
        kind="steps",
    )
    execution_id = engine.start(definition)
    engine.run_until_idle()
    assert engine.get(execution_id).status == "running"  # the engine's own workers leave it
    assert engine.external.poll("some-other-activity", "w1") is None
    task = engine.external.poll(ARN, "w1")
    assert task is not None and task.input == {"amount": 5} and task.name == "ask"
    assert engine.external.poll(ARN, "w2") is None  # handed out once
    engine.external.heartbeat(task.token)
    engine.external.succeed(task.token, {"approved": True})
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded" and record.output == [{"approved": True}]
    with pytest.raises(LeaseLost):
        engine.external.succeed(task.token, {"approved": False})  # answered once only


def test_an_activity_failure_fails_the_step(store: Store) -> None:
    engine = make_engine(store)
    definition = engine.register(
        steps({"name": "ask", "action": ARN, "queue": ARN, "external": True}), kind="steps"
    )
    execution_id = engine.start(definition)
    engine.run_until_idle()
    task = engine.external.poll(ARN, "w1")
    assert task is not None
    engine.external.fail(task.token, "Rejected", "too expensive")
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "failed"
    assert record.errors[0]["error"] == {"type": "Rejected", "message": "too expensive"}


def test_a_silent_activity_worker_loses_the_task_after_its_heartbeat_timeout(store: Store) -> None:
    clock = FakeClock()
    engine = make_engine(store, clock=clock)
    definition = engine.register(
        steps(
            {"name": "ask", "action": ARN, "queue": ARN, "external": True, "heartbeat_timeout": 10}
        ),
        kind="steps",
    )
    execution_id = engine.start(definition)
    engine.run_until_idle()
    task = engine.external.poll(ARN, "w1")
    assert task is not None
    clock.advance(11)
    engine.run_until_idle()
    assert engine.get(execution_id).status == "failed"
    with pytest.raises(LeaseLost):
        engine.external.heartbeat(task.token)


def test_a_callback_token_delivers_the_answer_to_the_waiting_execution(store: Store) -> None:
    engine = make_engine(store)
    definition = engine.register(steps({"name": "a", "action": "core.noop"}), kind="steps")
    execution_id = engine.start(definition)
    engine.run_until_idle()
    token = callback_token(execution_id, "callback-1")
    assert decode_token(token).is_callback
    engine.external.succeed(token, {"ok": 1})
    engine.decide()
    completions = [r.event for r in engine.history(execution_id) if r.event.type == "TaskCompleted"]
    assert completions[-1].task_id == "callback-1"  # type: ignore[attr-defined]


def test_a_forged_token_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        decode_token("bm90IGEgdG9rZW4")
    assert caught.value.code == "input.invalid"


def test_a_withdrawn_task_cannot_be_polled_or_answered(store: Store) -> None:
    from cadenza.interpreters.states.frontend import StatesFrontEnd

    clock = FakeClock()
    engine = make_engine(store, clock=clock, front_ends={"states": StatesFrontEnd()})
    machine = {
        "StartAt": "Approve",
        "States": {"Approve": {"Type": "Task", "Resource": ARN, "TimeoutSeconds": 5, "End": True}},
    }
    definition = engine.register(json.dumps(machine), kind="states")
    execution_id = engine.start(definition, {"amount": 5})
    engine.run_until_idle()
    task = engine.external.poll(ARN, "early-bird")
    assert task is not None
    clock.advance(6)
    engine.run_until_idle(skip_time=True)
    record = engine.get(execution_id)
    assert record.status == "failed" and record.errors[0]["error"] == "States.Timeout"
    with pytest.raises(LeaseLost):
        engine.external.succeed(task.token, {"approved": True})  # too late: refused
    second = engine.start(definition, {"amount": 6})
    engine.run_until_idle()
    clock.advance(6)
    engine.run_until_idle(skip_time=True)
    assert engine.get(second).status == "failed"
    assert engine.external.poll(ARN, "late") is None  # withdrawn, never handed out
