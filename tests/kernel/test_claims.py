"""A process never takes work it cannot do: it claims the tasks whose action it
can run, and every task of the executions it drives itself."""

from __future__ import annotations

import threading
from collections.abc import Callable

from cadenza.engine.engine import Engine
from cadenza.store.protocol import Store
from cadenza.workers.registry import default_registry

from .steps import StepsFrontEnd, steps


def _answering(name: str) -> Callable[..., dict[str, str]]:
    def activity() -> dict[str, str]:
        return {"ran": name}

    return activity


def _engine(store: Store, *extra: str) -> Engine:
    registry = default_registry()
    for name in extra:
        registry.register(name, _answering(name))
    return Engine(store, registry=registry, front_ends={"steps": StepsFrontEnd()}, lease=1.0)


def test_a_process_without_the_action_leaves_the_task_to_one_that_has_it(store: Store) -> None:
    owner = _engine(store, "billing.charge")
    definition = owner.register(steps({"name": "charge", "action": "billing.charge"}), kind="steps")
    execution_id = owner.start(definition)
    owner.decide()  # the task is scheduled; its process steps away
    bystander = _engine(store)  # another process on the store, without billing.charge
    stop = threading.Event()
    rounds = {"n": 0}

    def enough() -> bool:
        # A few idle turns of its loop: it must neither claim nor fail the task.
        rounds["n"] += 1
        return rounds["n"] > 5

    bystander.serve(stop, until=enough)
    assert store.load_execution(execution_id).status == "running"
    assert [r.event.type for r in store.read_history(execution_id)][-1] != "ExecutionCompleted"
    assert store.next_wakeup(actions=bystander.registry.names()) is None  # no spin either
    done = owner.drive(execution_id, timeout=30)
    assert done.status == "succeeded" and done.output == [{"ran": "billing.charge"}]


def test_the_process_driving_an_execution_answers_for_all_its_tasks(store: Store) -> None:
    engine = _engine(store)
    definition = engine.register(steps({"name": "x", "action": "nobody.has"}), kind="steps")
    # Its driver takes the task though it cannot run it: the step fails as the
    # language says, rather than waiting for a process that will never come.
    done = engine.run(definition, timeout=30)
    assert done.status == "failed"
    assert done.errors[0]["error"]["type"] == "action.not_found"
