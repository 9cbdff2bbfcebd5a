"""Executions started by other executions (``StartChild``), on every store."""

from __future__ import annotations

from cadenza.store.protocol import Store
from cadenza.testing.replay import check_replay

from .steps import steps
from .test_engine import make_engine


def test_a_child_runs_and_its_output_is_the_parent_tasks_result(store: Store) -> None:
    engine = make_engine(store)
    engine.register(
        steps({"name": "say", "action": "core.echo", "input": {"message": "from the child"}}),
        kind="steps",
        name="greeter",
    )
    parent = engine.register(
        steps(
            {"name": "call", "child": "greeter", "input": {"who": "parent"}},
            {"name": "after", "action": "core.echo", "input": {"message": "done"}},
        ),
        kind="steps",
    )
    parent_id = engine.start(parent, {})
    engine.run_until_idle()

    record = engine.get(parent_id)
    assert record.status == "succeeded", record.errors
    assert record.output[0][0]["stdout"] == "from the child"
    children = store.list_executions(parent_id=parent_id)
    assert [c.name for c in children] == ["greeter"]
    child = children[0]
    assert (child.parent_id, child.parent_task_id) == (parent_id, "call.0")
    assert child.status == "succeeded"
    started = engine.history(child.id)[0].event
    assert started.input == {"who": "parent"}
    assert started.meta["parent"] == {"execution_id": parent_id, "task_id": "call.0"}
    recorded = [r.event for r in engine.history(parent_id) if r.event.type == "ChildStarted"]
    assert [e.execution_id for e in recorded] == [child.id]
    interpreter = engine.compile(parent.source, kind="steps")
    assert check_replay(interpreter, engine.history(parent_id)) == []


def test_a_failed_child_fails_the_parents_task_with_the_childs_errors(store: Store) -> None:
    engine = make_engine(store)
    engine.register(
        steps({"name": "boom", "action": "core.local", "input": {"cmd": "exit 3"}}),
        kind="steps",
        name="failing",
    )
    parent = engine.register(steps({"name": "call", "child": "failing"}), kind="steps")
    parent_id = engine.start(parent, {})
    engine.run_until_idle()

    record = engine.get(parent_id)
    assert record.status == "failed"
    error = record.errors[0]["error"]
    assert error["type"] == "ChildExecutionFailed"
    assert error["status"] == "failed"
    (child,) = store.list_executions(parent_id=parent_id)
    assert error["execution_id"] == child.id
    assert error["errors"] == child.errors


def test_a_child_of_an_unknown_definition_fails_the_task_at_once(store: Store) -> None:
    engine = make_engine(store)
    parent = engine.register(steps({"name": "call", "child": "no-such-flow"}), kind="steps")
    parent_id = engine.start(parent, {})
    engine.run_until_idle()

    record = engine.get(parent_id)
    assert record.status == "failed"
    assert record.errors[0]["error"]["type"] == "DefinitionNotFound"
    assert "no-such-flow" in record.errors[0]["error"]["message"]
    assert store.list_executions(parent_id=parent_id) == []


def test_cancelling_the_parent_cancels_the_open_child(store: Store) -> None:
    engine = make_engine(store)
    # The child waits on work nobody does, so it is open when the parent is cancelled.
    engine.register(
        steps({"name": "wait", "action": "remote.thing", "external": True}),
        kind="steps",
        name="waiter",
    )
    parent = engine.register(steps({"name": "call", "child": "waiter"}), kind="steps")
    parent_id = engine.start(parent, {})
    engine.run_until_idle()
    (child,) = store.list_executions(parent_id=parent_id)
    assert child.status == "running"

    engine.cancel(parent_id)
    engine.run_until_idle()

    assert engine.get(parent_id).status == "canceled"
    assert engine.get(child.id).status == "canceled"
    # The child's end reached the parent after the parent had ended: history
    # keeps it, and the parent stays canceled.
    last = engine.history(parent_id)[-1].event
    assert last.type == "TaskCompleted" and last.status == "canceled"


def test_a_child_can_start_children_of_its_own(store: Store) -> None:
    engine = make_engine(store)
    engine.register(
        steps({"name": "leaf", "action": "core.echo", "input": {"message": "deep"}}),
        kind="steps",
        name="leaf",
    )
    engine.register(steps({"name": "mid", "child": "leaf"}), kind="steps", name="middle")
    top = engine.register(steps({"name": "top", "child": "middle"}), kind="steps")
    top_id = engine.start(top, {})
    engine.run_until_idle()

    assert engine.get(top_id).status == "succeeded"
    assert engine.get(top_id).output[0][0][0]["stdout"] == "deep"
    (middle,) = store.list_executions(parent_id=top_id)
    (leaf,) = store.list_executions(parent_id=middle.id)
    assert leaf.status == "succeeded"


def test_driving_one_execution_decides_and_runs_nothing_else(store: Store) -> None:
    from cadenza.engine.clock import SystemClock

    engine = make_engine(store, clock=SystemClock())
    other = engine.register(
        steps({"name": "slow", "action": "core.local", "input": {"cmd": "sleep 30"}}),
        kind="steps",
        name="someone-elses",
    )
    other_id = engine.start(other, {})
    engine.register(
        steps({"name": "say", "action": "core.echo", "input": {"message": "child"}}),
        kind="steps",
        name="mine-child",
    )
    mine = engine.register(steps({"name": "call", "child": "mine-child"}), kind="steps")

    record = engine.run(mine, {}, timeout=20)

    assert record.status == "succeeded"
    assert record.output[0][0]["stdout"] == "child"
    # The other execution was neither decided nor had its task taken.
    assert engine.get(other_id).status == "requested"
    assert store.task_counts() == {}


def test_driving_an_execution_drives_the_children_it_started_before(store: Store) -> None:
    from cadenza.engine.clock import SystemClock

    engine = make_engine(store, clock=SystemClock())
    engine.register(
        steps({"name": "say", "action": "core.echo", "input": {"message": "late"}}),
        kind="steps",
        name="started-earlier",
    )
    parent = engine.register(steps({"name": "call", "child": "started-earlier"}), kind="steps")
    parent_id = engine.start(parent, {})
    # Decided without running anything (as an answer or a rerun is): the child
    # exists before anyone drives the parent.
    engine.decide()
    assert [c.status for c in store.list_executions(parent_id=parent_id)]

    record = engine.drive(parent_id, timeout=20)

    assert record.status == "succeeded"
    assert record.output[0][0]["stdout"] == "late"
