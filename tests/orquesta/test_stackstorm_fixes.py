"""Regressions: places where Cadenza differed from orquesta 1.6.0 / StackStorm."""

from __future__ import annotations

from typing import Any

import pytest

from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
from cadenza.interpreters.protocol import PendingTask, TaskAnswer
from cadenza.model.commands import CompleteExecution, RejectRequest, ScheduleTask
from cadenza.model.errors import InputError
from cadenza.model.events import CancelRequested, ExecutionStarted, RerunRequested, TaskCompleted

ASK_WORKFLOW = """
version: 1.0
tasks:
  ask:
    action: core.ask
    input: <% ctx(question) %>
    next:
      - when: <% succeeded() %>
        publish: answer=<% task(ask).result.response %>
output:
  - answer: <% ctx(answer) %>
input:
  - question
"""


def _ask(question: dict[str, Any]) -> tuple[Any, Any, PendingTask]:
    interpreter = OrquestaFrontEnd().compile(ASK_WORKFLOW)
    state = interpreter.new_state()
    commands = interpreter.decide(state, [ExecutionStarted(input={"question": question})], 0.0)
    [schedule] = [c for c in commands if isinstance(c, ScheduleTask)]
    pending = PendingTask(
        execution_id="e1",
        task_id=schedule.task_id,
        name=schedule.name,
        input=schedule.input,
        attempt=1,
        meta=schedule.meta,
    )
    return interpreter, state, pending


def test_inquiry_required_property_is_enforced() -> None:
    schema = {
        "type": "object",
        "properties": {"approved": {"type": "boolean", "required": True}, "note": {}},
    }
    _, _, pending = _ask({"schema": schema})
    front_end = OrquestaFrontEnd()
    with pytest.raises(InputError) as refused:
        front_end.answer(pending, TaskAnswer({}))
    assert refused.value.code == "input.invalid"
    assert "approved" in refused.value.message
    front_end.answer(pending, TaskAnswer({"approved": False}))


def test_inquiry_default_schema_requires_continue() -> None:
    _, _, pending = _ask({})
    front_end = OrquestaFrontEnd()
    with pytest.raises(InputError):
        front_end.answer(pending, TaskAnswer({}))
    with pytest.raises(InputError):
        front_end.answer(pending, TaskAnswer({"continue": "yes"}))
    front_end.answer(pending, TaskAnswer({"continue": True}))


def test_inquiry_optional_property_with_default_may_be_null() -> None:
    schema = {"type": "object", "properties": {"note": {"type": "string"}}}
    _, _, pending = _ask({"schema": schema})
    OrquestaFrontEnd().answer(pending, TaskAnswer({"note": None}))


def test_answered_inquiry_has_the_stackstorm_result_shape() -> None:
    interpreter, state, pending = _ask({"route": "ops", "users": ["ann"]})
    event = OrquestaFrontEnd().answer(pending, TaskAnswer({"continue": True}))
    assert event.status == "succeeded"
    assert event.result == {
        "schema": {
            "title": "response_data",
            "type": "object",
            "properties": {
                "continue": {
                    "type": "boolean",
                    "description": "Would you like to continue the workflow?",
                    "required": True,
                }
            },
        },
        "roles": [],
        "users": ["ann"],
        "route": "ops",
        "ttl": 1440,
        "response": {"continue": True},
    }
    commands = interpreter.decide(state, [event], 0.0)
    assert commands[-1] == CompleteExecution("succeeded", {"answer": {"continue": True}}, [])


def test_answer_to_a_task_that_is_not_an_inquiry_is_kept_as_given() -> None:
    pending = PendingTask("e1", "t.0.0", "t", {"x": 1}, 1, {"route": 0, "run": 0})
    event = OrquestaFrontEnd().answer(pending, TaskAnswer({"anything": 1}))
    assert event == TaskCompleted(
        task_id="t.0.0", status="succeeded", result={"anything": 1}, attempt=1
    )


