"""Continue-as-new: a run ends and the next run of the same workflow starts, linked."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import testing_flows as flows

from cadenza.engine.engine import Engine
from cadenza.store.protocol import Store
from cadenza.testing.replay import check_replay

from .conftest import HERE, make_engine, ref


def chain_of(engine: Engine, first: str) -> list[str]:
    """The runs from ``first`` on, following each run's continue-as-new output."""
    runs = [first]
    while True:
        output = engine.get(runs[-1]).output
        if not (isinstance(output, dict) and "continued_as_new" in output):
            return runs
        runs.append(str(output["continued_as_new"]))


@pytest.mark.slow
def test_a_thousand_iterations_run_as_ten_runs_of_a_hundred(store: Store) -> None:
    engine = make_engine(store, flows.add)
    definition = engine.register(ref("testing_flows:counting"))
    first = engine.start_workflow(definition, [0, 1000, 0], workflow_id="sum-1000")
    engine.run_until_idle()
    runs = chain_of(engine, first)
    assert len(runs) == 10
    records = [engine.get(run) for run in runs]
    assert all(r.status == "succeeded" for r in records)
    assert records[-1].output == {"total": sum(range(1000)), "workflow_id": "sum-1000"}
    interpreter = engine.compile(ref("testing_flows:counting"), kind="code")
    for previous, record in itertools.pairwise(records):
        # Each run is started by the one before it, as its continue-as-new task.
        assert record.parent_id == previous.id
        assert record.parent_task_id is None  # detached: its end is its own
    for record in records:
        history = engine.history(record.id)
        scheduled = [r for r in history if r.event.type == "TaskScheduled"]
        assert len(scheduled) == 100  # one run's history holds one run's work
        assert check_replay(interpreter, history) == []


def test_the_run_that_continues_records_the_next_one(store: Store) -> None:
    engine = make_engine(store, flows.add)
    definition = engine.register(ref("testing_flows:Counting"))
    first = engine.start(definition, [0, 5, 2])
    engine.run_until_idle()
    runs = chain_of(engine, first)
    assert len(runs) == 3
    assert engine.get(runs[-1]).output == sum(range(5))
    history = engine.history(first)
    markers = [r.event for r in history if r.event.type == "MarkerRecorded"]
    assert [m.kind for m in markers] == ["code.continued_as_new"]  # type: ignore[attr-defined]
    assert markers[0].details == {"execution_id": runs[1]}  # type: ignore[attr-defined]
    [started] = [r.event for r in history if r.event.type == "ChildStarted"]
    assert started.execution_id == runs[1]  # type: ignore[attr-defined]
    assert started.detached is True  # type: ignore[attr-defined]
    # The decision that continues also ends the run: never two open runs.
    decisions = {
        r.decision for r in history if r.event.type in ("ChildStarted", "ExecutionCompleted")
    }
    assert len(decisions) == 1


def test_a_decider_that_lost_its_state_continues_to_the_same_run(store: Store) -> None:
    engine = make_engine(store, flows.add)
    first = engine.start(engine.register(ref("testing_flows:Counting")), [0, 4, 2])
    for _ in range(20):
        engine.tick()
        engine.forget_held()  # every decision replays history cold
    engine.run_until_idle()
    runs = chain_of(engine, first)
    assert len(runs) == 2
    assert engine.get(runs[-1]).output == sum(range(4))
    assert len(engine.store.list_executions(limit=10)) == 2  # nothing started twice


def test_cadenza_status_shows_the_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cadenza.db'}"
    engine = make_engine(url, flows.add)  # type: ignore[arg-type]
    try:
        first = engine.start(engine.register(ref("testing_flows:Counting")), [0, 3, 2])
        engine.run_until_idle()
        runs = chain_of(engine, first)
    finally:
        engine.close()
    environment = {**os.environ, "PYTHONPATH": str(HERE)}
    shown = [
        subprocess.run(
            [sys.executable, "-m", "cadenza", "status", run, "--store", url],
            capture_output=True,
            text=True,
            timeout=120,
            env=environment,
            check=True,
        ).stdout
        for run in runs
    ]
    assert f"continued  continue-as-new[{runs[1]}]" in shown[0]
    assert runs[1] in shown[0].split("children:")[1]
    assert f'"continued_as_new": "{runs[1]}"' in shown[0]
    assert f"started by {first}" in shown[1]
