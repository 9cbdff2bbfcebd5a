"""A serving loop skips the store read of a round whose only work is its own
finished attempts, and still hears of everything else: work announced from
elsewhere, and due tasks its last claim had no room for.

The clock is frozen, so the loop's look for work at least every few dozen
milliseconds never comes: only what the loop hears or knows makes it look.
A real deadline guards each run (a loop that never looks would spin on).
"""

from __future__ import annotations

import threading
from typing import Any

from cadenza.engine.engine import Engine
from cadenza.model.events import PauseRequested
from cadenza.store.protocol import Store
from cadenza.testing.clock import FakeClock
from cadenza.workers.registry import default_registry

from .steps import StepsFrontEnd, steps

DEADLINE = 30.0


def _run_in_background(engine: Engine, definition: Any) -> dict[str, Any]:
    """Run ``definition`` on a thread; the record (or error) once it returns."""
    box: dict[str, Any] = {}
    finished = threading.Event()

    def run() -> None:
        try:
            box["record"] = engine.run(definition)
        except BaseException as exc:  # reported by the test below
            box["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=run, daemon=True).start()
    assert finished.wait(DEADLINE), "the run did not settle: the loop never looked"
    if "error" in box:
        raise box["error"]
    return box


def test_work_announced_while_a_chain_runs_is_decided_at_once(store: Store) -> None:
    clock = FakeClock()
    registry = default_registry()
    calls: list[int] = []
    holder: dict[str, Engine] = {}

    def step() -> int:
        calls.append(1)
        if len(calls) == 5:
            # A request from elsewhere: in the inbox, announced, not decided.
            engine = holder["engine"]
            (record,) = engine.store.list_executions(limit=1)
            engine.store.deliver(record.id, [PauseRequested()], clock.now())
            engine.wake()
        return len(calls)

    registry.register("step", step)
    engine = Engine(store, registry=registry, front_ends={"steps": StepsFrontEnd()}, clock=clock)
    holder["engine"] = engine
    chain = [{"name": f"s{i}", "action": "step"} for i in range(200)]
    box = _run_in_background(engine, engine.register(steps(*chain), kind="steps"))
    assert box["record"].status == "paused"
    # Decided in the round that saved the fifth step (or the next): the chain
    # did not run on unaware of the request.
    assert len(calls) <= 7


def test_a_fan_out_wider_than_the_threads_completes(store: Store) -> None:
    # Tasks the first claim had no room for wait while the loop's rounds read
    # nothing; they must still be claimed (here by the rounds that follow).
    clock = FakeClock()
    registry = default_registry()
    ran: list[int] = []
    registry.register("item", lambda n: ran.append(n) or n)
    engine = Engine(store, registry=registry, clock=clock, concurrency=2)
    definition = engine.register(
        """
version: 1.0
tasks:
  fan:
    with:
      items: n in <% range(9) %>
    action: item
    input:
      n: <% item(n) %>
""",
        origin="fan.yaml",
    )
    box = _run_in_background(engine, definition)
    assert box["record"].status == "succeeded"
    assert sorted(ran) == list(range(9))
