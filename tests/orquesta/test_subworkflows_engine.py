"""Subworkflows and packs end to end: the example pack through the engine and a store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cadenza.engine.engine import Engine
from cadenza.interpreters.orquesta.actions import workflow_action
from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
from cadenza.model.events import ChildStarted, ExecutionStarted
from cadenza.packs import load_pack
from cadenza.store.protocol import Store
from cadenza.testing.clock import FakeClock

EXAMPLE_PACK = Path(__file__).resolve().parents[2] / "examples" / "stackstorm" / "release"


def _engine(store: Store) -> tuple[Engine, Any]:
    front_end = OrquestaFrontEnd()
    engine = Engine(store, clock=FakeClock(), front_ends={"orquesta": front_end})
    pack = load_pack(EXAMPLE_PACK)
    pack.add_to(engine.front_ends, engine.registry)
    records = {r.name: r for r in pack.register_workflows(engine)}
    return engine, records


def _children(engine: Engine, execution_id: str) -> list[ChildStarted]:
    return [r.event for r in engine.history(execution_id) if isinstance(r.event, ChildStarted)]


def test_the_example_release_runs_its_subworkflow_after_approval(store: Store) -> None:
    engine, records = _engine(store)
    assert sorted(records) == ["release.publish", "release.release"]
    execution = engine.start(records["release.release"], {"version": "1.2.0"})
    engine.run_until_idle()
    assert engine.get(execution).status == "paused"
    engine.respond(execution, "approve", {"approved": True})
    engine.run_until_idle()
    record = engine.get(execution)
    assert record.status == "succeeded", record.errors
    assert record.output == {
        "tag": "v1.2.0",
        "archive": "demo-v1.2.0-linux.tar.gz",
        "announced": "to #releases: demo-v1.2.0-linux.tar.gz is at "
        "https://packages.example.org/demo/1.2.0",
        # No datastore entry and no hosts given: the defaults.
        "mirror": "none",
        "deployed": [],
    }
    [child] = _children(engine, execution)
    assert child.definition == "release.publish"
    assert child.input == {
        "archive": "demo-v1.2.0-linux.tar.gz",
        "url": "https://packages.example.org/demo/1.2.0",
    }
    child_record = engine.get(child.execution_id)
    assert child_record.status == "succeeded"
    started = engine.history(child.execution_id)[0].event
    assert isinstance(started, ExecutionStarted)
    assert started.meta["parent"] == {
        "execution_id": execution,
        "task_id": child.task_id,
        "route": 0,
        "item_id": None,
    }


def test_a_declined_release_publishes_nothing(store: Store) -> None:
    engine, records = _engine(store)
    execution = engine.start(records["release.release"], {"version": "1.2.0"})
    engine.run_until_idle()
    engine.respond(execution, "approve", {"approved": False})
    engine.run_until_idle()
    record = engine.get(execution)
    assert record.status == "succeeded"
    assert isinstance(record.output, dict)
    assert record.output["announced"] == "not approved, nothing published"
    assert _children(engine, execution) == []


def test_a_failing_python_action_fails_the_release_with_its_message(store: Store) -> None:
    engine, records = _engine(store)
    execution = engine.start(records["release.release"], {"version": "0.1.0"})
    engine.run_until_idle()
    record = engine.get(execution)
    assert record.status == "failed"
    assert "0.1.0 is not newer than 0.9.0" in str(record.errors)
    assert _children(engine, execution) == []


PARENT = """
version: 1.0
tasks:
  wait:
    action: demo.child
"""

CHILD = """
version: 1.0
tasks:
  ask:
    action: core.ask
