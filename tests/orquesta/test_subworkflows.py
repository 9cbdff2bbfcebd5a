"""Subworkflows at the interpreter: a workflow action runs as a child execution.

The engine's side (creating the child, delivering its end) is exercised end to end in
``test_subworkflows_engine``; here the interpreter is fed the events by hand.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cadenza.interpreters.orquesta.actions import ActionParameter, ActionSpec, workflow_action
from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
from cadenza.interpreters.orquesta.interpreter import OrquestaInterpreter
from cadenza.model.commands import (
    CancelTask,
    Command,
    CompleteExecution,
    ScheduleTask,
    StartChild,
    StartTimer,
)
from cadenza.model.events import (
    CancelRequested,
    Event,
    ExecutionStarted,
    TaskCompleted,
    TaskResumed,
    TaskSuspended,
    TimerFired,
)

CHILD_SPEC = ActionSpec(
    ref="demo.deploy",
    runner_type="orquesta",
    workflow="demo.deploy",
    parameters=(
        ActionParameter("service", type="string", required=True),
        ActionParameter("replicas", type="integer", has_default=True, default=2),
    ),
)

PARENT = """
version: 1.0
input:
  - service
tasks:
  deploy:
    action: demo.deploy
    input:
      service: <% ctx(service) %>
    next:
      - when: <% succeeded() %>
        publish:
          - url: <% result().output.url %>
          - whole: <% result() %>
        do: announce
  announce:
    action: core.echo message="<% ctx(url) %>"
output:
  - url: <% ctx(url) %>
  - whole: <% ctx(whole) %>
"""


def _compile(source: str, *specs: ActionSpec) -> OrquestaInterpreter:
    return OrquestaFrontEnd(actions=specs or (CHILD_SPEC,)).compile(source)


class Run:
    """One execution of an interpreter, fed by hand."""

    def __init__(self, interpreter: OrquestaInterpreter) -> None:
        self.interpreter = interpreter
        self.state = interpreter.new_state()
        self.now = 0.0
        self.log: list[tuple[list[Event], list[Command]]] = []

    def feed(self, *events: Event) -> list[Command]:
        commands = self.interpreter.decide(self.state, list(events), self.now)
        self.log.append((list(events), commands))
        return commands

    def replay_matches(self) -> bool:
        """Whether the same events give the same commands on a fresh state."""
        state = self.interpreter.new_state()
        again = [self.interpreter.decide(state, events, 0.0) for events, _ in self.log]
        return again == [commands for _, commands in self.log]


def _only(commands: Sequence[Command], kind: type[Any]) -> list[Any]:
    return [c for c in commands if isinstance(c, kind)]


def test_a_workflow_action_starts_a_child_with_its_defaults_and_no_worker_task() -> None:
    interpreter = _compile(PARENT)
    assert [use.ref for use in interpreter.actions()] == ["core.echo"]
    run = Run(interpreter)
    commands = run.feed(ExecutionStarted(input={"service": "api"}))
    assert _only(commands, ScheduleTask) == []
    [child] = _only(commands, StartChild)
    assert child.name == "deploy"
    assert child.definition == "demo.deploy"
    assert child.input == {"service": "api", "replicas": 2}
    assert child.task_id == "deploy.0.0"


def test_the_child_output_is_the_task_result_under_output() -> None:
    run = Run(_compile(PARENT))
    [child] = _only(run.feed(ExecutionStarted(input={"service": "api"})), StartChild)
    commands = run.feed(
        TaskCompleted(child.task_id, "succeeded", result={"url": "http://api", "n": 1})
    )
    [echo] = _only(commands, ScheduleTask)
    assert echo.input == {"message": "http://api"}
    [done] = _only(run.feed(TaskCompleted(echo.task_id, "succeeded")), CompleteExecution)
    assert done.status == "succeeded"
    assert done.output == {
        "url": "http://api",
        "whole": {"output": {"url": "http://api", "n": 1}},
    }
    assert run.replay_matches()


def test_a_failed_child_fails_the_task_with_its_errors_in_the_result() -> None:
    source = """
