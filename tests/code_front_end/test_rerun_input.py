"""Rerun from a chosen activity with a new input: that activity runs with it,
everything the code issued after it runs again, earlier results are reused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import rerun_flows as flows

from cadenza.engine.engine import Engine
from cadenza.interpreters.protocol import RerunRequest
from cadenza.model.errors import InputError
from cadenza.model.events import RerunRequested, TaskScheduled
from cadenza.store.protocol import Store
from cadenza.testing.replay import check_replay

from .conftest import make_engine, ref

TARGETS = ["rerun_flows:Pipeline", "rerun_flows:pipeline"]


@pytest.fixture(autouse=True)
def _counted_afresh() -> Iterator[None]:
    flows.CALLS.update(add=0, double=0)
    yield


def _finished(store: Store, target: str) -> tuple[Engine, str]:
    engine = make_engine(store, flows.add, flows.double)
    execution_id = engine.start(engine.register(ref(target)), [3])
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).output == [4, 8]
    return engine, execution_id


def _scheduled(engine: Engine, execution_id: str) -> list[TaskScheduled]:
    return [r.event for r in engine.history(execution_id) if isinstance(r.event, TaskScheduled)]


@pytest.mark.parametrize("target", TARGETS)
def test_the_chosen_activity_runs_with_the_new_input_and_the_rest_follows(
    store: Store, target: str
) -> None:
    engine, execution_id = _finished(store, target)
    request = RerunRequest(steps=("rerun.add#1",), options={"input": {"x": 10, "y": 5}})
    engine.rerun(execution_id, request)
    engine.forget_held()  # the rerun is decided by a cold replay of history
    engine.run_until_idle(skip_time=True)
    record = engine.get(execution_id)
    assert (record.status, record.output) == ("succeeded", [15, 30])
    rerun = _scheduled(engine, execution_id)[2:]
    assert [(t.task_id, t.input) for t in rerun] == [
        ("rerun.add#1~1", {"args": [], "kwargs": {"x": 10, "y": 5}}),
        ("rerun.double#1~1", {"args": [15], "kwargs": {}}),
    ]
    (asked,) = [
        r.event for r in engine.history(execution_id) if isinstance(r.event, RerunRequested)
    ]
    assert asked.tasks == [{"task_id": "rerun.add#1", "input": {"x": 10, "y": 5}}]
    assert (
        check_replay(engine.compile(ref(target), kind="code"), engine.history(execution_id)) == []
    )


def test_a_later_activity_takes_the_new_input_and_earlier_results_are_reused(
    store: Store,
) -> None:
    engine, execution_id = _finished(store, TARGETS[0])
    engine.rerun(execution_id, RerunRequest(steps=("rerun.double#1",), options={"input": [50]}))
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).output == [4, 100]
    assert flows.CALLS == {"add": 1, "double": 2}
    # The timer issued between the two was not rerun: it is before the chosen task.
    assert [t.task_id for t in _scheduled(engine, execution_id)] == [
        "rerun.add#1",
        "rerun.double#1",
        "rerun.double#1~1",
    ]


def test_a_second_rerun_without_input_runs_the_code_arguments_again(store: Store) -> None:
    engine, execution_id = _finished(store, TARGETS[1])
    engine.rerun(execution_id, RerunRequest(steps=("rerun.add#1",), options={"input": [20]}))
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).output == [21, 42]
    engine.rerun(execution_id, RerunRequest(steps=("rerun.add#1~1",)))
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).output == [4, 8]


def test_a_new_input_for_a_timer_is_refused(store: Store) -> None:
    engine, execution_id = _finished(store, TARGETS[0])
    engine.rerun(execution_id, RerunRequest(steps=("timer#1",), options={"input": [1]}))
    engine.run_until_idle(skip_time=True)
    assert "only an activity reruns with new input" in str(engine.last_rejection(execution_id))
    assert engine.get(execution_id).output == [4, 8]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (RerunRequest(options={"input": [1]}), "names exactly one task"),
        (
            RerunRequest(steps=("rerun.add#1", "rerun.double#1"), options={"input": [1]}),
            "names exactly one task",
        ),
        (RerunRequest(steps=("rerun.add#1",), options={"inptu": [1]}), "unknown rerun option"),
    ],
)
def test_a_new_input_that_cannot_apply_is_bad_input(
    store: Store, request_: RerunRequest, message: str
) -> None:
    engine, execution_id = _finished(store, TARGETS[0])
    with pytest.raises(InputError, match=message):
        engine.rerun(execution_id, request_)


def test_rerun_with_new_input_from_the_command_line(
    store: Store, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from cadenza.cli.main import main

    engine, execution_id = _finished(store, TARGETS[0])
    argv = ["rerun", execution_id, "--task", "rerun.add#1", "--store", store_url, "--no-wait"]
    assert main([*argv, "--input", "not json"]) == 2
    assert "--input is not valid JSON" in capsys.readouterr().err
    assert main([*argv, "--input", '{"x": 1, "y": 1}']) == 0
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).output == [2, 4]
