"""A serve loop with nothing to do lets the store do its deferred housekeeping
(SQLite's WAL checkpoint) then, not inside a step's commit."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from cadenza.engine.engine import Engine
from cadenza.store.sqlite.store import SQLiteStore

from .steps import StepsFrontEnd, steps


def test_an_idle_serve_loop_checkpoints_the_wal(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "idle.db"))
    idle_checkpoints = threading.Event()
    checkpoint = store.checkpoint_when_idle

    def counted() -> None:
        idle_checkpoints.set()
        checkpoint()

    store.checkpoint_when_idle = counted  # type: ignore[method-assign]
    engine = Engine(store, front_ends={"steps": StepsFrontEnd()}, poll_interval=0.05)
    definition = engine.register(steps({"name": "a", "action": "core.noop"}), kind="steps")
    execution_id = engine.start(definition)
    stop = threading.Event()
    loop = threading.Thread(target=engine.serve, args=(stop,), daemon=True)
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while engine.get(execution_id).status != "succeeded":
            assert time.monotonic() < deadline, "the execution did not finish in 10 s"
            time.sleep(0.01)
        assert idle_checkpoints.wait(10), "the idle loop never asked for a checkpoint"
    finally:
        stop.set()
        loop.join(10)
        engine.close()
    assert store._checkpointed_at > 0