version: 1.0
tasks:
  deploy:
    action: demo.deploy service="web"
    next:
      - when: <% failed() %>
        publish: seen=<% result() %>
        do: report
  report:
    action: core.noop
output:
  - seen: <% ctx(seen) %>
"""
    run = Run(_compile(source))
    [child] = _only(run.feed(ExecutionStarted(input={})), StartChild)
    error = {
        "type": "ChildExecutionFailed",
        "message": "boom",
        "errors": [{"type": "error", "message": "boom"}],
    }
    commands = run.feed(
        TaskCompleted(child.task_id, "failed", result={"partial": True}, error=error)
    )
    [report] = _only(commands, ScheduleTask)
    [done] = _only(run.feed(TaskCompleted(report.task_id, "succeeded")), CompleteExecution)
    assert done.status == "succeeded"  # the failure was handled by the transition
    assert done.output == {
        "seen": {"output": {"partial": True}, "errors": [{"type": "error", "message": "boom"}]}
    }


def test_an_unhandled_child_failure_fails_the_parent() -> None:
    run = Run(_compile('version: 1.0\ntasks:\n  deploy:\n    action: demo.deploy service="x"\n'))
    [child] = _only(run.feed(ExecutionStarted(input={})), StartChild)
    error = {"type": "DefinitionNotFound", "message": "no definition 'demo.deploy'"}
    [done] = _only(run.feed(TaskCompleted(child.task_id, "failed", error=error)), CompleteExecution)
    assert done.status == "failed"
    assert run.interpreter.describe(run.state).tasks[0].result == {
        "output": None,
        "errors": [error],
    }


def test_cancel_cascades_to_running_children_and_waits_for_them() -> None:
    source = """
version: 1.0
tasks:
  a:
    action: demo.deploy service="a"
  b:
    action: demo.deploy service="b"
  c:
    action: core.noop
"""
    run = Run(_compile(source))
    commands = run.feed(ExecutionStarted(input={}))
    children = _only(commands, StartChild)
    [noop] = _only(commands, ScheduleTask)
    assert [c.name for c in children] == ["a", "b"]
    commands = run.feed(CancelRequested())
    assert _only(commands, CancelTask) == [CancelTask("a.0.0"), CancelTask("b.0.0")]
    assert run.interpreter.describe(run.state).status == "canceling"
    run.feed(TaskCompleted("a.0.0", "canceled", result={"half": 1}))
    run.feed(TaskCompleted(noop.task_id, "succeeded"))
    assert run.interpreter.describe(run.state).status == "canceling"
    [done] = _only(run.feed(TaskCompleted("b.0.0", "canceled")), CompleteExecution)
    assert done.status == "canceled"
    statuses = {t.name: t.status for t in run.interpreter.describe(run.state).tasks}
    assert statuses == {"a": "canceled", "b": "canceled", "c": "succeeded"}
    assert run.replay_matches()


DELAYED = """
version: 1.0
tasks:
  later:
    delay: 30
    action: demo.deploy service="x"
"""


def test_a_delayed_child_starts_when_its_timer_fires() -> None:
    source = DELAYED
    run = Run(_compile(source))
    commands = run.feed(ExecutionStarted(input={}))
    assert _only(commands, StartChild) == []
    assert _only(commands, StartTimer) == [StartTimer("start:later.0.0", 30.0)]
    run.now = 30.0
    [child] = _only(run.feed(TimerFired(timer_id="start:later.0.0")), StartChild)
    assert child.input == {"service": "x", "replicas": 2}
    [done] = _only(run.feed(TaskCompleted(child.task_id, "succeeded", result=1)), CompleteExecution)
    assert done.status == "succeeded"


def test_cancel_during_a_childs_delay_never_starts_it() -> None:
    source = DELAYED
    run = Run(_compile(source))
    run.feed(ExecutionStarted(input={}))
    run.now = 5.0
    commands = run.feed(CancelRequested())
    assert _only(commands, CancelTask) == [CancelTask("later.0.0")]
    [done] = _only(commands, CompleteExecution)
    assert done.status == "canceled"
    run.now = 30.0
    assert _only(run.feed(TimerFired(timer_id="start:later.0.0")), StartChild) == []


def test_with_items_starts_one_child_per_item_within_the_concurrency() -> None:
    source = """
