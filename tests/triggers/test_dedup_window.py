"""The deduplication window: bounded by count and by age, durable, and the same
when the state is rebuilt from history."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cadenza.interpreters.replay import replay_state
from cadenza.interpreters.triggers import Trigger, Workspace
from cadenza.interpreters.triggers.model import DedupWindow
from cadenza.model.commands import ScheduleTask
from cadenza.model.errors import DefinitionError
from cadenza.model.events import ExecutionStarted, RecordedEvent, SignalReceived

from .support import Driver, cloudevent, compile_text, compile_workspace

COUNT = Trigger("n", (("a", "t"),), "COUNTER_THRESHOLD", "PASS", {"threshold": 10**9}, False)


def counting(window: DedupWindow) -> Driver:
    return Driver(compile_workspace(Workspace("w", (COUNT,), dedup=window)))


def event(n: int) -> dict[str, Any]:
    return cloudevent("a", "t", id=str(n), source="s")


def test_a_key_that_left_the_count_window_counts_again_and_a_recent_one_does_not() -> None:
    driver = counting(DedupWindow(keys=3))
    driver.send(*(event(n) for n in range(5)))
    assert len(driver.state.seen) == 3
    assert driver.state.forgotten == 2
    driver.send(event(4), event(0))  # 4 is still remembered; 0 left the window
    assert driver.state.duplicates == 1
    assert driver.state.consumed == 6
    assert driver.state.triggers["n"].context["counter"] == 6


def test_keys_older_than_max_age_are_forgotten_by_the_recorded_time() -> None:
    driver = counting(DedupWindow(keys=1000, max_age=60))
    driver.decide([SignalReceived(name="cloudevents", data=[event(1)])], now=1000.0)
    driver.decide([SignalReceived(name="cloudevents", data=[event(2)])], now=1030.0)
    driver.decide([SignalReceived(name="cloudevents", data=[event(1), event(2)])], now=1070.0)
    # At 1070, key 1 (consumed at 1000) was past 60 s and counted again; key 2 (1030) was not.
    assert (driver.state.consumed, driver.state.duplicates) == (3, 1)


def test_the_window_survives_a_reload_and_a_replay_of_history_agrees() -> None:
    interpreter = compile_workspace(Workspace("w", (COUNT,), dedup=DedupWindow(keys=4)))
    driver = Driver(interpreter)
    batches = [[event(n) for n in range(k, k + 3)] for k in range(0, 12, 2)]
    history: list[RecordedEvent] = [RecordedEvent(1, 1, 0.0, ExecutionStarted(input=None))]
    for i, batch in enumerate(batches):
        signal = SignalReceived(name="cloudevents", data=batch)
        now = 10.0 * (i + 1)
        commands = driver.decide([signal], now=now)
        history.append(RecordedEvent(len(history) + 1, i + 2, now, signal))
        assert commands == []
        if i == 2:
            driver.reloaded()
    rebuilt = replay_state(interpreter, history)
    assert rebuilt.seen == driver.state.seen
    assert (rebuilt.consumed, rebuilt.duplicates, rebuilt.forgotten) == (
        driver.state.consumed,
        driver.state.duplicates,
        driver.state.forgotten,
    )
    assert driver.state.forgotten > 0 and driver.state.duplicates > 0
    assert len(driver.state.seen) == 4


def test_the_default_window_and_the_definition_text() -> None:
    assert Workspace("w", (COUNT,)).dedup == DedupWindow(keys=100_000, max_age=None)
    text = json.dumps(
        {
            "workspace": "w",
            "dedup": {"keys": 10, "max_age": 3600},
            "triggers": [{"id": "x", "activation": [{"subject": "a", "type": "t"}]}],
        }
    )
    interpreter = compile_text(text)
    assert interpreter.workspace.dedup == DedupWindow(keys=10, max_age=3600.0)
    assert compile_text(interpreter.workspace.to_source()).workspace.dedup == DedupWindow(
        10, 3600.0
    )


@pytest.mark.parametrize(
    ("dedup", "where"),
    [
        ({"keys": 0}, "dedup.keys"),
        ({"keys": "many"}, "dedup.keys"),
        ({"max_age": -1}, "dedup.max_age"),
        ({"window": 3}, "dedup.window"),
        ([1], "dedup"),
    ],
)
def test_a_bad_window_is_refused_naming_where(dedup: Any, where: str) -> None:
    text = json.dumps(
        {
            "workspace": "w",
            "dedup": dedup,
            "triggers": [{"id": "x", "activation": [{"subject": "a", "type": "t"}]}],
        }
    )
    with pytest.raises(DefinitionError) as raised:
        compile_text(text)
    assert where in str(raised.value)


def test_a_snapshot_of_the_earlier_format_loads() -> None:
    driver = counting(DedupWindow(keys=10))
    driver.send(event(1))
    dumped: Any = driver.interpreter.dump_state(driver.state)
    dumped["seen"] = {"s": ["1", "2"]}
    dumped.pop("forgotten")
    state = driver.interpreter.load_state(dumped)
    assert ("s", "2") in state.seen and len(state.seen) == 2


DAG_TEXT = """\
dag:
  name: squares
  start_on: {subject: numbers, type: ready}
  tasks:
    square: {action: demo.square}
