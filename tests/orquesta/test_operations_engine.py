"""Orquesta operations end to end through the engine, on every store backend."""

from __future__ import annotations

from typing import Any

from cadenza.engine.engine import Engine
from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
from cadenza.store.protocol import Store
from cadenza.testing.clock import FakeClock
from cadenza.workers.registry import default_registry

DELAYED = """
version: 1.0
tasks:
  t1:
    delay: 600
    action: test.mark
"""


def test_cancel_during_a_delay_never_runs_the_action(store: Store) -> None:
    ran: list[Any] = []
    registry = default_registry()
    registry.register("test.mark", lambda: ran.append(1))
    clock = FakeClock()
    engine = Engine(
        store, registry=registry, clock=clock, front_ends={"orquesta": OrquestaFrontEnd()}
    )
    execution = engine.start(engine.register(DELAYED, kind="orquesta"), {})
    engine.run_until_idle()
    assert engine.get(execution).status == "running"
    clock.set(clock.now() + 10)
    engine.cancel(execution)
    assert engine.get(execution).status == "canceled"
    engine.run_until_idle(skip_time=True)
    assert ran == []
    assert engine.get(execution).status == "canceled"
    assert [(t.name, t.status) for t in engine.describe(execution).tasks] == [("t1", "canceled")]
