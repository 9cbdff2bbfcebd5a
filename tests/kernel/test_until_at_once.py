"""A serve loop whose round ends the executions its caller waits for returns at
once, not after its idle wait: ``until`` is asked as soon as a round ended or
paused an execution, though no further round is needed."""

from __future__ import annotations

import threading

from cadenza.engine.engine import Engine
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES
from cadenza.store.protocol import Store

from .steps import StepsFrontEnd, steps

#: Far longer than any wait the test allows: a loop that waits it out fails.
LONG_WAIT = 60.0
DEADLINE = 10.0


def test_serve_returns_when_the_last_execution_ends_without_waiting(store: Store) -> None:
    # The idle wait is as long as the poll interval and the heartbeat (a third
    # of the lease): both far beyond the deadline.
    engine = Engine(
        store,
        front_ends={"steps": StepsFrontEnd()},
        poll_interval=LONG_WAIT,
        lease=3 * LONG_WAIT,
    )
    definition = engine.register(
        steps({"name": "a", "action": "core.noop"}, {"name": "b", "action": "core.noop"}),
        kind="steps",
    )
    ids = {engine.start(definition) for _ in range(5)}
    ended: set[str] = set()
    engine.add_listener(
        lambda outcome: (
            ended.add(outcome.execution_id) if outcome.status in FINAL_EXECUTION_STATUSES else None
        )
    )
    returned = threading.Event()
    stop = threading.Event()

    def serve() -> None:
        engine.serve(stop, until=lambda: ids <= ended)
        returned.set()

    threading.Thread(target=serve, daemon=True).start()
    try:
        assert returned.wait(DEADLINE), "serve did not return when its executions ended"
    finally:
        stop.set()
    assert {engine.get(i).status for i in ids} == {"succeeded"}
    engine.close()