"""


def test_cancelling_the_parent_cancels_the_child(store: Store) -> None:
    front_end = OrquestaFrontEnd(actions=[workflow_action("demo.child", "child")])
    engine = Engine(store, clock=FakeClock(), front_ends={"orquesta": front_end})
    engine.register(CHILD, kind="orquesta", name="child")
    execution = engine.start(engine.register(PARENT, kind="orquesta", name="parent"), {})
    engine.run_until_idle()
    [child] = _children(engine, execution)
    assert engine.get(child.execution_id).status == "paused"
    # The child's inquiry pauses the parent too, as in StackStorm.
    assert engine.get(execution).status == "paused"
    engine.cancel(execution)
    engine.run_until_idle()
    assert engine.get(child.execution_id).status == "canceled"
    assert engine.get(execution).status == "canceled"
    [task] = engine.describe(execution).tasks
    assert (task.name, task.status) == ("wait", "canceled")


def test_a_child_that_names_no_definition_fails_the_task_clearly(store: Store) -> None:
    front_end = OrquestaFrontEnd(actions=[workflow_action("demo.child", "nowhere")])
    engine = Engine(store, clock=FakeClock(), front_ends={"orquesta": front_end})
    execution = engine.start(engine.register(PARENT, kind="orquesta", name="parent"), {})
    engine.run_until_idle()
    record = engine.get(execution)
    assert record.status == "failed"
    [task] = engine.describe(execution).tasks
    assert isinstance(task.result, dict)
    assert "no definition with id or name 'nowhere'" in str(task.result["errors"])


def test_an_inquiry_in_the_child_pauses_the_parent_and_its_answer_resumes_both(
    store: Store,
) -> None:
    front_end = OrquestaFrontEnd(actions=[workflow_action("demo.child", "child")])
    engine = Engine(store, clock=FakeClock(), front_ends={"orquesta": front_end})
    engine.register(CHILD, kind="orquesta", name="child")
    parent = PARENT + "    next:\n      - do: after\n  after:\n    action: core.noop\n"
    execution = engine.start(engine.register(parent, kind="orquesta", name="parent"), {})
    engine.run_until_idle()
    [child] = _children(engine, execution)
    assert (engine.get(execution).status, engine.get(child.execution_id).status) == (
        "paused",
        "paused",
    )
    engine.respond(child.execution_id, "ask", {"continue": True})
    engine.run_until_idle()
    assert engine.get(child.execution_id).status == "succeeded"
    assert engine.get(execution).status == "succeeded"
    assert [t.name for t in engine.describe(execution).tasks] == ["after", "wait"]


NAPPING_CHILD = """
version: 1.0
tasks:
  nap:
    delay: 60
    action: core.noop
    next:
      - do: more
  more:
    action: core.noop
"""


def test_pause_and_resume_cascade_into_a_running_child(store: Store) -> None:
    front_end = OrquestaFrontEnd(actions=[workflow_action("demo.child", "child")])
    engine = Engine(store, clock=FakeClock(), front_ends={"orquesta": front_end})
    engine.register(NAPPING_CHILD, kind="orquesta", name="child")
    execution = engine.start(engine.register(PARENT, kind="orquesta", name="parent"), {})
    engine.run_until_idle()
    [child] = _children(engine, execution)
    assert engine.get(child.execution_id).status == "running"

    engine.pause(execution)
    engine.run_until_idle()
    assert (engine.get(execution).status, engine.get(child.execution_id).status) == (
        "pausing",
        "pausing",
    )
    engine.run_until_idle(skip_time=True)  # the child's delayed task runs, then it pauses
    assert (engine.get(execution).status, engine.get(child.execution_id).status) == (
        "paused",
        "paused",
    )
    relayed = [
        r.event.request for r in engine.history(execution) if r.event.type == "ChildRequestRelayed"
    ]
    assert relayed == ["pause"]

    engine.resume(execution)
    engine.run_until_idle(skip_time=True)
    assert engine.get(child.execution_id).status == "succeeded"
    assert engine.get(execution).status == "succeeded"


def test_a_parent_that_fails_cancels_its_running_child(store: Store) -> None:
    front_end = OrquestaFrontEnd(actions=[workflow_action("demo.child", "child")])
    engine = Engine(store, clock=FakeClock(), front_ends={"orquesta": front_end})
    engine.register(CHILD, kind="orquesta", name="child")
    parent = PARENT + '  boom:\n    action: core.local cmd="exit 3"\n'
    execution = engine.start(engine.register(parent, kind="orquesta", name="parent"), {})
    engine.run_until_idle()
    [child] = _children(engine, execution)
    assert engine.get(execution).status == "failed"
    assert engine.get(child.execution_id).status == "canceled"
