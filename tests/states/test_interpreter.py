"""The States interpreter as the engine sees it: commands, replay, tokens, redrive, scale."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from cadenza.interpreters.states.frontend import StatesFrontEnd
from cadenza.interpreters.states.history import sfn_history
from cadenza.interpreters.states.interpreter import StatesInterpreter
from cadenza.model.commands import (
    Command,
    CompleteExecution,
    RecordMarker,
    ScheduleTask,
    StartTimer,
)
from cadenza.model.errors import DefinitionError
from cadenza.model.events import (
    CancelRequested,
    Event,
    ExecutionStarted,
    MarkerRecorded,
    RerunRequested,
    TaskCompleted,
    TimerFired,
)
from cadenza.model.tokens import callback_token, decode_token

FN = "arn:aws:lambda:us-east-1:111111111111:function:work"
ACTIVITY = "arn:aws:states:us-east-1:111111111111:activity:review"


def compile_machine(definition: dict[str, Any]) -> StatesInterpreter:
    return StatesFrontEnd().compile(json.dumps(definition))


def start(meta: dict[str, Any] | None = None, payload: Any = None) -> ExecutionStarted:
    return ExecutionStarted(
        input=payload if payload is not None else {"n": 1},
        seed=7,
        meta=meta or {"execution_id": "exec-1", "definition_name": "m", "start_time": 100.0},
    )


def history(commands: list[Command]) -> list[dict[str, Any]]:
    markers = [
        MarkerRecorded(kind=c.kind, details=c.details)
        for c in commands
        if isinstance(c, RecordMarker)
    ]
    return sfn_history(markers)


def types(commands: list[Command]) -> list[str]:
    return [e["type"] for e in history(commands)]


TASK_MACHINE = {
    "StartAt": "Work",
    "States": {
        "Work": {
            "Type": "Task",
            "Resource": FN,
            "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "MaxAttempts": 1}],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def test_task_retry_and_success_commands() -> None:
    interp = compile_machine(TASK_MACHINE)
    state = interp.new_state()
    first = interp.decide(state, [start()], 100.0)
    task = next(c for c in first if isinstance(c, ScheduleTask))
    assert (task.name, task.action, task.input, task.queue) == ("Work", FN, {"n": 1}, "default")
    assert types(first) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
    ]
    failed = TaskCompleted(
        task_id=task.task_id, status="failed", error={"type": "Boom", "message": "x"}
    )
    second = interp.decide(state, [failed], 101.0)
    timer = next(c for c in second if isinstance(c, StartTimer))
    assert timer.delay == 2.0
    third = interp.decide(state, [TimerFired(timer_id=timer.timer_id)], 103.0)
    retry = next(c for c in third if isinstance(c, ScheduleTask))
    assert retry.task_id != task.task_id
    done = interp.decide(state, [TaskCompleted(task_id=retry.task_id, result={"ok": True})], 104.0)
    final = [c for c in done if isinstance(c, CompleteExecution)]
    assert final == [CompleteExecution("succeeded", {"ok": True}, [])]
    assert interp.describe(state).status == "succeeded"
    assert interp.actions()[0].ref == FN


def test_replay_gives_the_same_commands() -> None:
    """Same events in, same commands out, also across dump/load of the state."""
    interp = compile_machine(TASK_MACHINE)
    state = interp.new_state()
    batches: list[list[Event]] = [[start()]]
    outputs = [interp.decide(state, batches[0], 100.0)]
    task = next(c for c in outputs[0] if isinstance(c, ScheduleTask))
    batches.append([TaskCompleted(task_id=task.task_id, result=5)])
    outputs.append(interp.decide(state, batches[1], 101.0))
    replayed = interp.load_state(interp.dump_state(interp.new_state()))
    again = [
        interp.decide(replayed, batch, t) for batch, t in zip(batches, (100.0, 101.0), strict=True)
    ]
    assert again == outputs


def sfn_history_of(commands: list[Command]) -> list[dict[str, Any]]:
    return [c.details for c in commands if isinstance(c, RecordMarker) and c.kind == "sfn"]


def test_wait_for_task_token_and_context() -> None:
    machine = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    interp = compile_machine(machine)
    state = interp.new_state()
    commands = interp.decide(state, [start()], 100.0)
    call = next(c for c in commands if isinstance(c, ScheduleTask))
    token = call.input["token"]
    waiting_for = decode_token(token).task_id
    assert token == callback_token("exec-1", waiting_for) == call.meta["token"]
    assert call.task_id != waiting_for  # the service call is a task of its own
    # The call's own result does not end the state: it waits for the token.
    submitted = interp.decide(state, [TaskCompleted(task_id=call.task_id, result="sent")], 100.5)
    assert not [c for c in submitted if isinstance(c, CompleteExecution)]
    types = [e["type"] for e in sfn_history_of(submitted)]
    assert types == ["TaskSubmitted"]
    done = interp.decide(state, [TaskCompleted(task_id=waiting_for, result={"a": 1})], 101.0)
    assert [c.status for c in done if isinstance(c, CompleteExecution)] == ["succeeded"]


def test_activity_queue_and_heartbeat_timeout() -> None:
    machine = {
        "StartAt": "A",
        "States": {"A": {"Type": "Task", "Resource": ACTIVITY, "HeartbeatSeconds": 5, "End": True}},
    }
    interp = compile_machine(machine)
    state = interp.new_state()
    task = next(c for c in interp.decide(state, [start()], 0.0) if isinstance(c, ScheduleTask))
    assert (task.queue, task.external, task.heartbeat_timeout) == (ACTIVITY, True, 5.0)
    timeout = TaskCompleted(
        task_id=task.task_id, status="timeout", error={"type": "task.heartbeat_timeout"}
    )
    out = interp.decide(state, [timeout], 10.0)
    assert "ActivityTimedOut" in types(out)
    final = next(c for c in out if isinstance(c, CompleteExecution))
    assert final.errors[0]["error"] == "States.HeartbeatTimeout"


def test_cancel_aborts() -> None:
    interp = compile_machine(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    )
    state = interp.new_state()
    interp.decide(state, [start()], 0.0)
    out = interp.decide(state, [CancelRequested()], 1.0)
    assert types(out) == ["ExecutionAborted"]
    assert [c.status for c in out if isinstance(c, CompleteExecution)] == ["canceled"]


def test_redrive_keeps_finished_iterations() -> None:
    machine = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "T",
                    "States": {"T": {"Type": "Task", "Resource": FN, "End": True}},
                },
                "End": True,
            }
        },
    }
    interp = compile_machine(machine)
    state = interp.new_state()
    tasks = [
        c
        for c in interp.decide(state, [start(payload={"items": [1, 2, 3]})], 0.0)
        if isinstance(c, ScheduleTask)
    ]
    assert [t.input for t in tasks] == [1, 2, 3]
    events: list[Event] = [
        TaskCompleted(task_id=tasks[0].task_id, result="one"),
        TaskCompleted(
            task_id=tasks[1].task_id, status="failed", error={"type": "Boom", "message": "no"}
        ),
    ]
    out = interp.decide(state, events, 1.0)
    assert [c.status for c in out if isinstance(c, CompleteExecution)] == ["failed"]
    redriven = interp.decide(state, [RerunRequested()], 2.0)
    assert types(redriven)[0] == "ExecutionRedriven"
    rerun = [c for c in redriven if isinstance(c, ScheduleTask)]
    assert sorted(t.input for t in rerun) == [2, 3]
    done = interp.decide(
        state, [TaskCompleted(task_id=t.task_id, result=t.input * 10) for t in rerun], 3.0
    )
    final = next(c for c in done if isinstance(c, CompleteExecution))
    assert final.output == ["one", 20, 30]
    assert state["redrive_count"] == 1


def test_invalid_definition_is_refused() -> None:
    with pytest.raises(DefinitionError):
        StatesFrontEnd().compile('{"StartAt": "Nowhere", "States": {}}')


def _map_seconds(n: int) -> float:
    machine = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemSelector": {"v.$": "$$.Map.Item.Value", "all.$": "$.k"},
                "ItemsPath": "$.items",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    interp = compile_machine(machine)
    state = interp.new_state()
    began = time.perf_counter()
    commands = interp.decide(state, [start(payload={"items": list(range(n)), "k": 1})], 0.0)
    elapsed = time.perf_counter() - began
    assert [c.status for c in commands if isinstance(c, CompleteExecution)] == ["succeeded"]
    return elapsed / n


def test_map_cost_per_item_does_not_grow_with_the_item_count() -> None:
    small = min(_map_seconds(1000) for _ in range(2))
    large = _map_seconds(10_000)
    assert large < small * 4, (small, large)


def test_parallel_of_100_branches() -> None:
    branch = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    machine = {
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "Branches": [branch] * 100, "End": True}},
    }
    interp = compile_machine(machine)
    state = interp.new_state()
    out = interp.decide(state, [start()], 0.0)
    final = next(c for c in out if isinstance(c, CompleteExecution))
    assert final.output == [{"n": 1}] * 100
