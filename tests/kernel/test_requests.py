"""Signals and front-end operator requests, as the engine records them."""

from __future__ import annotations

import pytest

from cadenza.model.errors import InputError, OperationRefused
from cadenza.model.events import OperatorRequested, SignalReceived
from cadenza.store.protocol import Store

from .steps import StepsFrontEnd, steps
from .test_engine import make_engine


class _Operable(StepsFrontEnd):
    operator_requests = {"skip": "skip the step that waits"}


def test_a_signal_is_recorded_with_its_sender(store: Store) -> None:
    engine = make_engine(store)
    definition = engine.register(
        steps({"name": "wait", "action": "remote.thing", "external": True}), kind="steps"
    )
    execution_id = engine.start(definition, {})
    engine.run_until_idle()

    engine.signal(execution_id, "poke", {"n": 1}, by="alice")
    engine.run_until_idle()

    signals = [r.event for r in engine.history(execution_id) if r.event.type == "SignalReceived"]
    assert signals == [SignalReceived(name="poke", data={"n": 1}, by="alice")]


def test_a_finished_execution_takes_no_signal(store: Store) -> None:
    engine = make_engine(store)
    definition = engine.register(steps({"name": "a", "action": "core.noop"}), kind="steps")
    execution_id = engine.start(definition, {})
    engine.run_until_idle()
    before = len(engine.history(execution_id))

    with pytest.raises(OperationRefused, match="succeeded"):
        engine.signal(execution_id, "poke")
    assert len(engine.history(execution_id)) == before


def test_operator_requests_are_the_front_ends_own(store: Store) -> None:
    engine = make_engine(store, front_ends={"steps": _Operable()})
    definition = engine.register(
        steps({"name": "wait", "action": "remote.thing", "external": True}), kind="steps"
    )
    execution_id = engine.start(definition, {})
    engine.run_until_idle()

    with pytest.raises(InputError, match=r"no operator request 'retry'.*skip"):
        engine.operator_request(execution_id, "retry")

    engine.operator_request(execution_id, "skip", {"step": "wait"}, by="bob", reason="stuck")
    engine.run_until_idle()
    requested = [r.event for r in engine.history(execution_id) if r.event.is_input][-1]
    assert requested == OperatorRequested(
        request="skip", args={"step": "wait"}, by="bob", reason="stuck"
    )
