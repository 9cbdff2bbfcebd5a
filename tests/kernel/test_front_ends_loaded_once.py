"""An engine works out the kinds it decides once, not at every round: each
factory runs once, a broken plug-in is named once and stays left out; and what
one run learned of an action's speed serves the engine's next runs."""

from __future__ import annotations

import threading

import pytest

from cadenza.engine.engine import Engine
from cadenza.engine.front_ends import FrontEnds
from cadenza.interpreters.protocol import FrontEndSettings
from cadenza.model.errors import FrontEndError
from cadenza.store.protocol import Store
from cadenza.workers.registry import default_registry

from .steps import StepsFrontEnd, steps


def test_usable_kinds_load_each_front_end_once(caplog: pytest.LogCaptureFixture) -> None:
    calls = {"steps": 0, "broken": 0}

    def make_steps(settings: FrontEndSettings) -> StepsFrontEnd:
        calls["steps"] += 1
        return StepsFrontEnd()

    def make_broken(settings: FrontEndSettings) -> StepsFrontEnd:
        calls["broken"] += 1
        raise FrontEndError("the front end 'broken' (broken:create) cannot be loaded: boom")

    front_ends = FrontEnds({"steps": make_steps, "broken": make_broken})
    for _ in range(3):
        assert front_ends.usable() == ["steps"]
        assert front_ends.usable_kinds() == frozenset({"steps"})
    assert calls == {"steps": 1, "broken": 1}
    assert len([r for r in caplog.records if "boom" in r.getMessage()]) == 1
    # The list handed out is a copy: changing it changes nothing here.
    front_ends.usable().append("other")
    assert front_ends.usable() == ["steps"]


def test_an_engines_rounds_do_not_ask_the_front_ends_again(store: Store) -> None:
    calls = 0

    def make_steps(settings: FrontEndSettings) -> StepsFrontEnd:
        nonlocal calls
        calls += 1
        return StepsFrontEnd()

    engine = Engine(store, front_ends={"steps": make_steps})
    chain = [{"name": f"s{i}", "action": "core.noop"} for i in range(5)]
    done = engine.run(engine.register(steps(*chain), kind="steps"), timeout=30)
    assert done.status == "succeeded"
    assert calls == 1


def test_a_later_run_starts_inline_with_what_the_first_learned(store: Store) -> None:
    threads: list[str] = []

    def where() -> str:
        threads.append(threading.current_thread().name)
        return threads[-1]

    registry = default_registry()
    registry.register("where", where)
    engine = Engine(store, registry=registry, front_ends={"steps": StepsFrontEnd()}, lease=1.0)
    definition = engine.register(steps({"name": "a", "action": "where"}), kind="steps")
    assert engine.run(definition, timeout=30).status == "succeeded"
    assert threads[0].startswith("cadenza-task")  # the first attempt is timed on the pool
    assert engine.run(definition, timeout=30).status == "succeeded"
    assert threads[1] == threading.current_thread().name
