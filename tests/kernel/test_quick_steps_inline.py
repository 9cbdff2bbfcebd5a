"""Quick activities run on the serve loop's own thread, many per round: a round
leases the quick tasks its decisions schedule beyond its free threads, so a
chain of quick steps does not wait for a pool thread at each step, and one
round carries the steps of many executions."""

from __future__ import annotations

import threading
import time

from cadenza.engine.engine import Engine
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES
from cadenza.store.protocol import Store
from cadenza.workers.registry import default_registry

from .steps import StepsFrontEnd, steps

DEADLINE = 30.0
THREADS = 2
EXECUTIONS = 12


def test_a_round_runs_more_quick_steps_than_it_has_threads(store: Store) -> None:
    registry = default_registry()
    ran_on: set[str] = set()

    def quick(n: int = 0) -> int:
        ran_on.add(threading.current_thread().name)
        return n + 1

    registry.register("quick", quick)
    engine = Engine(
        store, registry=registry, front_ends={"steps": StepsFrontEnd()}, concurrency=THREADS
    )
    chain = steps(*({"name": f"s{i}", "action": "quick"} for i in range(4)))
    definition = engine.register(chain, kind="steps")
    claimed_per_round: list[int] = []
    engine.add_round_listener(lambda outcome, _now: claimed_per_round.append(len(outcome.claimed)))
    ended: set[str] = set()
    engine.add_listener(
        lambda outcome: (
            ended.add(outcome.execution_id) if outcome.status in FINAL_EXECUTION_STATUSES else None
        )
    )
    ids = {engine.start(definition) for _ in range(EXECUTIONS)}
    stop = threading.Event()
    serving = threading.Thread(
        target=engine.serve, args=(stop,), kwargs={"until": lambda: ids <= ended}, daemon=True
    )
    serving.start()
    serving.join(DEADLINE)
    stop.set()
    assert not serving.is_alive(), f"not done within {DEADLINE} s"
    assert {engine.get(i).status for i in ids} == {"succeeded"}
    # The first attempt of the action goes to a pool thread to be timed; once
    # it is known to be quick, its tasks run on the loop's thread, more of them
    # in a round than the loop has threads.
    assert max(claimed_per_round) > THREADS, claimed_per_round
    assert any(not name.startswith("cadenza-task") for name in ran_on), ran_on
    engine.close()


def test_a_slow_action_still_goes_to_the_pool(store: Store) -> None:
    registry = default_registry()
    ran_on: list[str] = []

    def slow() -> str:
        ran_on.append(threading.current_thread().name)
        # The activity's own work, well past a quick one's millisecond.
        until = time.perf_counter() + 0.01
        while time.perf_counter() < until:
            pass
        return "done"

    registry.register("slow", slow)
    engine = Engine(
        store, registry=registry, front_ends={"steps": StepsFrontEnd()}, concurrency=THREADS
    )
    chain = steps(*({"name": f"s{i}", "action": "slow"} for i in range(3)))
    record = engine.run(engine.register(chain, kind="steps"), timeout=DEADLINE)
    assert record.status == "succeeded"
    assert len(ran_on) == 3 and all(name.startswith("cadenza-task") for name in ran_on)
    engine.close()
