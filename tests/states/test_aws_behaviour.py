"""Regression tests: behaviours where the States front end must do what AWS does.

* the answer to a task token is the task's result as sent, whatever the integration;
* service ARNs that name a region and an account are service integrations;
* ``States.``-prefixed error names that are not predefined are accepted in ``ErrorEquals``;
* JSONPath accepts a ``.`` before a bracket, and trims a trailing space;
* JSONata errors become ``States.QueryEvaluationError`` failures, never Python text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.interpreters.states.frontend import StatesFrontEnd
from cadenza.interpreters.states.history import sfn_history
from cadenza.interpreters.states.interpreter import StatesInterpreter
from cadenza.interpreters.states.validation import diagnose
from cadenza.model.commands import Command, CompleteExecution, RecordMarker, ScheduleTask
from cadenza.model.events import ExecutionStarted, MarkerRecorded, TaskCompleted
from cadenza.model.tokens import decode_token
from cadenza.store.sqlite import SQLiteStore
from cadenza.testing.clock import FakeClock
from cadenza.workers.registry import ActivityRegistry

NOTIFY = "arn:aws:lambda:us-east-1:111111111111:function:notify"
META = {"execution_id": "exec-1", "definition_name": "m", "start_time": 100.0}


def compile_machine(definition: dict[str, Any]) -> StatesInterpreter:
    return StatesFrontEnd().compile(json.dumps(definition))


def history(commands: list[Command]) -> list[dict[str, Any]]:
    markers = [
        MarkerRecorded(kind=c.kind, details=c.details)
        for c in commands
        if isinstance(c, RecordMarker)
    ]
    return sfn_history(markers)


def final(commands: list[Command]) -> CompleteExecution:
    done = [c for c in commands if isinstance(c, CompleteExecution)]
    assert len(done) == 1, commands
    return done[0]


def one_task(resource: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "StartAt": "Ask",
        "States": {
            "Ask": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}
        },
    }


# --- 1. the answer to a task token -------------------------------------------------------

CALLBACK_RESOURCES = [
    "arn:aws:states:::lambda:invoke.waitForTaskToken",
    "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
]


@pytest.mark.parametrize("resource", CALLBACK_RESOURCES)
def test_the_answer_to_a_token_is_the_result_as_sent(resource: str) -> None:
    parameters = {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}}
    if "sqs" in resource:
        parameters = {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}}
    interp = compile_machine(one_task(resource, parameters))
    state = interp.new_state()
    started = interp.decide(state, [ExecutionStarted(input={}, seed=1, meta=META)], 100.0)
    call = next(c for c in started if isinstance(c, ScheduleTask))
    body = call.input if "lambda" in resource else call.input["MessageBody"]
    waiting_for = decode_token(body["token"]).task_id
    submitted = interp.decide(state, [TaskCompleted(task_id=call.task_id, result=None)], 101.0)
    assert [e["type"] for e in history(submitted)] == ["TaskSubmitted"]
    answer = TaskCompleted(task_id=waiting_for, result={"approved": True})
    done = interp.decide(state, [answer], 102.0)
    assert final(done) == CompleteExecution("succeeded", {"approved": True}, [])
    succeeded = [e for e in history(done) if e["type"] == "TaskSucceeded"]
    assert succeeded[0]["taskSucceededEventDetails"]["output"] == '{"approved":true}'


def test_lambda_callback_submits_the_invoke_response() -> None:
    """The call itself is an Invoke: ``TaskSubmitted`` shows its response."""
    resource = "arn:aws:states:::lambda:invoke.waitForTaskToken"
    parameters = {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}}
    interp = compile_machine(one_task(resource, parameters))
    state = interp.new_state()
    started = interp.decide(state, [ExecutionStarted(input={}, seed=1, meta=META)], 100.0)
    call = next(c for c in started if isinstance(c, ScheduleTask))
    submitted = interp.decide(state, [TaskCompleted(task_id=call.task_id, result="ok")], 101.0)
    details = history(submitted)[0]["taskSubmittedEventDetails"]
    response = json.loads(details["output"])
    assert (response["Payload"], response["StatusCode"]) == ("ok", 200)


def test_the_answer_to_a_token_through_the_engine(tmp_path: Path) -> None:
    tokens: list[str] = []

    def notify(event: Any) -> Any:
        tokens.append(event["token"])
        return None

    registry = ActivityRegistry()
    registry.register(NOTIFY, notify, whole_input=True)
    engine = Engine(
        SQLiteStore(str(tmp_path / "cadenza.db")),
        registry=registry,
        clock=FakeClock(1_700_000_000.0),
        front_ends={"states": StatesFrontEnd()},
    )
    try:
        machine = one_task(
            "arn:aws:states:::lambda:invoke.waitForTaskToken",
            {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}},
        )
        definition = engine.register(json.dumps(machine), kind="states", name="callback")
        execution_id = engine.start(definition, {})
        engine.run_until_idle()
        assert len(tokens) == 1
        assert engine.get(execution_id).status == "running"
        engine.external.succeed(tokens[0], {"approved": True})
        engine.run_until_idle()
        record = engine.get(execution_id)
        assert (record.status, record.output) == ("succeeded", {"approved": True})
    finally:
        engine.close()


# --- 2. service ARNs with a region and an account ------------------------------------------


@pytest.mark.parametrize(
    ("resource", "resource_type", "action", "region"),
    [
        ("arn:aws:states:::aws-sdk:s3:getObject", "aws-sdk:s3", "getObject", "us-east-1"),
        (
            "arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject",
            "aws-sdk:s3",
            "getObject",
            "us-east-1",
        ),
        (
            "arn:aws:states:eu-west-1:123456789012:sqs:sendMessage",
            "sqs",
            "sendMessage",
            "eu-west-1",
        ),
        ("arn:aws:states:eu-west-1::sns:publish", "sns", "publish", "eu-west-1"),
        ("arn:aws:states::123456789012:sns:publish", "sns", "publish", "us-east-1"),
    ],
)
def test_service_arns_with_region_and_account(
    resource: str, resource_type: str, action: str, region: str
) -> None:
    interp = compile_machine(one_task(resource, {"Bucket": "b"}))
    state = interp.new_state()
    started = interp.decide(state, [ExecutionStarted(input={}, seed=1, meta=META)], 100.0)
    call = next(c for c in started if isinstance(c, ScheduleTask))
    assert (call.action, call.input) == (resource, {"Bucket": "b"})
    scheduled = next(e for e in history(started) if e["type"] == "TaskScheduled")
    details = scheduled["taskScheduledEventDetails"]
    assert (details["resourceType"], details["resource"], details["region"]) == (
        resource_type,
        action,
        region,
    )
    done = interp.decide(state, [TaskCompleted(task_id=call.task_id, result={"ok": 1})], 101.0)
    assert final(done) == CompleteExecution("succeeded", {"ok": 1}, [])


def test_callback_arn_with_region_and_account_has_a_token() -> None:
    resource = "arn:aws:states:us-east-1:123456789012:sqs:sendMessage.waitForTaskToken"
    interp = compile_machine(one_task(resource, {"MessageBody": {"token.$": "$$.Task.Token"}}))
    state = interp.new_state()
    started = interp.decide(state, [ExecutionStarted(input={}, seed=1, meta=META)], 100.0)
    call = next(c for c in started if isinstance(c, ScheduleTask))
    token = call.input["MessageBody"]["token"]
    assert token == call.meta["token"]
    scheduled = next(e for e in history(started) if e["type"] == "TaskScheduled")
    details = scheduled["taskScheduledEventDetails"]
    assert (details["resourceType"], details["resource"]) == ("sqs", "sendMessage.waitForTaskToken")
    interp.decide(state, [TaskCompleted(task_id=call.task_id, result={})], 101.0)
    answer = TaskCompleted(task_id=decode_token(token).task_id, result={"approved": True})
    done = interp.decide(state, [answer], 102.0)
    assert final(done) == CompleteExecution("succeeded", {"approved": True}, [])


def test_lambda_invoke_arn_with_region_and_account() -> None:
    resource = "arn:aws:states:us-east-1:123456789012:lambda:invoke"
    interp = compile_machine(one_task(resource, {"FunctionName": "notify", "Payload": {"a": 1}}))
    state = interp.new_state()
    started = interp.decide(state, [ExecutionStarted(input={}, seed=1, meta=META)], 100.0)
    call = next(c for c in started if isinstance(c, ScheduleTask))
    assert (call.action, call.input) == (NOTIFY, {"a": 1})
    scheduled = next(e for e in history(started) if e["type"] == "TaskScheduled")
    details = scheduled["taskScheduledEventDetails"]
    assert (details["resourceType"], details["resource"]) == ("lambda", "invoke")
    done = interp.decide(state, [TaskCompleted(task_id=call.task_id, result={"b": 2})], 101.0)
    output = final(done).output
    assert isinstance(output, dict)
    assert (output["Payload"], output["StatusCode"]) == ({"b": 2}, 200)


# --- 3. custom error names in the States. namespace ------------------------------------------


def _codes(definition: dict[str, Any]) -> list[str]:
    return [d.message for d in diagnose(definition, "STANDARD").diagnostics]


def test_custom_states_error_names_are_accepted() -> None:
    machine = {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": NOTIFY,
                "Retry": [{"ErrorEquals": ["States.QuorumMet"], "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["States.QuorumMet", "Other"], "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
    }
    assert _codes(machine) == []
    interp = compile_machine(machine)
    state = interp.new_state()
    started = interp.decide(state, [ExecutionStarted(input={}, seed=1, meta=META)], 100.0)
    call = next(c for c in started if isinstance(c, ScheduleTask))
    failed = TaskCompleted(
        task_id=call.task_id,
        status="failed",
        error={"type": "States.QuorumMet", "message": "enough"},
    )
    retried = interp.decide(state, [failed], 101.0)
    assert not [c for c in retried if isinstance(c, CompleteExecution)]


def test_states_all_must_still_be_alone_and_last() -> None:
    alone = {"ErrorEquals": ["States.ALL", "States.QuorumMet"], "Next": "Done"}
    not_last = {"ErrorEquals": ["States.ALL"], "Next": "Done"}
    for catch in ([alone], [not_last, {"ErrorEquals": ["X"], "Next": "Done"}]):
        machine = {
            "StartAt": "Work",
            "States": {
                "Work": {"Type": "Task", "Resource": NOTIFY, "Catch": catch, "End": True},
                "Done": {"Type": "Succeed"},
            },
        }
        assert _codes(machine), catch


# --- 4. JSONPath as AWS reads it ---------------------------------------------------------------


def test_a_dot_before_a_bracket_is_accepted() -> None:
    machine = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Pass",
                "InputPath": "$.items.[?(@.v > 0)]",
                "ResultPath": "$.['r']",
                "End": True,
            },
        },
    }
    assert _codes(machine) == []
    interp = compile_machine(machine)
    state = interp.new_state()
    data = {"items": [{"v": 1}, {"v": 0}, {"v": 2}]}
    done = interp.decide(state, [ExecutionStarted(input=data, seed=1, meta=META)], 100.0)
    output = {**data, "r": [{"v": 1}, {"v": 2}]}
    assert final(done) == CompleteExecution("succeeded", output, [])


def test_a_trailing_space_in_a_path_is_trimmed() -> None:
    machine = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Pass",
                "Parameters": {"x.$": "$.a.b ", "c.$": "$$.Execution.Name "},
                "ResultPath": "$.r ",
                "OutputPath": "$.r ",
                "End": True,
            },
        },
    }
    assert _codes(machine) == []
    interp = compile_machine(machine)
    state = interp.new_state()
    started = ExecutionStarted(input={"a": {"b": 5}}, seed=1, meta=META)
    done = interp.decide(state, [started], 100.0)
    assert final(done) == CompleteExecution("succeeded", {"x": 5, "c": "exec-1"}, [])


def test_a_trailing_space_in_a_choice_variable_is_trimmed() -> None:
    machine = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n ", "NumericGreaterThan": 0, "Next": "Yes"}],
                "Default": "No",
            },
            "Yes": {"Type": "Succeed"},
            "No": {"Type": "Fail", "Error": "No"},
        },
    }
    assert _codes(machine) == []
    interp = compile_machine(machine)
    state = interp.new_state()
    done = interp.decide(state, [ExecutionStarted(input={"n": 1}, seed=1, meta=META)], 100.0)
    assert final(done).status == "succeeded"


# --- 5. JSONata errors are States.QueryEvaluationError ----------------------------------------


def _distributed_map(extra: dict[str, Any], output: str) -> dict[str, Any]:
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": output, "End": True}},
    }
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "Items": "{% $states.input.xs %}",
                **extra,
                "ItemProcessor": processor,
                "End": True,
            }
        },
    }


def _run_to_end(machine: dict[str, Any], data: Any) -> tuple[CompleteExecution, list[str]]:
    assert _codes(machine) == []
    interp = compile_machine(machine)
    state = interp.new_state()
    done = interp.decide(state, [ExecutionStarted(input=data, seed=1, meta=META)], 100.0)
    return final(done), [e["type"] for e in history(done)]


def test_jsonata_error_after_a_tolerated_failure_is_a_query_evaluation_error() -> None:
    machine = _distributed_map(
        {
            "MaxConcurrency": 1,
            "ToleratedFailureCount": 5,
            "ItemSelector": {"v": "{% $states.context.Map.Item.Value.v + 1 %}"},
        },
        "{% $states.input.v > 5 ? $states.input : $error('small') %}",
    )
    end, types = _run_to_end(machine, {"xs": [{"v": 1}, {"v": "a"}]})
    assert end.status == "failed"
    assert end.errors[0]["error"] == "States.QueryEvaluationError"
    assert "StateFailure" not in str(end.errors[0]["cause"])
    assert "EvaluationFailed" in types
    assert types[-2:] == ["MapStateFailed", "ExecutionFailed"]


def test_jsonata_item_batcher_is_evaluated() -> None:
    machine = _distributed_map(
        {
            "ItemBatcher": {
                "MaxItemsPerBatch": "{% 1 %}",
                "BatchInput": {"b": "{% $states.input.b %}"},
            }
        },
        "{% $states.input %}",
    )
    end, _ = _run_to_end(machine, {"xs": [1, 2], "b": 3})
    batches = [{"Items": [1], "BatchInput": {"b": 3}}, {"Items": [2], "BatchInput": {"b": 3}}]
    assert end == CompleteExecution("succeeded", batches, [])


def test_jsonata_item_batcher_error_is_a_query_evaluation_error() -> None:
    machine = _distributed_map(
        {"ItemBatcher": {"MaxItemsPerBatch": "{% $states.input.b & 'x' %}"}},
        "{% $states.input %}",
    )
    end, types = _run_to_end(machine, {"xs": [1, 2], "b": 3})
    assert end.status == "failed"
    assert end.errors[0]["error"] == "States.QueryEvaluationError"
    assert "ValueError" not in str(end.errors[0]["cause"])
    assert types[-3:] == ["EvaluationFailed", "MapStateFailed", "ExecutionFailed"]


def test_a_python_error_of_the_jsonata_library_is_not_shown() -> None:
    """``$number('x')`` fails inside the library with Python's ValueError text."""
    machine = {
        "QueryLanguage": "JSONata",
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "Items": "{% $states.input.xs %}",
                "ItemProcessor": {
                    "StartAt": "P",
                    "States": {
                        "P": {"Type": "Pass", "Output": "{% $number($states.input) %}", "End": True}
                    },
                },
                "End": True,
            }
        },
    }
    end, types = _run_to_end(machine, {"xs": ["1", "x"]})
    assert end.status == "failed"
    assert end.errors[0]["error"] == "States.QueryEvaluationError"
    cause = str(end.errors[0]["cause"])
    assert "could not convert" not in cause
    assert cause.endswith("during evaluation. A function was given a value it cannot use")
    assert "EvaluationFailed" in types


def test_a_jsonata_error_in_a_catcher_is_recorded() -> None:
    machine = {
        "QueryLanguage": "JSONata",
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": NOTIFY,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Output": "{% 1 / 0 %}", "Next": "Done"}],
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    interp = compile_machine(machine)
    state = interp.new_state()
    started = interp.decide(state, [ExecutionStarted(input={}, seed=1, meta=META)], 100.0)
    call = next(c for c in started if isinstance(c, ScheduleTask))
    failed = TaskCompleted(task_id=call.task_id, status="failed", error={"type": "X"})
    done = interp.decide(state, [failed], 101.0)
    end = final(done)
    assert end.errors[0]["error"] == "States.QueryEvaluationError"
    assert str(end.errors[0]["cause"]).endswith("D1001: Number out of range")
    types = [e["type"] for e in history(done)]
    assert types == ["LambdaFunctionFailed", "EvaluationFailed", "ExecutionFailed"]
