"""Answers from outside the engine (``Engine.external.succeed``: an activity worker's
answer, the States activities' ``SendTaskSuccess``, a callback token's answer) are
held to the limits of their execution's definition, and to the secret paths its
step declares for its result, as results the engine's own workers save are.

An activity's answer over a ceiling fails its step for good (``payload.too_large``,
not retried, nothing of it in history); a callback's, which has no step to fail,
is refused with ``PayloadTooLarge`` and nothing is recorded.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.engine.payload_ceilings import DefinitionLimits
from cadenza.interpreters.states.frontend import StatesFrontEnd
from cadenza.model.errors import LeaseLost, PayloadTooLarge
from cadenza.model.events import TaskCompleted
from cadenza.model.secrets import MASK, mask
from cadenza.model.tokens import callback_token
from cadenza.store.payloads import PayloadLimits
from cadenza.store.protocol import Store
from cadenza.testing.clock import FakeClock

ARN = "arn:aws:states:us-east-1:111111111111:activity:answers"
TOKEN = "tok-2718-outside-answer"

MACHINE = {
    "StartAt": "Ask",
    "States": {"Ask": {"Type": "Task", "Resource": ARN, "ResultPath": "$.answer", "End": True}},
}


def make(store: Store, **limits: int) -> tuple[Engine, Any]:
    """An engine holding the definition ``answers`` to ``limits``, and the definition."""
    engine = Engine(
        store,
        clock=FakeClock(),
        front_ends={"states": StatesFrontEnd()},
        definition_limits={"answers": DefinitionLimits(**limits)} if limits else None,
    )
    return engine, engine.register(json.dumps(MACHINE), kind="states", name="answers")


def completions(engine: Engine, execution_id: str) -> list[TaskCompleted]:
    events = [r.event for r in engine.history(execution_id)]
    return [e for e in events if isinstance(e, TaskCompleted)]


def polled_token(engine: Engine, execution_id: str) -> str:
    engine.run_until_idle()
    task = engine.external.poll(ARN, "w1")
    assert task is not None and task.execution_id == execution_id
    return task.token


def test_an_activity_answer_over_its_definitions_ceiling_fails_its_step(store: Store) -> None:
    engine, definition = make(store, max_value_bytes=1000)
    execution_id = engine.start(definition, {"n": 1})
    token = polled_token(engine, execution_id)
    engine.external.succeed(token, {"blob": "x" * 2000})
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "failed"
    [done] = completions(engine, execution_id)
    assert done.status == "failed" and done.result is None
    assert done.error is not None and done.error["type"] == "payload.too_large"
    assert done.error["non_retryable"] is True
    assert "max_value_bytes=1000" in str(done.error["message"])
    assert "x" * 2000 not in json.dumps([r.event.payload() for r in engine.history(execution_id)])
    with pytest.raises(LeaseLost):  # answered once: the failure was the answer
        engine.external.succeed(token, {"small": True})
    engine.close()


def test_an_activity_answer_within_the_ceiling_is_recorded(store: Store) -> None:
    engine, definition = make(store, max_value_bytes=1000)
    execution_id = engine.start(definition, {"n": 1})
    engine.external.succeed(polled_token(engine, execution_id), {"blob": "x" * 500})
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded", record.errors
    assert record.output == {"n": 1, "answer": {"blob": "x" * 500}}
    engine.close()


def test_the_per_execution_ceiling_of_the_definition_holds_too(store: Store) -> None:
    engine, definition = make(store, max_execution_bytes=1500)
    execution_id = engine.start(definition, {"n": 1})
    # Small enough for the per-value ceiling (the store's), too much for what the
    # execution may keep with its history.
    engine.external.succeed(polled_token(engine, execution_id), {"blob": "y" * 1400})
    engine.run_until_idle()
    [done] = completions(engine, execution_id)
    assert done.error is not None and done.error["type"] == "payload.too_large"
    assert "max_execution_bytes=1500" in str(done.error["message"])
    assert engine.get(execution_id).status == "failed"
    engine.close()


def test_an_answer_over_the_stores_ceiling_fails_its_step_too(store_url: str) -> None:
    from store.test_payload_blobs import open_with

    limits = PayloadLimits(inline_bytes=400, max_value_bytes=800)
    engine, definition = make(open_with(store_url, limits))
    execution_id = engine.start(definition, {"n": 1})
    # Failed like a result of the engine's own workers, rather than refused.
    engine.external.succeed(polled_token(engine, execution_id), {"blob": "z" * 900})
    engine.run_until_idle()
    [done] = completions(engine, execution_id)
    assert done.error is not None and done.error["type"] == "payload.too_large"
    assert "max_value_bytes=800" in str(done.error["message"])
    engine.close()


def test_a_callback_answer_over_the_definitions_ceiling_is_refused(store: Store) -> None:
    engine, definition = make(store, max_value_bytes=1000)
    execution_id = engine.start(definition, {"n": 1})
    engine.run_until_idle()
    before = len(engine.history(execution_id))
    token = callback_token(execution_id, "callback-1")
    with pytest.raises(PayloadTooLarge) as refused:
        engine.external.succeed(token, {"blob": "x" * 2000})
    assert refused.value.code == "payload.too_large"
    assert "max_value_bytes=1000" in refused.value.message
    engine.decide()
    assert len(engine.history(execution_id)) == before  # nothing recorded
    # A small answer is recorded as before.
    engine.external.succeed(token, {"ok": 1})
    engine.decide()
    assert completions(engine, execution_id)[-1].task_id == "callback-1"
    engine.close()


def test_declared_secret_result_paths_mark_an_activity_answer(store: Store) -> None:
    engine, definition = make(store)
    execution_id = engine.start(
        definition, {"n": 1}, context={"secret_results": {"Ask": ["$.token"]}}
    )
    # The worker does not mark it: the declaration beside the definition does.
    engine.external.succeed(polled_token(engine, execution_id), {"user": "ann", "token": TOKEN})
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded", record.errors
    assert record.output == {"n": 1, "answer": {"user": "ann", "token": TOKEN}}  # plain inside
    [done] = completions(engine, execution_id)
    assert done.meta.get("secret_paths") == [["token"]]
    shown = json.dumps(mask(record.output, engine.secrets_of(execution_id)))
    assert TOKEN not in shown and MASK in shown
    engine.close()
