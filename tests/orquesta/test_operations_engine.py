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


RETRIED = """
version: 1.0
tasks:
  t1:
    action: test.refuse
    retry:
      count: 3
"""


def test_a_non_retryable_failure_is_not_retried_by_the_workflow(store: Store) -> None:
    from cadenza.model.errors import ActivityError

    calls: list[bool] = []

    def refuse(final: bool = False) -> None:
        calls.append(final)
        raise ActivityError("no", type="Refused", non_retryable=final)

    registry = default_registry()
    registry.register("test.refuse", refuse)
    engine = Engine(
        store, registry=registry, clock=FakeClock(), front_ends={"orquesta": OrquestaFrontEnd()}
    )
    plain = engine.start(engine.register(RETRIED, kind="orquesta"), {})
    engine.run_until_idle(skip_time=True)
    assert engine.get(plain).status == "failed"
    assert len(calls) == 4  # a plain failure: the first run and three retries

    calls.clear()
    final = engine.start(
        engine.register(RETRIED.replace("test.refuse", "test.refuse final=true"), kind="orquesta"),
        {},
    )
    engine.run_until_idle(skip_time=True)
    assert engine.get(final).status == "failed"
    assert calls == [True]


LOOPING = """
version: 1.0
vars:
  - none: []
tasks:
  start:
    with: <% ctx(none) %>
    action: core.noop
    next:
      - when: <% succeeded() %>
        do: spin
  spin:
    with: <% ctx(none) %>
    action: core.noop
    next:
      - when: <% succeeded() %>
        do: spin
"""


def test_a_loop_of_tasks_that_complete_at_once_fails_as_a_runaway(store: Store) -> None:
    engine = Engine(store, clock=FakeClock(), front_ends={"orquesta": OrquestaFrontEnd()})
    execution = engine.start(engine.register(LOOPING, kind="orquesta"), {})
    engine.run_until_idle(skip_time=True, max_rounds=5)
    record = engine.get(execution)
    assert record.status == "failed"
    [error] = record.errors
    assert error["code"] == "engine.runaway_decision"
    assert "loops through tasks that do nothing" in error["message"]