def test_rerun_of_a_succeeded_execution_without_tasks_is_refused() -> None:
    interpreter = OrquestaFrontEnd().compile(
        "version: 1.0\ntasks:\n  t1:\n    action: core.noop\noutput:\n  - x: 1\n"
    )
    state = interpreter.new_state()
    [schedule] = [
        c
        for c in interpreter.decide(state, [ExecutionStarted()], 0.0)
        if isinstance(c, ScheduleTask)
    ]
    done = interpreter.decide(state, [TaskCompleted(task_id=schedule.task_id)], 0.0)
    assert done[-1] == CompleteExecution("succeeded", {"x": 1}, [])
    before = interpreter.dump_state(state)
    commands = interpreter.decide(state, [RerunRequested(tasks=[])], 0.0)
    assert len(commands) == 1 and isinstance(commands[0], RejectRequest)
    assert commands[0].error["kind"] == "WorkflowIsNotRerunableError"
    assert "no failed task" in commands[0].error["message"]
    assert interpreter.dump_state(state) == before
    assert interpreter.describe(state).status == "succeeded"
    # Naming a task that ran is a rerun that applies.
    again = interpreter.decide(state, [RerunRequested(tasks=[{"task_id": "t1", "route": 0}])], 0.0)
    assert [c.name for c in again if isinstance(c, ScheduleTask)] == ["t1"]


def test_inline_parameters_replace_the_input_block() -> None:
    interpreter = OrquestaFrontEnd().compile(
        'version: 1.0\ntasks:\n  t1:\n    action: core.echo message="x"\n'
        "    input:\n      other: <% ctx().nothing %>\n"
    )
    assert [use.ref for use in interpreter.actions()] == ["core.echo"]
    state = interpreter.new_state()
    [schedule] = [
        c
        for c in interpreter.decide(state, [ExecutionStarted()], 0.0)
        if isinstance(c, ScheduleTask)
    ]
    assert (schedule.action, schedule.input) == ("core.echo", {"message": "x"})


def test_without_inline_parameters_the_action_text_stays_whole() -> None:
    # A bare word is not a value: no inline parameter, so orquesta keeps the text and
    # the input block (recorded: own-input-inline-and-block).
    interpreter = OrquestaFrontEnd().compile(
        "version: 1.0\ntasks:\n  t1:\n    action: core.echo message=x\n    input:\n      a: 1\n"
    )
    state = interpreter.new_state()
    [schedule] = [
        c
        for c in interpreter.decide(state, [ExecutionStarted()], 0.0)
        if isinstance(c, ScheduleTask)
    ]
    assert (schedule.action, schedule.input) == ("core.echo message=x", {"a": 1})


WITH_ITEMS = """
version: 1.0
vars:
  - xs: [fee, fi, fo, fum]
tasks:
  task1:
    with: <% ctx(xs) %>
    action: core.echo message=<% item() %>
    next:
      - publish:
          - items: <% result() %>
output:
  - items: <% ctx(items) %>
"""


def test_cancel_with_every_item_running_lets_them_finish_and_the_task_succeed() -> None:
    # orquesta's test_cancel_workflow_using_cancel*_status_with_items_active.
    interpreter = OrquestaFrontEnd().compile(WITH_ITEMS)
    state = interpreter.new_state()
    scheduled = [
        c
        for c in interpreter.decide(state, [ExecutionStarted()], 0.0)
        if isinstance(c, ScheduleTask)
    ]
    assert len(scheduled) == 4
    interpreter.decide(state, [CancelRequested()], 0.0)
    assert interpreter.describe(state).status == "canceling"
    assert [t.status for t in interpreter.describe(state).tasks] == ["canceling"]
    final = interpreter.decide(
        state,
        [
            TaskCompleted(task_id=c.task_id, result=c.input["message"])
            for c in scheduled
            if isinstance(c.input, dict)
        ],
        0.0,
    )
    view = interpreter.describe(state)
    assert [t.status for t in view.tasks] == ["succeeded"]
    assert isinstance(final[-1], CompleteExecution) and final[-1].status == "canceled"


def test_cancel_with_items_not_started_cancels_the_task() -> None:
    # orquesta's test_cancel_workflow_using_canceling_status_with_items_concurrency
    # (recorded: own-with-items-cancel): unstarted items are never started.
    interpreter = OrquestaFrontEnd().compile(
        WITH_ITEMS.replace(
            "    with: <% ctx(xs) %>", "    with:\n      items: <% ctx(xs) %>\n      concurrency: 2"
        )
    )
    state = interpreter.new_state()
    first = [
        c
        for c in interpreter.decide(state, [ExecutionStarted()], 0.0)
        if isinstance(c, ScheduleTask)
    ]
    assert [c.meta["item_id"] for c in first] == [0, 1]
    interpreter.decide(state, [CancelRequested()], 0.0)
    final = interpreter.decide(state, [TaskCompleted(task_id=c.task_id) for c in first], 0.0)
    assert not [c for c in final if isinstance(c, ScheduleTask)]
    assert [t.status for t in interpreter.describe(state).tasks] == ["canceled"]
    assert isinstance(final[-1], CompleteExecution) and final[-1].status == "canceled"


