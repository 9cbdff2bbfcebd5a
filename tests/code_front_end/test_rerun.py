"""Restart from the failure: rerun what failed (or a chosen task), reuse the rest."""

from __future__ import annotations

from collections.abc import Iterator

import code_flows as flows
import pytest

from cadenza.engine.engine import Engine
from cadenza.interpreters.protocol import RerunRequest
from cadenza.model.events import TaskScheduled
from cadenza.store.protocol import Store
from cadenza.testing.replay import check_replay

from .conftest import make_engine, ref

TARGETS = ["code_flows:Repairable", "code_flows:repairable"]


@pytest.fixture(autouse=True)
def _fixed_afterwards() -> Iterator[None]:
    flows.CALLS["step_a"] = 0
    yield
    flows.BROKEN["flag"] = False


def scheduled(engine: Engine, execution_id: str) -> list[str]:
    return [
        r.event.task_id for r in engine.history(execution_id) if isinstance(r.event, TaskScheduled)
    ]


@pytest.mark.parametrize("target", TARGETS)
def test_a_failed_execution_reruns_from_the_failed_task(store: Store, target: str) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    flows.BROKEN["flag"] = True
    execution_id = engine.start(engine.register(ref(target)))
    engine.run_until_idle()
    assert engine.get(execution_id).status == "failed"

    flows.BROKEN["flag"] = False  # the activity was fixed
    engine.rerun(execution_id)
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded"
    assert record.output == ["a", 40, 10]
    assert flows.CALLS["step_a"] == 1  # its recorded result was reused
    assert scheduled(engine, execution_id) == [
        "code_flows.step_a#1",
        "code_flows.fragile#1",
        "code_flows.fragile#1~1",
        "code_flows.double#1",
    ]
    interpreter = engine.compile(ref(target), kind="code")
    assert check_replay(interpreter, engine.history(execution_id)) == []


def test_a_rerun_from_a_chosen_task_runs_it_and_everything_after(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = engine.start(engine.register(ref(TARGETS[0])))
    engine.run_until_idle()
    assert engine.get(execution_id).output == ["a", 40, 10]
    engine.rerun(execution_id, RerunRequest(steps=("code_flows.fragile#1",)))
    engine.run_until_idle()
    assert engine.get(execution_id).status == "succeeded"
    assert scheduled(engine, execution_id)[3:] == [
        "code_flows.fragile#1~1",
        "code_flows.double#1~1",
    ]
    assert flows.CALLS["step_a"] == 1


def test_a_rerun_naming_an_unknown_task_is_refused(store: Store) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = engine.start(engine.register(ref(TARGETS[0])))
    engine.run_until_idle()
    engine.rerun(execution_id, RerunRequest(steps=("code_flows.nope#1",)))
    engine.run_until_idle()
    assert engine.get(execution_id).status == "succeeded"
    assert "no task 'code_flows.nope#1'" in str(engine.last_rejection(execution_id))
