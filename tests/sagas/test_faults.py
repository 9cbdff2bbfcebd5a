"""Steno's fault injection, durable: for every node of a 10-action saga with a
fan-out, a join and a subsaga, an action error, an undo error and repeated
actions and undos, on every store backend.

Each case checks the end state against side effects counted outside the
store (``World``): all actions done exactly once; or every completed action
undone exactly once in reverse dependency order; or stuck at the node whose
undo failed. Each history has no gap or duplicate and replays to the same
decisions.
"""

from __future__ import annotations

import json

import pytest

from cadenza.engine.engine import Engine
from cadenza.interpreters.saga import Faults
from cadenza.store.protocol import Store

from .kit import (
    ACTIONS,
    WIDE,
    World,
    ancestors,
    assert_clean_history,
    assert_replays,
    assert_reverse_dependency_order,
    make_engine,
)


def run(store: Store, world: World, faults: Faults) -> tuple[Engine, str]:
    engine = make_engine(store, world)
    definition = engine.register(json.dumps(WIDE.document), kind="saga")
    execution_id = engine.start(definition, {"name": "vm1"}, context=faults.context())
    engine.run_until_idle(skip_time=True)
    return engine, execution_id


def test_without_faults_every_action_runs_once_and_the_last_output_is_the_result(
    store: Store,
) -> None:
    world = World()
    engine, execution_id = run(store, world, Faults())
    record = engine.get(execution_id)
    assert record.status == "succeeded", record.errors
    assert record.output["id"] == "notify-id"
    assert record.output["inputs"]["message"] == "booted vm1"
    assert world.resources == set(ACTIONS)
    assert all(world.calls["do", path] == 1 for path in ACTIONS)
    assert not any(side == "undo" for side, _ in world.calls)
    view = engine.describe(execution_id)
    statuses = {t.name: t.status for t in view.tasks}
    assert set(statuses.values()) == {"done"}
    # the join read the subsaga's output (its last node's) and the constant
    instance = next(t for t in view.tasks if t.name == "instance")
    assert instance.result["inputs"]["link"] == "link-id"
    assert instance.result["inputs"]["size"] == 10
    assert_clean_history(engine.history(execution_id))
    assert_replays(engine, execution_id)


@pytest.mark.parametrize("failing", ACTIONS)
def test_an_action_failing_unwinds_every_completed_action_once_in_reverse_order(
    store: Store, failing: str
) -> None:
    world = World()
    engine, execution_id = run(store, world, Faults().action_error(failing))
    record = engine.get(execution_id)
    assert record.status == "failed"
    assert record.errors[0]["node"] == failing
    assert record.errors[0]["type"] == "saga.injected_error"
    # the failed action never ran (its activity was replaced), and is not undone
    assert world.calls["do", failing] == 0
    assert world.calls["undo", failing] == 0
    done = {path for (side, path), n in world.calls.items() if side == "do"}
    assert ancestors(WIDE.graph, failing) <= done
    assert world.resources == set(), "every completed action is undone"
    assert all(world.calls["undo", path] == 1 for path in done)
    assert set(world.undo_order) == done
    assert_reverse_dependency_order(WIDE.graph, world.undo_order)
    statuses = {t.name: t.status for t in engine.describe(execution_id).tasks}
    assert statuses[failing] == "failed"
    assert all(statuses[path] == "undone" for path in done)
    assert set(statuses.values()) <= {"undone", "failed", "abandoned"}
    assert_clean_history(engine.history(execution_id))
    assert_replays(engine, execution_id)


@pytest.mark.parametrize("stuck", ACTIONS[:-1])
def test_an_undo_failing_leaves_the_saga_stuck_at_that_node(store: Store, stuck: str) -> None:
    # notify is the last action: when it fails nothing is left to undo, so the
    # saga's own action error comes from it and the undo from ``stuck``.
    world = World()
    faults = Faults().action_error("notify").undo_error(stuck)
    engine, execution_id = run(store, world, faults)
    record = engine.get(execution_id)
    assert record.status == "stuck"
    view = engine.describe(execution_id)
    statuses = {t.name: t.status for t in view.tasks}
    assert statuses[stuck] == "stuck"
    assert statuses["notify"] == "failed"
    stuck_error = next(e for e in view.errors if e["type"] == "saga.stuck")
    assert stuck_error["node"] == stuck
    assert stuck_error["error"]["type"] == "saga.injected_error"
    assert stuck_error["undoing"]["activity"] == "test.undo"
    assert stuck_error["undoing"]["output"]["id"].endswith("-id")
    # its ancestors are not undone; what depended on it was, once each
    for path in ancestors(WIDE.graph, stuck):
        assert statuses[path] == "done"
        assert path in world.resources
    assert stuck in world.resources
    assert all(n == 1 for (side, _), n in world.calls.items() if side == "undo")
    assert_reverse_dependency_order(WIDE.graph, world.undo_order)
    assert_clean_history(engine.history(execution_id))
    assert_replays(engine, execution_id)


@pytest.mark.parametrize("node", ACTIONS)
def test_repeated_actions_and_undos_leave_the_same_world(store: Store, node: str) -> None:
    world = World()
    faults = Faults().repeat(node, action=2, undo=2).action_error("notify")
    if node == "notify":
        faults = Faults().repeat("boot", action=2, undo=2).action_error("notify")
        node = "boot"
    engine, execution_id = run(store, world, faults)
    record = engine.get(execution_id)
    assert record.status == "failed"
    assert world.calls["do", node] == 2
    assert world.calls["undo", node] == 2
    assert world.resources == set()
    assert_clean_history(engine.history(execution_id))
    assert_replays(engine, execution_id)


def test_every_action_repeated_twice_still_succeeds(store: Store) -> None:
    world = World()
    faults = Faults()
    for path in ACTIONS:
        faults.repeat(path, action=2)
    engine, execution_id = run(store, world, faults)
    assert engine.get(execution_id).status == "succeeded"
    assert world.resources == set(ACTIONS)
    assert all(world.calls["do", path] == 2 for path in ACTIONS)
    assert_replays(engine, execution_id)