@pytest.mark.parametrize(
    ("input_default", "var_value"),
    [("<% abs(4).value %>", "fine"), ("1", "<% abs(4).value %>")],
)
def test_input_or_vars_failure_without_output_is_one_error(
    input_default: str, var_value: str
) -> None:
    # StackStorm's orquesta runner tests test_fail_input_rendering / _vars_rendering
    # (their fixtures have no output): one error, no output, no task run. With an
    # output section the conductor renders it too (recorded:
    # st2-test-fail-input-rendering, st2-test-fail-vars-rendering).
    interpreter = OrquestaFrontEnd().compile(
        f"version: 1.0\ninput:\n  - who: {input_default}\nvars:\n  - msg: {var_value}\n"
        "tasks:\n  task1:\n    action: core.echo message=<% ctx().msg %>\n"
    )
    commands = interpreter.decide(interpreter.new_state(), [ExecutionStarted()], 0.0)
    assert len(commands) == 1 and isinstance(commands[0], CompleteExecution)
    assert commands[0].status == "failed" and commands[0].output is None
    assert [e["message"] for e in commands[0].errors] == [
        "YaqlEvaluationException: Unable to evaluate expression '<% abs(4).value %>'. "
        'NoFunctionRegisteredException: Unknown function "#property#value"'
    ]


TWO_ASKS = """
version: 1.0
tasks:
  ask1:
    action: core.ask
  ask2:
    action: core.ask
"""


def test_answering_one_of_two_pending_inquiries_pauses_again() -> None:
    # StackStorm: a resume that finds another inquiry still pending goes back to
    # "paused" (resuming + task:succeeded/dormant/paused); answering the last completes it.
    from cadenza.model.events import ResumeRequested, TaskSuspended

    interpreter = OrquestaFrontEnd().compile(TWO_ASKS)
    state = interpreter.new_state()
    asks = [
        c
        for c in interpreter.decide(state, [ExecutionStarted()], 0.0)
        if isinstance(c, ScheduleTask)
    ]
    assert [c.name for c in asks] == ["ask1", "ask2"]
    interpreter.decide(
        state, [TaskSuspended(task_id=c.task_id, status="pending") for c in asks], 0.0
    )
    assert interpreter.describe(state).status == "paused"
    answered = [TaskCompleted(task_id=asks[0].task_id, result={"continue": True})]
    interpreter.decide(state, [*answered, ResumeRequested()], 0.0)
    assert interpreter.describe(state).status == "paused"
    last = [TaskCompleted(task_id=asks[1].task_id, result={"continue": True})]
    final = interpreter.decide(state, [*last, ResumeRequested()], 0.0)
    assert final[-1] == CompleteExecution("succeeded", None, [])


DELAYED = """
version: 1.0
tasks:
  t1:
    delay: 30
    action: core.echo message="late"
    next:
      - do: t2
  t2:
    action: core.noop
output:
  - done: <% task_status(t1) %>
"""


def test_cancel_during_a_delay_cancels_the_delayed_task_at_once() -> None:
    # StackStorm's delay-cancellation test: the delayed action never runs, the task
    # is canceled and the workflow is canceled right away.
    from cadenza.model.commands import CancelTask

    interpreter = OrquestaFrontEnd().compile(DELAYED)
    state = interpreter.new_state()
    [delayed] = [
        c
        for c in interpreter.decide(state, [ExecutionStarted()], 100.0)
        if isinstance(c, ScheduleTask)
    ]
    assert delayed.delay == 30
    commands = interpreter.decide(state, [CancelRequested()], 110.0)
    assert CancelTask(delayed.task_id) in commands
    assert not [c for c in commands if isinstance(c, ScheduleTask)]
    assert commands[-1] == CompleteExecution("canceled", {"done": "canceled"}, [])
    assert [(t.name, t.status) for t in interpreter.describe(state).tasks] == [("t1", "canceled")]
    # A late report of the withdrawn task changes nothing.
    assert interpreter.decide(state, [TaskCompleted(task_id=delayed.task_id)], 140.0) == []


