"""A serve loop with nothing to do lets the store do its deferred housekeeping
(SQLite's WAL checkpoint) then, not inside a step's commit; a loop whose
threads are all busy only waits for one of them."""

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


def test_a_loop_whose_threads_are_all_busy_asks_the_store_nothing_while_it_waits(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(str(tmp_path / "busy.db"))
    asked: list[str] = []
    next_wakeup, checkpoint = store.next_wakeup, store.checkpoint_when_idle
    running = threading.Event()
    release = threading.Event()

    def counted_wakeup(*args: object, **kwargs: object) -> float | None:
        if running.is_set() and not release.is_set():
            asked.append("next_wakeup")
        return next_wakeup(*args, **kwargs)  # type: ignore[arg-type]

    def counted_checkpoint() -> None:
        if running.is_set() and not release.is_set():
            asked.append("checkpoint")
        checkpoint()

    store.next_wakeup = counted_wakeup  # type: ignore[method-assign]
    store.checkpoint_when_idle = counted_checkpoint  # type: ignore[method-assign]

    def hold() -> str:
        running.set()
        assert release.wait(10), "the test never let the attempt go"
        return "done"

    engine = Engine(store, front_ends={"steps": StepsFrontEnd()}, concurrency=1)
    engine.registry.register("hold", hold)
    rounds = threading.Event()
    engine.add_round_listener(lambda _outcome, _now: rounds.set())
    definition = engine.register(steps({"name": "a", "action": "hold"}), kind="steps")
    execution_id = engine.start(definition)
    stop = threading.Event()
    loop = threading.Thread(target=engine.serve, args=(stop,), daemon=True)
    loop.start()
    try:
        assert running.wait(10), "the attempt never started"
        # Wake the loop a few times while its only thread is busy: each time it
        # looks for work (a round), finds none it can take, and waits again; a
        # round after a wake-up means the wait after the previous one was reached.
        for _ in range(5):
            rounds.clear()
            engine.wake()
            assert rounds.wait(10), "the loop did not turn when woken"
        release.set()
        deadline = time.monotonic() + 10
        while engine.get(execution_id).status != "succeeded":
            assert time.monotonic() < deadline, "the execution did not finish in 10 s"
            time.sleep(0.01)
    finally:
        release.set()
        stop.set()
        loop.join(10)
        engine.close()
    assert asked == []