dedup: {keys: 2, max_age: 600}
"""

MACHINE_TEXT = """\
start_on: {subject: order, type: placed}
dedup: {keys: 2, max_age: 600}
statemachine:
  StartAt: Price
  States:
    Price: {Type: Task, Resource: demo.price, End: true}
"""


@pytest.mark.parametrize("text", [DAG_TEXT, MACHINE_TEXT], ids=["dag", "statemachine"])
def test_dags_and_state_machines_take_the_window(text: str) -> None:
    interpreter = compile_text(text)
    assert interpreter.workspace.dedup == DedupWindow(keys=2, max_age=600.0)
    assert compile_text(interpreter.workspace.to_source()).workspace.dedup == DedupWindow(2, 600.0)
    subject, type_ = ("numbers", "ready") if "dag" in text else ("order", "placed")
    driver = Driver(interpreter)
    start = cloudevent(subject, type_, {"n": 1}, id="start", source="s")
    driver.send(start)
    driver.send(start)  # a redelivery within the window: dropped
    assert (driver.state.consumed, driver.state.duplicates) == (1, 1)
    tasks = [c for c in driver.commands if isinstance(c, ScheduleTask)]
    assert len(tasks) == 1
    # Two newer keys push "start" out of the window (trimmed after each decision):
    # a third delivery is consumed again.
    driver.send(event(1), event(2))
    driver.send(start)
    assert (driver.state.consumed, driver.state.duplicates) == (4, 1)
    assert driver.state.forgotten >= 1


@pytest.mark.parametrize("text", [DAG_TEXT, MACHINE_TEXT], ids=["dag", "statemachine"])
def test_without_dedup_dags_and_state_machines_keep_the_default_window(text: str) -> None:
    without = "\n".join(line for line in text.splitlines() if not line.startswith("dedup"))
    assert compile_text(without).workspace.dedup == DedupWindow()


@pytest.mark.parametrize("text", [DAG_TEXT, MACHINE_TEXT], ids=["dag", "statemachine"])
@pytest.mark.parametrize(
    ("dedup", "where", "message"),
    [
        ("{keys: 0}", "dedup.keys", "at least 1"),
        ("{keys: many}", "dedup.keys", "whole number"),
        ("{max_age: -5}", "dedup.max_age", "positive number"),
        ("{window: 3}", "dedup.window", "unknown key"),
        ("[1]", "dedup", "a mapping"),
    ],
)
def test_a_bad_window_of_a_dag_or_state_machine_is_refused_naming_where(
    text: str, dedup: str, where: str, message: str
) -> None:
    bad = text.replace("dedup: {keys: 2, max_age: 600}", f"dedup: {dedup}")
    with pytest.raises(DefinitionError) as raised:
        compile_text(bad)
    problems = [(p.spec_path, p.message) for p in raised.value.problems]
    assert any(path == where and message in text_ for path, text_ in problems), problems
