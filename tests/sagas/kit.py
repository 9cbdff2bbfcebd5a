"""What the saga tests share: a world that counts side effects outside the store,
a saga of 10 actions with a fan-out, a join and a subsaga, and checks of end states.

The test saga (``WIDE``)::

    reserve
      ├── net ──┐                       (fan-out: net, disk, cfg)
      ├── disk ─┤
      └── cfg ──┘
    attach (subsaga, params = net):  nic → {vol, dns} → link
    instance  (join: reads attach's and cfg's outputs)
    boot → notify
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from cadenza.engine.engine import Engine
from cadenza.interpreters.saga import (
    Saga,
    SagaBuilder,
    SagaFrontEnd,
    action,
    constant,
    register_fault_activities,
    subsaga,
)
from cadenza.interpreters.saga.graph import ACTION, SagaGraph
from cadenza.model.events import RecordedEvent, TaskCompleted, TaskScheduled
from cadenza.store.protocol import Store
from cadenza.testing.clock import FakeClock
from cadenza.testing.replay import check_replay
from cadenza.workers.registry import ActivityRegistry, default_registry


class World:
    """Resources that actions create and undos delete, counted outside the store.

    An action creates the resource named after its node (idempotently: doing
    it twice leaves one); an undo deletes it. ``calls`` counts every call.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.resources: set[str] = set()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.undo_order: list[str] = []
        #: Node paths whose undo raises (an ordinary, retryable error) while listed.
        self.broken_undos: set[str] = set()

    def do(self, node: str, path: str, **inputs: Any) -> dict[str, Any]:
        """``test.do``: create the node's resource (``path`` names it in the saga)."""
        with self.lock:
            self.calls["do", path] += 1
            self.resources.add(path)
        return {"id": f"{node}-id", "inputs": inputs}

    def undo(self, input: dict[str, Any], output: dict[str, Any]) -> None:
        """``test.undo``: delete the resource the node's action created."""
        node = input["path"]
        with self.lock:
            self.calls["undo", node] += 1
            if node in self.broken_undos:
                raise RuntimeError(f"cannot delete {node}")
            assert output["id"] == f"{input['node']}-id", output
            self.resources.discard(node)
            self.undo_order.append(node)

    def registry(self) -> ActivityRegistry:
        registry = default_registry()
        registry.register("test.do", self.do)
        registry.register("test.undo", self.undo)
        register_fault_activities(registry)
        return registry


def act(name: str, path: str | None = None, *, activities: str = "test", **inputs: Any) -> Any:
    """An action node of the test saga: ``<activities>.do`` with ``<activities>.undo``."""
    return action(
        name,
        do=f"{activities}.do",
        undo=f"{activities}.undo",
        input={"node": name, "path": path or name, **inputs},
    )


def wide_saga(activities: str = "test", **extra: Any) -> Saga:
    """The test saga described in the module docstring; ``extra`` inputs go to every
    node outside the subsaga (inside, ``${params}`` are the subsaga's)."""

    def node(name: str, path: str | None = None, **inputs: Any) -> Any:
        return act(name, path, activities=activities, **inputs, **extra)

    def inner(name: str, **inputs: Any) -> Any:
        return act(name, f"attach/{name}", activities=activities, **inputs)

    attach = (
        SagaBuilder("attach")
        .append(inner("nic", net="${params.id}"))
        .append_parallel(inner("vol"), inner("dns"))
        .append(inner("link", nic="${nodes.nic.id}"))
        .build()
    )
    return (
        SagaBuilder("wide", params=["name"], version="1")
        .append(node("reserve", vm="${params.name}"))
        .append_parallel(node("net"), node("disk"), constant("cfg", {"size": 10}))
        .append(subsaga("attach", attach, params="net"))
        .append(node("instance", link="${nodes.attach.id}", size="${nodes.cfg.size}"))
        .append(node("boot"))
        .append(node("notify", message="booted ${params.name}"))
        .build()
    )


WIDE = wide_saga()
#: Every action node of the test saga, by path.
ACTIONS = [n.path for n in WIDE.graph.nodes if n.kind == ACTION]


def make_engine(store: Store, world: World, **kwargs: Any) -> Engine:
    return Engine(
        store,
        registry=world.registry(),
        clock=FakeClock(),
        front_ends={"saga": SagaFrontEnd()},
        **kwargs,
    )


def ancestors(graph: SagaGraph, path: str) -> set[str]:
    """The paths of every action node ``path`` depends on, transitively."""
    index = next(n.index for n in graph.nodes if n.path == path)
    found: set[int] = set()
    todo = list(graph.nodes[index].parents)
    while todo:
        i = todo.pop()
        if i not in found:
            found.add(i)
            todo.extend(graph.nodes[i].parents)
    return {graph.nodes[i].path for i in found if graph.nodes[i].kind == ACTION}


def assert_reverse_dependency_order(graph: SagaGraph, undone: Sequence[str]) -> None:
    """Each node was undone before every node it depends on."""
    position = {path: i for i, path in enumerate(undone)}
    for path in undone:
        for earlier in ancestors(graph, path) & set(undone):
            assert position[path] < position[earlier], (
                f"{earlier} was undone before {path}, which depends on it: {list(undone)}"
            )


def assert_clean_history(history: Sequence[RecordedEvent]) -> None:
    """No gap or duplicate: sequence numbers 1..n; each task scheduled once,
    completed at most once, and only after it was scheduled."""
    assert [r.seq for r in history] == list(range(1, len(history) + 1))
    scheduled: set[str] = set()
    completed: set[str] = set()
    for recorded in history:
        event = recorded.event
        if isinstance(event, TaskScheduled):
            assert event.task_id not in scheduled, f"{event.task_id} scheduled twice"
            scheduled.add(event.task_id)
        elif isinstance(event, TaskCompleted):
            assert event.task_id in scheduled, f"{event.task_id} completed, never scheduled"
            assert event.task_id not in completed, f"{event.task_id} completed twice"
            completed.add(event.task_id)


def assert_replays(engine: Engine, execution_id: str) -> None:
    """A fresh interpreter fed the recorded inputs decides exactly what was recorded,
    and the state rebuilt from history alone shows what the store shows."""
    record = engine.get(execution_id)
    interpreter = engine.compile(
        engine.store.load_definition(record.definition_id).source, kind="saga"
    )
    history = engine.history(execution_id)
    assert check_replay(interpreter, history) == []
    engine.store.forget_snapshots([execution_id])
    engine.forget_held()
    assert engine.describe(execution_id).status == record.status
    assert engine.decide() == 0  # nothing waits: the rebuilt state decides nothing new
