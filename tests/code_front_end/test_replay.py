"""Replay: a cold replay of history decides what the live run decided."""

from __future__ import annotations

import code_flows as flows
import pytest

from cadenza.store.protocol import Store
from cadenza.testing.replay import check_replay

from .conftest import make_engine, ref


@pytest.mark.parametrize("target", ["code_flows:Sequence", "code_flows:sequence"])
def test_cold_replay_gives_the_recorded_commands(store: Store, target: str) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = engine.start(engine.register(ref(target)), [5])
    engine.run_until_idle()
    assert engine.get(execution_id).output == 32
    history = engine.history(execution_id)
    assert check_replay(engine.compile(ref(target), kind="code"), history) == []
    task_ids = [r.event.task_id for r in history if r.event.type == "TaskScheduled"]
    assert task_ids == [f"code_flows.double#{n}" for n in range(1, 6)]


@pytest.mark.parametrize("target", ["code_flows:Sequence", "code_flows:sequence"])
def test_a_decider_that_lost_its_state_goes_on_from_history(store: Store, target: str) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = engine.start(engine.register(ref(target)), [6])
    for _ in range(3):
        engine.tick()
        engine.forget_held()  # the next decision replays history cold
    engine.run_until_idle()
    assert engine.get(execution_id).output == 64
    scheduled = [
        r.event.task_id for r in engine.history(execution_id) if r.event.type == "TaskScheduled"
    ]
    assert len(scheduled) == len(set(scheduled)) == 6


def test_a_tampered_history_is_reported(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    target = "code_flows:Switchable"
    execution_id = engine.start(engine.register(ref(target)))
    engine.run_until_idle()
    history = engine.history(execution_id)
    flows.VARIANT["second"] = "c"
    try:
        problems = check_replay(engine.compile(ref(target), kind="code"), history)
    finally:
        flows.VARIANT["second"] = "b"
    assert problems and "nondeterminism" in " ".join(problems)


def test_the_async_face_runs_each_line_once_live_and_once_per_cold_replay(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    target = "code_flows:sequence"
    flows.ITERATIONS["count"] = 0
    execution_id = engine.start(engine.register(ref(target)), [40])
    engine.run_until_idle()
    assert flows.ITERATIONS["count"] == 40  # the live coroutine was never run again
    flows.ITERATIONS["count"] = 0
    assert (
        check_replay(engine.compile(ref(target), kind="code"), engine.history(execution_id)) == []
    )
    assert flows.ITERATIONS["count"] == 40  # a cold replay is linear in history


def test_the_simpleflow_face_runs_the_code_again_from_the_start(store: Store) -> None:
    # Documented cost of the plain-def face: decision k (1..n) runs k loop
    # iterations before it waits, and the last one runs all n again to return.
    engine = make_engine(store, flows.ACTIVITIES)
    flows.ITERATIONS["count"] = 0
    execution_id = engine.start(engine.register(ref("code_flows:Sequence")), [40])
    engine.run_until_idle()
    assert engine.get(execution_id).output == 2**40
    assert flows.ITERATIONS["count"] == 40 * 41 // 2 + 40
