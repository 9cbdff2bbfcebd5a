"""An engine's loop threads (heartbeats, the relay of other processes' work)
outlive a serve loop for a while, so one short run after another does not
start them each time, and end once no loop has run for a while: an engine
left open with no loop keeps no thread, listening session or socket."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cadenza.engine.attempts import AttemptRunner
from cadenza.engine.clock import SystemClock
from cadenza.engine.engine import Engine
from cadenza.engine.loop_threads import LoopThreads
from cadenza.engine.wake import WakeUp
from cadenza.engine.wake_sockets import WakeSockets
from cadenza.store.protocol import Store
from cadenza.workers.registry import ActivityRegistry

from .steps import StepsFrontEnd, steps

DEADLINE = 10.0


def _eventually(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _heartbeats() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "cadenza-heartbeat"}


def _started_since(before: set[threading.Thread]) -> threading.Thread:
    """The one heartbeat thread started since ``before`` (other engines' threads
    may end meanwhile; none starts: the tests run one at a time)."""
    (started,) = _heartbeats() - before
    return started


class CountedBeats(AttemptRunner):
    """An attempt runner that says when it has been asked for ``wanted`` heartbeats."""

    def __init__(self, store: Store, wanted: int) -> None:
        super().__init__(store, ActivityRegistry(), SystemClock(), "owner-1", 30.0)
        self.beats = 0
        self.wanted = wanted
        self.enough = threading.Event()

    def heartbeat(self) -> None:
        super().heartbeat()
        self.beats += 1
        if self.beats >= self.wanted:
            self.enough.set()


def _loop_threads(
    store: Store, idle_before_stop: float, runner: AttemptRunner | None = None
) -> LoopThreads:
    clock = SystemClock()
    runner = runner or AttemptRunner(store, ActivityRegistry(), clock, "owner-1", 30.0)
    return LoopThreads(
        store,
        runner,
        clock,
        WakeUp(),
        WakeSockets.of_store(store),
        heartbeat_every=0.05,
        idle_before_stop=idle_before_stop,
    )


def test_threads_end_once_no_loop_has_run_for_a_while_and_start_again(store: Store) -> None:
    threads = _loop_threads(store, idle_before_stop=0.2)
    before = _heartbeats()
    threads.enter(1)
    assert threads.running
    heartbeat = _started_since(before)
    threads.leave(1)
    _eventually(lambda: not threads.running, "the idle threads to stop")
    _eventually(lambda: not heartbeat.is_alive(), "the thread to end")
    threads.enter(2)
    assert threads.running, "the next loop starts them again"
    threads.leave(2)
    threads.close()
    assert not threads.running
    threads.enter(3)
    assert not threads.running, "a closed engine starts no thread"
    threads.leave(3)


def test_threads_stay_while_a_loop_is_in(store: Store) -> None:
    runner = CountedBeats(store, wanted=10)
    threads = _loop_threads(store, idle_before_stop=0.05, runner=runner)
    threads.enter(1)
    threads.enter(2)
    threads.leave(1)
    # Ten beats, each followed by the idle check, span many idle periods: loop 2 is in.
    assert runner.enough.wait(DEADLINE), "the heartbeat thread did not beat"
    assert threads.running
    threads.leave(2)
    _eventually(lambda: not threads.running, "the idle threads to stop")
    threads.close()


def test_runs_one_after_another_keep_the_threads_until_close(store: Store) -> None:
    before = _heartbeats()
    engine = Engine(store, front_ends={"steps": StepsFrontEnd()})
    definition = engine.register(steps({"name": "a", "action": "core.noop"}), kind="steps")
    try:
        assert engine.run(definition).status == "succeeded"
        heartbeat = _started_since(before)
        for _ in range(2):
            assert engine.run(definition).status == "succeeded"
            assert heartbeat.is_alive() and heartbeat in _heartbeats()
    finally:
        engine.close()
    assert not heartbeat.is_alive()
