"""Rerunning a parent whose failed task is a subworkflow reruns that child.

As in StackStorm, ``rerun`` of a workflow that failed in a subworkflow reruns the
failed child execution from its own failed task (what succeeded in it is not run
again), and the parent's task waits for that same child; no new child starts. A
child that cannot be rerun refuses, and the parent's task fails again (the parent
does not wait for it forever). Through the engine, on every store backend.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cadenza.cli.main import main
from cadenza.engine.engine import Engine
from cadenza.interpreters.orquesta.actions import workflow_action
from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
from cadenza.interpreters.protocol import RerunRequest
from cadenza.model.errors import ActivityError
from cadenza.model.events import ChildRequestRelayed, ChildStarted, RequestRejected
from cadenza.store.protocol import Store
from cadenza.testing.clock import FakeClock
from cadenza.workers.registry import default_registry

CHILD = """
version: 1.0
input:
  - who
tasks:
  prepare:
    action: test.count
    input:
      step: prepare
    next:
      - when: <% succeeded() %>
        do: flaky
  flaky:
    action: test.flaky
    next:
      - when: <% succeeded() %>
        publish: said=<% result() %>
output:
  - said: <% ctx().said %>
  - who: <% ctx().who %>
"""

BROKEN_CHILD = """
version: 1.0
input:
  - who
vars:
  - broken: <% ctx().who.deeper %>
tasks:
  never:
    action: core.noop
"""

PARENT = """
version: 1.0
tasks:
  sub:
    action: demo.child
    input:
      who: parent
    next:
      - when: <% succeeded() %>
        publish: got=<% result().output %>
        do: after
  after:
    action: test.count
    input:
      step: after
output:
  - got: <% ctx().got %>
"""


def _engine(store: Store, child_source: str) -> tuple[Engine, list[str], list[int]]:
    steps: list[str] = []
    flaky_calls: list[int] = []

    def count(step: str) -> str:
        steps.append(step)
        return step

    def flaky() -> str:
        flaky_calls.append(1)
        if len(flaky_calls) == 1:
            raise ActivityError("the first try fails", type="Flaky", non_retryable=True)
        return "second time lucky"

    registry = default_registry()
    registry.register("test.count", count)
    registry.register("test.flaky", flaky)
    front_end = OrquestaFrontEnd(actions=[workflow_action("demo.child", "child")])
    engine = Engine(store, registry=registry, clock=FakeClock(), front_ends={"orquesta": front_end})
    engine.register(child_source, kind="orquesta", name="child")
    return engine, steps, flaky_calls


def _children(engine: Engine, execution_id: str) -> list[ChildStarted]:
    return [r.event for r in engine.history(execution_id) if isinstance(r.event, ChildStarted)]


def test_rerun_of_the_parent_reruns_the_failed_child_from_its_failed_task(store: Store) -> None:
    engine, steps, flaky_calls = _engine(store, CHILD)
    parent = engine.start(engine.register(PARENT, kind="orquesta", name="parent"), {})
    engine.run_until_idle()
    assert engine.get(parent).status == "failed"
    [child] = _children(engine, parent)
    assert engine.get(child.execution_id).status == "failed"
    assert steps == ["prepare"]

    engine.rerun(parent)
    engine.run_until_idle()

    record = engine.get(parent)
    assert record.status == "succeeded", record.errors
    assert record.output == {"got": {"said": "second time lucky", "who": "parent"}}
    # The same child, rerun from its failed task: ``prepare`` did not run again.
    assert _children(engine, parent) == [child]
    assert engine.get(child.execution_id).status == "succeeded"
    assert steps == ["prepare", "after"]
    assert len(flaky_calls) == 2
    relayed = [r.event for r in engine.history(parent) if isinstance(r.event, ChildRequestRelayed)]
    assert relayed == [ChildRequestRelayed(task_id=child.task_id, request="rerun")]
    tasks = {t.name: t.status for t in engine.describe(parent).tasks}
    assert tasks == {"sub": "succeeded", "after": "succeeded"}


def test_a_child_that_refuses_the_rerun_fails_the_task_again(store: Store) -> None:
    engine, _steps, _calls = _engine(store, BROKEN_CHILD)
    parent = engine.start(engine.register(PARENT, kind="orquesta", name="parent"), {})
    engine.run_until_idle()
    assert engine.get(parent).status == "failed"
    [child] = _children(engine, parent)

    engine.rerun(parent)
    engine.run_until_idle()

    record = engine.get(parent)
    assert record.status == "failed"
    assert _children(engine, parent) == [child]
    refused = [
        r.event for r in engine.history(child.execution_id) if isinstance(r.event, RequestRejected)
    ]
    assert [e.request for e in refused] == ["rerun"]
    assert engine.get(child.execution_id).status == "failed"
    text = " ".join(str(e) for e in record.errors)
    assert f"the child execution {child.execution_id} was not rerun" in text


def test_a_rerun_of_a_succeeded_child_task_starts_a_new_child(store: Store) -> None:
    """Only a child that did not succeed is rerun in place; a task named for a rerun
    whose child succeeded runs its workflow again, as a new child."""
    engine, _steps, flaky_calls = _engine(store, CHILD)
    flaky_calls.append(0)  # the first try already spent: this child succeeds
    parent = engine.start(engine.register(PARENT, kind="orquesta", name="parent"), {})
    engine.run_until_idle()
    assert engine.get(parent).status == "succeeded"
    engine.rerun(parent, RerunRequest(steps=("sub",)))
    engine.run_until_idle()
    assert engine.get(parent).status == "succeeded"
    children: list[Any] = _children(engine, parent)
    assert len(children) == 2
    assert children[0].execution_id != children[1].execution_id


def test_cadenza_rerun_of_the_parent_drives_the_rerun_child_to_the_end(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = tmp_path / "tried"
    root = tmp_path / "flaky"
    (root / "actions" / "workflows").mkdir(parents=True)
    (root / "pack.yaml").write_text("ref: flaky\n")
    (root / "actions" / "step.yaml").write_text(
        "name: step\n"
        "runner_type: local-shell-cmd\n"
        "parameters:\n"
        "  cmd:\n"
        f"    default: \"test -f '{flag}' || {{ touch '{flag}'; exit 1; }}\"\n"
        "    immutable: true\n"
    )
    (root / "actions" / "child.yaml").write_text(
        "name: child\nrunner_type: orquesta\nentry_point: workflows/child.yaml\n"
    )
    (root / "actions" / "workflows" / "child.yaml").write_text(
        "version: 1.0\ntasks:\n  step:\n    action: flaky.step\n"
    )
    flow = tmp_path / "parent.yaml"
    flow.write_text("version: 1.0\ntasks:\n  sub:\n    action: flaky.child\n")
    common = ["--store", store_url, "--pack", str(root)]
    assert main(["run", *common, "--json", "--quiet", str(flow)]) == 1
    parent = json.loads(capsys.readouterr().out)["execution_id"]

    assert main(["rerun", *common, "--json", parent]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "succeeded"
    assert main(["status", "--store", store_url, "--json", parent]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["status"] == "succeeded"
