"""Finding front ends: a broken plug-in names itself and is left out, never
taking the other languages (or their executions) down with it."""

from __future__ import annotations

import logging

import pytest

from cadenza.engine.engine import Engine
from cadenza.engine.front_ends import FrontEnds
from cadenza.interpreters.protocol import FrontEndSettings
from cadenza.model.errors import FrontEndError, FrontEndNotFound, KindUnclear
from cadenza.store.protocol import Store
from cadenza.testing.clock import FakeClock

from .steps import StepsFrontEnd, steps


class OtherFrontEnd(StepsFrontEnd):
    kind = "other"


def _broken(settings: FrontEndSettings) -> StepsFrontEnd:
    raise FrontEndError("the front end 'broken' (broken:create) cannot be loaded: boom")


def test_a_broken_front_end_is_left_out_of_detection_and_named_when_asked_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    front_ends = FrontEnds({"steps": StepsFrontEnd(), "broken": _broken})
    assert front_ends.usable() == ["steps"]
    assert front_ends.kind_of(steps({"name": "a", "action": "core.noop"})) == "steps"
    with pytest.raises(FrontEndError, match="cannot be loaded: boom"):
        front_ends.require("broken")
    assert [r for r in caplog.records if "boom" in r.getMessage()], "logged"
    with pytest.raises(FrontEndNotFound, match="installed: broken, steps"):
        front_ends.require("nope")
    with pytest.raises(KindUnclear, match=r"no installed front end \(steps\)"):
        front_ends.kind_of("just text")


def test_executions_of_a_kind_this_engine_cannot_load_stay_as_they_are(store: Store) -> None:
    clock = FakeClock()
    good = Engine(store, clock=clock, front_ends={"steps": StepsFrontEnd()})
    definition = good.register(steps({"name": "a", "action": "core.noop"}), kind="steps")
    execution_id = good.start(definition)
    broken = Engine(store, clock=clock, front_ends={"steps": _broken, "other": OtherFrontEnd()})
    assert broken.front_ends.usable() == ["other"]
    logging.getLogger("cadenza.engine").disabled = True
    try:
        broken.run_until_idle(skip_time=True)
    finally:
        logging.getLogger("cadenza.engine").disabled = False
    assert store.load_execution(execution_id).status == "requested"  # not failed
    assert store.next_wakeup(["other"]) is None
    assert store.list_executions(kinds=["other"]) == []
    assert [r.id for r in store.list_executions(kinds=["steps"])] == [execution_id]
    good.run_until_idle()
    assert store.load_execution(execution_id).status == "succeeded"