version: 1.0
input:
  - services
tasks:
  each:
    with:
      items: s in <% ctx(services) %>
      concurrency: 2
    action: demo.deploy service=<% item(s) %>
    next:
      - publish: outputs=<% result() %>
output:
  - outputs: <% ctx(outputs) %>
"""
    run = Run(_compile(source))
    first = _only(run.feed(ExecutionStarted(input={"services": ["a", "b", "c"]})), StartChild)
    assert [(c.task_id, c.input["service"]) for c in first] == [
        ("each.0.0.0", "a"),
        ("each.0.0.1", "b"),
    ]
    [third] = _only(run.feed(TaskCompleted("each.0.0.1", "succeeded", result="B")), StartChild)
    assert (third.task_id, third.input) == ("each.0.0.2", {"service": "c", "replicas": 2})
    run.feed(TaskCompleted("each.0.0.0", "succeeded", result="A"))
    last = run.feed(TaskCompleted("each.0.0.2", "succeeded", result="C"))
    [done] = _only(last, CompleteExecution)
    assert done.output == {"outputs": [{"output": "A"}, {"output": "B"}, {"output": "C"}]}
    assert run.replay_matches()


def test_any_registered_definition_can_be_made_callable_by_name() -> None:
    spec = workflow_action("billing.refund", "refund-state-machine")
    source = "version: 1.0\ntasks:\n  t:\n    action: billing.refund\n    input:\n      any: 1\n"
    run = Run(_compile(source, spec))
    [child] = _only(run.feed(ExecutionStarted(input={})), StartChild)
    assert (child.definition, child.input) == ("refund-state-machine", {"any": 1})


def test_snapshots_keep_a_pending_delayed_child() -> None:
    source = DELAYED
    interpreter = _compile(source)
    state = interpreter.new_state()
    interpreter.decide(state, [ExecutionStarted(input={})], 0.0)
    restored = interpreter.load_state(json.loads(json.dumps(interpreter.dump_state(state))))
    commands = interpreter.decide(restored, [TimerFired(timer_id="start:later.0.0")], 30.0)
    assert [c.name for c in _only(commands, StartChild)] == ["later"]


def test_a_retried_workflow_task_starts_a_new_child_per_attempt() -> None:
    source = """
version: 1.0
tasks:
  deploy:
    action: demo.deploy service="x"
    retry:
      count: 1
"""
    run = Run(_compile(source))
    [first] = _only(run.feed(ExecutionStarted(input={})), StartChild)
    error = {"type": "ChildExecutionFailed", "message": "boom", "errors": []}
    [second] = _only(run.feed(TaskCompleted(first.task_id, "failed", error=error)), StartChild)
    assert (first.task_id, second.task_id) == ("deploy.0.0", "deploy.0.1")
    [done] = _only(
        run.feed(TaskCompleted(second.task_id, "succeeded", result=7)), CompleteExecution
    )
    assert done.status == "succeeded"
    assert run.interpreter.describe(run.state).tasks[0].result == {"output": 7}


def test_a_child_reported_paused_pauses_the_parent_until_it_runs_again() -> None:
    # What the engine is to deliver when a child pauses (an inquiry, a pause request)
    # and resumes: the interpreter already folds it as StackStorm does.
    run = Run(_compile('version: 1.0\ntasks:\n  deploy:\n    action: demo.deploy service="x"\n'))
    [child] = _only(run.feed(ExecutionStarted(input={})), StartChild)
    run.feed(TaskSuspended(child.task_id, status="paused"))
    assert run.interpreter.describe(run.state).status == "paused"
    run.feed(TaskResumed(child.task_id))
    assert run.interpreter.describe(run.state).status == "running"
    [done] = _only(run.feed(TaskCompleted(child.task_id, "succeeded", result=1)), CompleteExecution)
    assert done.status == "succeeded"
