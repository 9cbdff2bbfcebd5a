"""Workflow ids held by one open run at a time, decided by the store, on every backend."""

from __future__ import annotations

import threading

import pytest

from cadenza.model.errors import OperationRefused, WorkflowIdTaken
from cadenza.store import open_store
from cadenza.store.protocol import Store

from .steps import steps
from .test_engine import make_engine

RACERS = 8


def test_of_starts_racing_on_one_workflow_id_exactly_one_succeeds(
    store: Store, store_url: str
) -> None:
    definition = make_engine(store).register(
        steps({"name": "a", "action": "core.echo", "input": {"message": "hi"}}), kind="steps"
    )
    # Each racer has its own store object (its own connection), as separate
    # processes would: the store's unique index is all that can keep them apart.
    stores = [open_store(store_url) for _ in range(RACERS)]
    engines = [make_engine(s) for s in stores]
    ready = threading.Barrier(RACERS)
    started: list[str] = []
    refused: list[WorkflowIdTaken] = []
    failed: list[BaseException] = []

    def race(index: int) -> None:
        ready.wait()
        try:
            started.append(engines[index].start_workflow(definition, {}, workflow_id="order-1"))
        except WorkflowIdTaken as exc:
            refused.append(exc)
        except BaseException as exc:  # reported below, with the others
            failed.append(exc)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(RACERS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        for opened in stores:
            opened.close()

    assert failed == []
    assert len(started) == 1, started
    assert len(refused) == RACERS - 1
    [winner] = started
    for refusal in refused:
        assert isinstance(refusal, OperationRefused)
        assert refusal.details["execution_id"] == winner
        assert winner in refusal.message
    assert [r.id for r in store.list_executions(limit=20)] == [winner]

    engine = make_engine(store)
    assert engine.open_run("order-1") is not None
    engine.run_until_idle()
    assert engine.get(winner).status == "succeeded"
    # Its run ended: the id is free again.
    assert engine.open_run("order-1") is None
    again = engine.start_workflow(definition, {}, workflow_id="order-1")
    assert again != winner
    open_run = engine.open_run("order-1")
    assert open_run is not None and open_run.id == again


def test_a_plain_start_holds_no_workflow_id(store: Store) -> None:
    engine = make_engine(store)
    definition = engine.register(
        steps({"name": "a", "action": "core.echo", "input": {"message": "hi"}}), kind="steps"
    )
    first = engine.start(definition, {})
    second = engine.start(definition, {})
    assert first != second
    held = engine.start_workflow(definition, {}, workflow_id="nightly")
    with pytest.raises(WorkflowIdTaken) as taken:
        engine.start_workflow(definition, {}, workflow_id="nightly")
    assert taken.value.code == "operation.workflow_id_taken"
    assert taken.value.details == {
        "workflow_id": "nightly",
        "execution_id": held,
        "status": "requested",
    }
