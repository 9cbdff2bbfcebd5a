"""Workflow ids unique among open runs, and signal-with-start."""

from __future__ import annotations

import pytest
import testing_flows as flows

from cadenza.model.errors import DefinitionNotFound, InputError, OperationRefused
from cadenza.store.protocol import Store
from cadenza.testing.clock import FakeClock

from .conftest import make_engine, ref


def test_a_second_start_under_an_open_workflow_id_is_refused_naming_the_run(
    store: Store,
) -> None:
    engine = make_engine(store)
    definition = engine.register(ref("testing_flows:Inbox"))
    first = engine.start_workflow(definition, [1], workflow_id="order-7")
    engine.run_until_idle()
    with pytest.raises(OperationRefused) as refused:
        engine.start_workflow(definition, [1], workflow_id="order-7")
    assert refused.value.code == "operation.workflow_id_taken"
    assert refused.value.details["execution_id"] == first
    assert first in refused.value.message
    assert len(engine.store.list_executions(limit=10)) == 1
    assert first.startswith("order-7@")
    # Another id is free; once the run ends, its id is free again.
    engine.start_workflow(definition, [1], workflow_id="order-8")
    engine.signal(first, "item", "rope")
    engine.run_until_idle()
    assert engine.get(first).output == {"items": ["rope"], "workflow_id": "order-7"}
    again = engine.start_workflow(definition, [1], workflow_id="order-7")
    assert again != first
    assert engine.open_run("order-7") is not None and engine.open_run("order-7").id == again  # type: ignore[union-attr]


def test_signal_with_start_starts_a_run_that_sees_the_signal_first(store: Store) -> None:
    engine = make_engine(store)
    definition = engine.register(ref("testing_flows:Inbox"))
    started = engine.signal_with_start(definition, "crew-1", "item", "parrot", input=[2])
    engine.run_until_idle()
    record = engine.get(started)
    assert record.status == "running"  # one item of two
    [first_decision] = {r.decision for r in engine.history(started) if r.event.is_input}
    assert first_decision == 1  # start and signal were one decision's inputs
    # The definition may be named (as the CLI does).
    again = engine.signal_with_start("Inbox", "crew-1", "item", "cutlass", input=[2])
    assert again == started  # the open run took the signal: nothing new started
    engine.run_until_idle()
    assert engine.get(started).output == {"items": ["parrot", "cutlass"], "workflow_id": "crew-1"}
    assert len(engine.store.list_executions(limit=10)) == 1


def test_a_workflow_id_stays_with_the_runs_a_workflow_continues_as(store: Store) -> None:
    engine = make_engine(store, flows.add)
    definition = engine.register(ref("testing_flows:counting"))
    first = engine.start_workflow(definition, [0, 150, 0], workflow_id="tally")
    engine.tick()
    assert engine.open_run("tally") is not None and engine.open_run("tally").id == first  # type: ignore[union-attr]
    engine.run_until_idle()
    assert engine.open_run("tally") is None
    [last] = [r for r in engine.store.list_executions(limit=10) if r.id != first]
    assert last.output == {"total": sum(range(150)), "workflow_id": "tally"}


def test_a_run_not_decided_yet_holds_its_workflow_id(store: Store) -> None:
    engine = make_engine(store)
    definition = engine.register(ref("testing_flows:Inbox"))
    first = engine.start_workflow(definition, [1], workflow_id="order-9")
    with pytest.raises(OperationRefused):
        engine.start_workflow(definition, [1], workflow_id="order-9")
    assert engine.signal_with_start(definition, "order-9", "item", "tar") == first
    engine.run_until_idle()
    assert engine.get(first).output == {"items": ["tar"], "workflow_id": "order-9"}


def test_signal_with_start_of_an_unknown_definition_says_so(store: Store) -> None:
    engine = make_engine(store)
    with pytest.raises(DefinitionNotFound, match="'Nowhere'"):
        engine.signal_with_start("Nowhere", "crew-2", "item")
    assert engine.store.list_executions(limit=10) == []


@pytest.mark.parametrize("bad", ["", "   ", " padded"])
def test_an_empty_workflow_id_is_bad_input(store: Store, bad: str) -> None:
    engine = make_engine(store)
    definition = engine.register(ref("testing_flows:Inbox"))
    with pytest.raises(InputError, match="workflow id"):
        engine.start_workflow(definition, [1], workflow_id=bad)
    with pytest.raises(InputError, match="workflow id"):
        engine.signal_with_start(definition, bad, "item")


def test_signal_with_start_from_the_command_line(
    store: Store, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from cadenza.cli.main import main

    engine = make_engine(store)
    engine.register(ref("testing_flows:Inbox"))
    argv = ["signal", "crew-9", "item", "--payload", '"parrot"', "--store", store_url]
    assert main([*argv, "--start", "Inbox", "--input", "[1]"]) == 0
    (record,) = engine.store.list_executions(limit=10)
    assert record.id.startswith("crew-9@")
    assert record.id in capsys.readouterr().out
    engine.run_until_idle()
    assert engine.get(record.id).output == {"items": ["parrot"], "workflow_id": "crew-9"}
    assert main([*argv, "--start", "Inbox", "--input", "not json"]) == 2
    assert "--input is not valid JSON" in capsys.readouterr().err


def test_a_continued_run_takes_the_workflow_id_over_in_one_write(store: Store) -> None:
    engine = make_engine(store, flows.add)
    definition = engine.register(ref("testing_flows:counting"))
    first = engine.start_workflow(definition, [0, 150, 0], workflow_id="tally-2")
    for _ in range(1000):
        if engine.get(first).status == "succeeded":
            break
        engine.tick()
    assert engine.get(first).status == "succeeded"
    continued = engine.get(first).output["continued_as_new"]
    # The ending run gave the id up and the next run took it in the same round:
    # the next run holds it (even before its first decision), the old one not.
    holder = engine.open_run("tally-2")
    assert holder is not None and holder.id == continued
    with pytest.raises(OperationRefused) as refused:
        engine.start_workflow(definition, [0, 1, 0], workflow_id="tally-2")
    assert refused.value.details["execution_id"] == continued
    engine.run_until_idle()
    assert engine.open_run("tally-2") is None


def test_a_rerun_of_a_run_whose_workflow_id_was_taken_since_gives_the_id_up(
    store: Store,
) -> None:
    clock = FakeClock()
    engine = make_engine(store, flows.nobody_serves, clock=clock)
    deadlines = engine.register(ref("testing_flows:Deadlines"))
    first = engine.start_workflow(deadlines, ["nobody"], workflow_id="dock-3")
    engine.run_until_idle()
    clock.advance(11)
    engine.run_until_idle()
    assert engine.get(first).status == "succeeded"  # it reported its timeout
    second = engine.start_workflow(
        engine.register(ref("testing_flows:Inbox")), [1], workflow_id="dock-3"
    )
    engine.run_until_idle()

    engine.rerun(first)  # reopens it: the id is the open second run's

    assert engine.get(first).status == "running"
    holder = engine.open_run("dock-3")
    assert holder is not None and holder.id == second
    engine.signal(second, "item", "rope")
    engine.run_until_idle()
    assert engine.get(second).status == "succeeded"
    # The reopened run does not hold the id: it is free while that run goes on.
    assert engine.open_run("dock-3") is None
    third = engine.start_workflow(deadlines, ["nobody"], workflow_id="dock-3")
    assert engine.get(first).status == "running" and third not in (first, second)
