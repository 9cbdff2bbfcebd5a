"""Forced termination (``TerminateRequested``): applied by the engine, not the front end."""

from __future__ import annotations

import pytest

from cadenza.model.errors import OperationRefused
from cadenza.store.protocol import Store

from .steps import steps
from .test_engine import make_engine, types_of

LATER = steps(
    {"name": "now", "action": "core.echo", "input": {"message": "one"}},
    {"name": "later", "action": "core.echo", "input": {"message": "two"}, "delay": 3600},
)


def test_terminate_ends_the_execution_canceled_and_withdraws_its_tasks(store: Store) -> None:
    engine = make_engine(store)
    execution_id = engine.start(engine.register(LATER, kind="steps"), {})
    engine.run_until_idle()
    assert engine.get(execution_id).status == "running"
    assert sum(store.task_counts().values()) == 1  # the delayed step waits

    engine.terminate(execution_id, "stuck on a bad host", by="ops")

    record = engine.get(execution_id)
    assert record.status == "canceled"
    [error] = record.errors
    assert error["type"] == "Terminated"
    assert error["reason"] == "stuck on a bad host" and error["by"] == "ops"
    assert "stuck on a bad host" in error["message"]
    assert types_of(engine, execution_id)[-2:] == ["TerminateRequested", "ExecutionCompleted"]
    assert store.task_counts() == {}  # nobody can claim the delayed step any more
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).status == "canceled"
    assert types_of(engine, execution_id).count("TaskScheduled") == 2
    # What the interpreter's view says agrees with the row (status, the error).
    view = engine.describe(execution_id)
    assert view.status == "canceled" and view.errors == record.errors


def test_a_terminated_execution_refuses_requests_without_asking_its_front_end(
    store: Store,
) -> None:
    engine = make_engine(store)
    execution_id = engine.start(engine.register(LATER, kind="steps"), {})
    engine.run_until_idle()
    engine.terminate(execution_id, "no longer needed")
    with pytest.raises(OperationRefused, match="nothing to terminate"):
        engine.terminate(execution_id, "again")

    engine.pause(execution_id)  # held in memory: refused by the engine
    assert engine.last_rejection(execution_id) == {
        "kind": "engine.request",
        "message": "the execution was terminated",
    }
    # A process that holds nothing rebuilds from history, and still knows.
    engine.forget_held()
    engine.cancel(execution_id)
    assert engine.last_rejection(execution_id)["message"] == "the execution was terminated"
    record = engine.get(execution_id)
    assert record.status == "canceled" and record.errors[0]["type"] == "Terminated"
    assert "TaskScheduled" not in types_of(engine, execution_id)[-4:]


def test_a_paused_execution_can_be_terminated(store: Store) -> None:
    engine = make_engine(store)
    execution_id = engine.start(engine.register(LATER, kind="steps"), {})
    engine.run_until_idle()
    engine.pause(execution_id)
    status = engine.get(execution_id).status
    engine.terminate(execution_id, "give up")
    assert engine.get(execution_id).status == "canceled", status


def test_a_terminated_parent_asks_its_children_to_cancel(store: Store) -> None:
    engine = make_engine(store)
    engine.register(LATER, kind="steps", name="slow")
    parent = engine.register(steps({"name": "call", "child": "slow"}), kind="steps")
    parent_id = engine.start(parent, {})
    engine.run_until_idle()
    [child] = store.list_executions(parent_id=parent_id)
    assert child.status == "running"

    engine.terminate(parent_id, "wrong input")
    engine.run_until_idle()

    assert engine.get(parent_id).status == "canceled"
    child = engine.get(child.id)
    assert child.status == "canceled"
    # The child policy is request cancel by default: the child was asked.
    assert "CancelRequested" in types_of(engine, child.id)
    assert "TerminateRequested" not in types_of(engine, child.id)
