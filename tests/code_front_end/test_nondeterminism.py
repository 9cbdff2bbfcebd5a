"""Code changed under a running execution: it stops with a diff; fixed, it goes on."""

from __future__ import annotations

from collections.abc import Iterator

import code_flows as flows
import pytest

from cadenza.engine.engine import Engine
from cadenza.store.protocol import Store

from .conftest import make_engine, ref

TARGET = "code_flows:Switchable"


@pytest.fixture(autouse=True)
def _original_code() -> Iterator[None]:
    yield
    flows.VARIANT.update(second="b", patched=False)


def start_and_run_step_b(engine: Engine, target: str = TARGET) -> str:
    """Start ``target`` and stop once its second task (``b``) has run."""
    execution_id = engine.start(engine.register(ref(target)))
    engine.tick()  # schedules and runs a
    engine.tick()  # schedules and runs b; its completion waits in the inbox
    names = [r.event.name for r in engine.history(execution_id) if r.event.type == "TaskScheduled"]
    assert names == ["code_flows.step_a", "code_flows.step_b"]
    assert engine.get(execution_id).status == "running"
    return execution_id


def markers(engine: Engine, execution_id: str, kind: str) -> list[dict[str, object]]:
    return [
        r.event.details  # type: ignore[attr-defined]
        for r in engine.history(execution_id)
        if r.event.type == "MarkerRecorded"
        and r.event.details is not None  # type: ignore[attr-defined]
        and getattr(r.event, "kind", "") == kind
    ]


@pytest.mark.parametrize("target", [TARGET, "code_flows:switchable"])
def test_changed_code_stops_with_a_diff_and_goes_on_once_reverted(
    store: Store, target: str
) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = start_and_run_step_b(engine, target)

    flows.VARIANT["second"] = "c"  # a deploy changed the workflow
    engine.forget_held()  # ... and a new process replays it cold
    engine.run_until_idle()

    assert engine.get(execution_id).status == "nondeterministic"
    [diff] = markers(engine, execution_id, "code.nondeterminism")
    assert diff["expected"] == "task 'code_flows.step_b#1' succeeded"
    [got] = diff["got"]
    assert "code_flows.step_c#1" in str(got) and "code_flows.py:" in str(got)
    # Nothing of the new code reached the engine.
    scheduled = [
        r.event.name for r in engine.history(execution_id) if r.event.type == "TaskScheduled"
    ]
    assert "code_flows.step_c" not in scheduled

    # A replay request with the code still changed is refused with the diff.
    engine.operator_request(execution_id, "replay", by="test")
    engine.run_until_idle()
    assert engine.get(execution_id).status == "nondeterministic"
    assert "still disagrees" in str(engine.last_rejection(execution_id))

    flows.VARIANT["second"] = "b"  # reverted
    engine.forget_held()
    engine.operator_request(execution_id, "replay", by="test", reason="reverted the deploy")
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded"
    assert record.output == ["a", "b"]


def test_a_patch_marker_lets_old_executions_keep_the_old_path(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    old = start_and_run_step_b(engine)

    flows.VARIANT["patched"] = True  # the change, guarded by patched("use-c")
    engine.forget_held()
    engine.run_until_idle()
    assert engine.get(old).status == "succeeded"
    assert engine.get(old).output == ["a", "b"]

    new = engine.start(engine.register(ref(TARGET)))
    engine.run_until_idle()
    assert engine.get(new).output == ["a", "c"]


def test_the_simpleflow_face_notices_a_change_without_a_replay(store: Store) -> None:
    # Plain def code runs again from the start at each decision: a run that no
    # longer reaches a task an earlier run issued stops the execution at once.
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = start_and_run_step_b(engine)
    flows.VARIANT["second"] = "c"
    engine.run_until_idle()
    assert engine.get(execution_id).status == "nondeterministic"
    [diff] = markers(engine, execution_id, "code.nondeterminism")
    assert "code_flows.step_b#1" in diff["expected"][0]
    assert "code_flows.step_c#1" in diff["got"][0]
    history = engine.history(execution_id)
    assert "code_flows.step_c" not in [
        r.event.name for r in history if r.event.type == "TaskScheduled"
    ]

    flows.VARIANT["second"] = "b"
    engine.operator_request(execution_id, "replay")
    engine.run_until_idle()
    assert engine.get(execution_id).output == ["a", "b"]


def test_a_stopped_execution_can_be_cancelled(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = start_and_run_step_b(engine, "code_flows:switchable")
    flows.VARIANT["second"] = "c"
    engine.forget_held()
    engine.run_until_idle()
    assert engine.get(execution_id).status == "nondeterministic"
    engine.cancel(execution_id)
    engine.run_until_idle()
    assert engine.get(execution_id).status == "canceled"
