"""ActivityContext: idempotency keys, heartbeats, cancellation."""

from __future__ import annotations

import hashlib

import pytest

from cadenza.model.events import JSON
from cadenza.workers import ActivityContext, idempotency_key
from cadenza.workers.context import ActivityCancelledInterrupt


def test_idempotency_key_formula_is_documented_and_stable() -> None:
    expected = hashlib.sha256(b'["exec-1","task-1",2]').hexdigest()
    assert idempotency_key("exec-1", "task-1", 2) == expected
    context = ActivityContext("exec-1", "task-1", attempt=2)
    assert context.idempotency_key == expected
    assert ActivityContext("exec-1", "task-1", attempt=2).idempotency_key == expected


def test_idempotency_key_separates_every_component() -> None:
    keys = {
        idempotency_key("e", "t", 1),
        idempotency_key("e", "t", 2),
        idempotency_key("e2", "t", 1),
        idempotency_key("e", "t2", 1),
        # Ids that would collide if the parts were simply joined with a separator.
        idempotency_key("a:b", "c", 1),
        idempotency_key("a", "b:c", 1),
    }
    assert len(keys) == 6


def test_task_key_is_shared_by_attempts() -> None:
    first = ActivityContext("e", "t", attempt=1)
    second = ActivityContext("e", "t", attempt=2)
    assert first.task_key == second.task_key
    assert first.idempotency_key != second.idempotency_key


def test_heartbeat_reaches_the_runner() -> None:
    seen: list[JSON] = []
    context = ActivityContext("e", "t", on_heartbeat=seen.append)
    context.heartbeat()
    context.heartbeat({"done": 3})
    assert seen == [None, {"done": 3}]
    ActivityContext("e", "t").heartbeat("ignored without a runner")


def test_cancellation_flag() -> None:
    context = ActivityContext("e", "t")
    assert not context.cancelled
    context.check_cancelled()
    context.cancel()
    assert context.cancelled
    with pytest.raises(ActivityCancelledInterrupt):
        context.check_cancelled()
    # An activity's `except Exception` must not swallow the interrupt.
    assert not issubclass(ActivityCancelledInterrupt, Exception)
