"""A serving loop runs a lone quick attempt on its own thread, and only such a one:
an attempt with a time limit, or of an action that was slow last time, goes to
the task threads, and heartbeats keep an attempt's lease while it runs inline."""

from __future__ import annotations

import threading
import time
from typing import Any

from cadenza.engine.engine import Engine
from cadenza.store.protocol import Store
from cadenza.workers.context import ActivityContext
from cadenza.workers.registry import default_registry

from .steps import StepsFrontEnd, steps


def _engine(store: Store, **activities: Any) -> Engine:
    registry = default_registry()
    for name, fn in activities.items():
        registry.register(name, fn)
    return Engine(store, registry=registry, front_ends={"steps": StepsFrontEnd()}, lease=1.0)


def test_a_quick_action_runs_on_the_loop_thread_after_its_first_attempt(store: Store) -> None:
    threads: list[str] = []

    def where() -> str:
        threads.append(threading.current_thread().name)
        return threads[-1]

    engine = _engine(store, where=where)
    chain = [{"name": f"s{i}", "action": "where"} for i in range(5)]
    done = engine.run(engine.register(steps(*chain), kind="steps"), timeout=30)
    assert done.status == "succeeded"
    loop = threading.current_thread().name
    # The first attempt of an action teaches the loop how long it takes; once
    # one ran inline (measured there, in microseconds) the rest follow.
    assert threads[0].startswith("cadenza-task")
    assert threads[-1] == loop
    first = threads.index(loop)
    assert threads[first:] == [loop] * (len(threads) - first)


def test_an_attempt_with_a_time_limit_always_goes_to_a_task_thread(store: Store) -> None:
    threads: list[str] = []

    def where() -> str:
        threads.append(threading.current_thread().name)
        return threads[-1]

    engine = _engine(store, where=where)
    chain = [{"name": f"s{i}", "action": "where", "timeout": 60} for i in range(3)]
    chain += [{"name": f"h{i}", "action": "where", "heartbeat_timeout": 60} for i in range(2)]
    done = engine.run(engine.register(steps(*chain), kind="steps"), timeout=30)
    assert done.status == "succeeded"
    assert len(threads) == 5
    assert all(name.startswith("cadenza-task") for name in threads)


def test_an_action_that_was_slow_goes_back_to_the_task_threads(store: Store) -> None:
    threads: list[str] = []

    def sometimes_slow(slow: bool) -> bool:
        threads.append(threading.current_thread().name)
        if slow:
            time.sleep(0.05)  # the activity's own work, not a wait on the test
        return slow

    engine = _engine(store, maybe=sometimes_slow)
    flags = [False, False, False, False, True, False, False]
    chain = [
        {"name": f"s{i}", "action": "maybe", "input": {"slow": slow}}
        for i, slow in enumerate(flags)
    ]
    done = engine.run(engine.register(steps(*chain), kind="steps"), timeout=30)
    assert done.status == "succeeded"
    loop = threading.current_thread().name
    # Quick attempts ran inline; the one after the slow attempt goes to a task
    # thread whatever ran where before.
    inline = [name == loop for name in threads]
    assert inline[0] is False
    assert True in inline[1:5]
    assert inline[5] is False


def test_heartbeats_keep_the_lease_of_an_attempt_running_inline(store: Store) -> None:
    threads: list[str] = []

    def hold(context: ActivityContext, seconds: float) -> float:
        threads.append(threading.current_thread().name)
        # Longer than the 1 s lease: only the heartbeat thread keeps it.
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not context.cancelled:
            time.sleep(0.01)
        return seconds

    engine = _engine(store, hold=hold)
    chain = [{"name": f"quick{i}", "action": "hold", "input": {"seconds": 0}} for i in range(4)]
    chain.append({"name": "long", "action": "hold", "input": {"seconds": 1.6}})
    definition = engine.register(steps(*chain), kind="steps")
    execution_id = engine.start(definition)
    done = engine.drive(execution_id, timeout=30)
    assert done.status == "succeeded"
    assert threads[-1] == threading.current_thread().name
    # Each task ran exactly once: no lease lapsed, so none was taken over.
    attempts = [
        r.event
        for r in store.read_history(execution_id)
        if r.event.type in ("TaskAttemptFailed", "TaskCompleted")
    ]
    assert [getattr(e, "attempt", None) for e in attempts] == [1] * 5
