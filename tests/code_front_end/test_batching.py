"""A decision schedules at most ``MAX_TASKS_PER_DECISION`` tasks; the rest go out
in the next decisions of the same execution, and replay decides the same."""

from __future__ import annotations

from collections import Counter

import batch_flows
import pytest

from cadenza.interpreters.code.interpreter import MAX_TASKS_PER_DECISION
from cadenza.model.events import RecordedEvent
from cadenza.store.protocol import Store
from cadenza.testing import decision_mismatches, run_workflow
from cadenza.testing.replay import check_replay

from .conftest import make_engine, ref

_STARTS = ("TaskScheduled", "ChildStarted", "TimerStarted")


def _started_per_decision(history: list[RecordedEvent]) -> Counter[int]:
    return Counter(
        r.decision
        for r in history
        if r.event.type in _STARTS and not str(getattr(r.event, "timer_id", "")).startswith("code.")
    )


# The async face's fan-out is smaller only to keep the suite quick.
@pytest.mark.parametrize(
    ("target", "n"), [("batch_flows:FanOut", 2500), ("batch_flows:fan_out", 1100)]
)
def test_a_fan_out_completes_in_batches_of_the_cap(store: Store, target: str, n: int) -> None:
    engine = make_engine(store, batch_flows.square)
    execution_id = engine.start(engine.register(ref(target)), [n])
    engine.run_until_idle(skip_time=True)
    record = engine.get(execution_id)
    assert record.status == "succeeded", record.errors
    assert record.output == sum(x * x for x in range(n))
    history = engine.history(execution_id)
    per_decision = _started_per_decision(history)
    assert max(per_decision.values()) == MAX_TASKS_PER_DECISION == 1_000
    assert sum(per_decision.values()) == n + (target == "batch_flows:fan_out")  # + its timer
    scheduled = [r.event.task_id for r in history if r.event.type == "TaskScheduled"]
    # Every task once, in the order the code issued them.
    assert scheduled == [f"batch.square#{k}" for k in range(1, n + 1)]
    assert check_replay(engine.compile(ref(target), kind="code"), history) == []


def test_the_decision_by_decision_replay_check_agrees(store: Store) -> None:
    engine = make_engine(store, batch_flows.square)
    target = "batch_flows:FanOut"
    execution_id = engine.start(engine.register(ref(target)), [1200])
    engine.run_until_idle()
    interpreter = engine.compile(ref(target), kind="code")
    assert decision_mismatches(interpreter, engine.history(execution_id)) == []


def test_the_rest_is_scheduled_when_nothing_the_code_waits_for_arrives(store: Store) -> None:
    engine = make_engine(store)  # nobody serves the task list "nobody"
    execution_id = engine.start(engine.register(ref("batch_flows:FanOutThenWait")), [1500])
    engine.run_until_idle()
    history = engine.history(execution_id)
    per_decision = _started_per_decision(history)
    assert sorted(per_decision.values()) == [500, 1000]
    assert engine.get(execution_id).status == "running"
    engine.signal(execution_id, "go", "now")
    engine.run_until_idle()
    assert engine.get(execution_id).output == "now"


def test_what_the_cap_held_back_is_dropped_when_the_code_ends(store: Store) -> None:
    engine = make_engine(store)
    execution_id = engine.start(engine.register(ref("batch_flows:FanOutAndLeave")), [1500])
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert (record.status, record.output) == ("succeeded", "left")
    history = engine.history(execution_id)
    scheduled = {r.event.task_id for r in history if r.event.type == "TaskScheduled"}
    canceled = {r.event.task_id for r in history if r.event.type == "TaskCanceled"}
    assert len(scheduled) == 1000 and canceled == scheduled


def test_the_local_runner_replays_a_batched_fan_out() -> None:
    done = run_workflow(batch_flows.FanOut, [1100], mocks={batch_flows.square: 1})
    assert done.output == 1100
    assert len(done.calls) == 1100