def test_cancel_after_the_delay_lets_the_running_action_finish() -> None:
    interpreter = OrquestaFrontEnd().compile(DELAYED)
    state = interpreter.new_state()
    [delayed] = [
        c
        for c in interpreter.decide(state, [ExecutionStarted()], 100.0)
        if isinstance(c, ScheduleTask)
    ]
    from cadenza.model.commands import CancelTask

    commands = interpreter.decide(state, [CancelRequested()], 131.0)
    assert interpreter.describe(state).status == "canceling"
    assert not [c for c in commands if isinstance(c, CancelTask)]
    final = interpreter.decide(state, [TaskCompleted(task_id=delayed.task_id)], 132.0)
    assert isinstance(final[-1], CompleteExecution) and final[-1].status == "canceled"


ONE_TASK = """
version: 1.0
tasks:
  t1:
    action: core.local cmd="false"
"""

HANDLED = (
    ONE_TASK
    + """    next:
      - when: <% failed() %>
        do: t2
  t2:
    action: core.noop
"""
)


def _run_one(workflow: str, outcome: TaskCompleted) -> CompleteExecution:
    interpreter = OrquestaFrontEnd().compile(workflow)
    state = interpreter.new_state()
    [schedule] = [
        c
        for c in interpreter.decide(state, [ExecutionStarted()], 0.0)
        if isinstance(c, ScheduleTask)
    ]
    event = TaskCompleted(
        task_id=schedule.task_id, status=outcome.status, result=outcome.result, error=outcome.error
    )
    commands = interpreter.decide(state, [event], 1.0)
    for command in commands:
        if isinstance(command, ScheduleTask):
            commands = interpreter.decide(state, [TaskCompleted(task_id=command.task_id)], 2.0)
    assert isinstance(commands[-1], CompleteExecution)
    return commands[-1]


def test_a_failed_action_error_carries_its_own_message() -> None:
    # StackStorm keeps the action's error in the workflow error's result; the entry's
    # message says what went wrong instead of only pointing at history.
    error = {"type": "input.invalid", "message": "core.http: invalid url 'file:///etc/passwd'"}
    done = _run_one(ONE_TASK, TaskCompleted(status="failed", error=error))
    assert done.status == "failed"
    assert done.errors == [
        {
            "type": "error",
            "message": "core.http: invalid url 'file:///etc/passwd'",
            "task_id": "t1",
            "result": {"error": error},
        }
    ]


def test_a_failed_command_error_shows_its_stderr() -> None:
    error = {"type": "command.failed", "message": "core.local: the command exited with code 3"}
    result = {"stdout": "", "stderr": "no such file\n", "return_code": 3}
    done = _run_one(ONE_TASK, TaskCompleted(status="failed", result=result, error=error))
    assert [(e["message"], e["result"]) for e in done.errors] == [
        ("core.local: the command exited with code 3: no such file", result)
    ]


def test_a_failure_without_an_error_keeps_orquesta_s_message() -> None:
    done = _run_one(ONE_TASK, TaskCompleted(status="failed", result={"x": 1}))
    assert done.errors == [
        {
            "type": "error",
            "message": "Execution failed. See result for details.",
            "task_id": "t1",
            "result": {"x": 1},
        }
    ]


def test_a_timed_out_task_that_fails_the_workflow_has_an_error() -> None:
    error = {"type": "task.timeout", "message": "the attempt ran longer than its timeout of 5 s"}
    done = _run_one(ONE_TASK, TaskCompleted(status="timeout", error=error))
    assert done.status == "failed"
    assert done.errors == [
        {
            "type": "error",
            "message": "the attempt ran longer than its timeout of 5 s",
            "task_id": "t1",
            "result": {"error": error},
        }
    ]


def test_a_handled_timeout_adds_no_error() -> None:
    # recorded: own-action-timeout (orquesta logs nothing for a timed-out action).
    error = {"type": "task.timeout", "message": "the attempt ran longer than its timeout of 5 s"}
    done = _run_one(HANDLED, TaskCompleted(status="timeout", error=error))
    assert (done.status, done.errors) == ("succeeded", [])


def test_a_task_failed_by_an_answer_keeps_orquesta_s_message() -> None:
    # The answer is the result: the entry points at it, as orquesta's does.
    interpreter, state, pending = _ask({})
    event = OrquestaFrontEnd().answer(pending, TaskAnswer({"why": "no"}, failed=True))
    [done] = [
        c for c in interpreter.decide(state, [event], 0.0) if isinstance(c, CompleteExecution)
    ]
    assert done.status == "failed"
    assert [(e["message"], e["result"]) for e in done.errors if e.get("task_id") == "ask"] == [
        ("Execution failed. See result for details.", {"why": "no"})
    ]
