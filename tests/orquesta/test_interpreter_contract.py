"""The interpreter's engine contract: determinism, snapshots, ids, no exceptions."""

from __future__ import annotations

import json
from typing import Any

from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
from cadenza.model.commands import CompleteExecution, RejectRequest, ScheduleTask, SetStatus
from cadenza.model.events import ExecutionStarted, PauseRequested, TaskCompleted

WORKFLOW = """
version: 1.0
input:
  - xs
tasks:
  fan:
    with: <% ctx(xs) %>
    action: core.echo message=<% item() %>
    next:
      - publish: n=<% len(result()) %>
        do: done
  done:
    next:
      - publish: total=<% ctx(n) * 10 %>
output:
  - total: <% ctx(total) %>
"""


def _run(snapshot_each_step: bool) -> list[str]:
    interpreter = OrquestaFrontEnd().compile(WORKFLOW)
    state: Any = interpreter.new_state()
    log: list[str] = []
    pending = [ExecutionStarted(input={"xs": ["a", "b"]}, seed=7)]
    while pending:
        commands = interpreter.decide(state, pending, 0.0)
        log.append(repr(commands))
        if snapshot_each_step:
            state = interpreter.load_state(json.loads(json.dumps(interpreter.dump_state(state))))
        pending = [
            TaskCompleted(task_id=c.task_id, result=c.input)
            for c in commands
            if isinstance(c, ScheduleTask)
        ]
    return log


def test_same_events_same_commands_with_or_without_snapshots() -> None:
    assert _run(False) == _run(True) == _run(False)


def test_run_to_completion() -> None:
    interpreter = OrquestaFrontEnd().compile(WORKFLOW)
    state = interpreter.new_state()
    commands = interpreter.decide(state, [ExecutionStarted(input={"xs": ["a", "b"]})], 0.0)
    assert isinstance(commands[0], ScheduleTask)
    assert [c.task_id for c in commands if isinstance(c, ScheduleTask)] == [
        "fan.0.0.0",
        "fan.0.0.1",
    ]
    assert SetStatus("running") in commands
    more = interpreter.decide(
        state, [TaskCompleted(task_id="fan.0.0.0"), TaskCompleted(task_id="fan.0.0.1")], 0.0
    )
    [done] = [c for c in more if isinstance(c, ScheduleTask)]
    assert (done.name, done.action) == ("done", None)
    final = interpreter.decide(state, [TaskCompleted(task_id=done.task_id)], 0.0)
    assert final[-1] == CompleteExecution("succeeded", {"total": 20}, [])
    rejected = interpreter.decide(state, [PauseRequested()], 0.0)
    assert isinstance(rejected[0], RejectRequest)
    view = interpreter.describe(state)
    assert [(t.name, t.status) for t in view.tasks] == [("done", "succeeded"), ("fan", "succeeded")]


def test_bad_expression_fails_the_workflow_instead_of_raising() -> None:
    interpreter = OrquestaFrontEnd().compile(
        "version: 1.0\ntasks:\n  t1:\n    action: core.echo message=<% 1 / 0 %>\n"
    )
    state = interpreter.new_state()
    [complete] = [
        c
        for c in interpreter.decide(state, [ExecutionStarted()], 0.0)
        if isinstance(c, CompleteExecution)
    ]
    assert complete.status == "failed"
    assert complete.errors[0]["task_id"] == "t1"


def test_scheduled_action_is_the_one_actions_reports() -> None:
    # One parse of inline parameters serves both: inline parameters replace an input
    # block (as in orquesta), so the engine's up-front action check and the schedule agree.
    for text, expected_input in (
        ("tasks:\n  t1:\n    action: core.echo message='x'\n", {"message": "x"}),
        (
            "tasks:\n  t1:\n    action: core.echo message='x'\n    input:\n      other: 1\n",
            {"message": "x"},
        ),
    ):
        interpreter = OrquestaFrontEnd().compile(text)
        commands = interpreter.decide(interpreter.new_state(), [ExecutionStarted(seed=1)], 0.0)
        (scheduled,) = [c for c in commands if isinstance(c, ScheduleTask)]
        assert [use.ref for use in interpreter.actions()] == [scheduled.action]
        assert scheduled.input == expected_input
