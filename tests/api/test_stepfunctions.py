"""The Step Functions API for boto3: the real boto3 client against a real
``cadenza server`` process, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from .test_http_api import Server, start_server

PASS = json.dumps(
    {
        "StartAt": "Greet",
        "States": {
            "Greet": {
                "Type": "Pass",
                "Parameters": {"greeting.$": "States.Format('hi {}', $.who)"},
                "End": True,
            }
        },
    }
)

APPROVAL = json.dumps(
    {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:us-east-1:111111111111:activity:approve",
                "End": True,
            }
        },
    }
)

ROLE = "arn:aws:iam::111111111111:role/anything"


@pytest.fixture
def sfn(store_url: str, tmp_path: Path) -> Iterator[tuple[Any, Server]]:
    server = start_server(store_url, tmp_path)
    client = boto3.client(
        "stepfunctions",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        # StartSyncExecution and TestState go to "sync-" + the host on AWS; a
        # server at an address of its own takes them at that address.
        config=Config(retries={"max_attempts": 1}, read_timeout=70, inject_host_prefix=False),
    )
    yield client, server
    server.stop()


def wait_for(client: Any, arn: str, status: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = client.describe_execution(executionArn=arn)
        if found["status"] == status:
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.05)  # polling a remote API with a deadline


def test_create_start_describe_and_read_the_history(sfn: tuple[Any, Server]) -> None:
    client, _ = sfn
    created = client.create_state_machine(name="greeter", definition=PASS, roleArn=ROLE)
    arn = created["stateMachineArn"]
    assert arn == "arn:aws:states:us-east-1:111111111111:stateMachine:greeter"
    described = client.describe_state_machine(stateMachineArn=arn)
    assert (described["name"], described["type"], described["status"]) == (
        "greeter",
        "STANDARD",
        "ACTIVE",
    )
    assert json.loads(described["definition"]) == json.loads(PASS)
    listed = client.list_state_machines()["stateMachines"]
    assert [m["name"] for m in listed] == ["greeter"]
    started = client.start_execution(stateMachineArn=arn, name="first", input='{"who": "ada"}')
    assert started["executionArn"].endswith(":execution:greeter:first")
    done = wait_for(client, started["executionArn"], "SUCCEEDED")
    assert json.loads(done["output"]) == {"greeting": "hi ada"}
    assert json.loads(done["input"]) == {"who": "ada"}
    assert done["stateMachineArn"] == arn and done["name"] == "first"
    # Starting again with the same name and input once it has ended is refused.
    with pytest.raises(client.exceptions.ExecutionAlreadyExists):
        client.start_execution(stateMachineArn=arn, name="first", input='{"who": "ada"}')
    history = client.get_execution_history(executionArn=started["executionArn"])["events"]
    types = [e["type"] for e in history]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert "PassStateEntered" in types
    page = client.get_execution_history(
        executionArn=started["executionArn"], maxResults=2, reverseOrder=True
    )
    assert [e["type"] for e in page["events"]] == types[::-1][:2] and page["nextToken"]
    executions = client.list_executions(stateMachineArn=arn)["executions"]
    assert [(e["name"], e["status"]) for e in executions] == [("first", "SUCCEEDED")]


def test_errors_come_back_as_the_exceptions_aws_raises(sfn: tuple[Any, Server]) -> None:
    client, _ = sfn
    with pytest.raises(client.exceptions.InvalidDefinition) as caught:
        client.create_state_machine(
            name="broken", definition='{"StartAt": "Nowhere", "States": {}}', roleArn=ROLE
        )
    assert caught.value.response["Error"]["Message"] == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: "
        "The field 'States' should be non-empty at /States'"
    )
    assert client.list_state_machines()["stateMachines"] == []
    missing = "arn:aws:states:us-east-1:111111111111:stateMachine:nope"
    with pytest.raises(client.exceptions.StateMachineDoesNotExist):
        client.describe_state_machine(stateMachineArn=missing)
    with pytest.raises(client.exceptions.ExecutionDoesNotExist):
        client.describe_execution(
            executionArn="arn:aws:states:us-east-1:111111111111:execution:nope:x"
        )
    with pytest.raises(client.exceptions.InvalidArn):
        client.describe_execution(executionArn="not-an-arn")
    client.create_state_machine(name="greeter", definition=PASS, roleArn=ROLE)
    with pytest.raises(client.exceptions.StateMachineAlreadyExists):
        client.create_state_machine(
            name="greeter", definition=PASS.replace("hi", "hello"), roleArn=ROLE
        )
    with pytest.raises(client.exceptions.InvalidExecutionInput):
        client.start_execution(
            stateMachineArn="arn:aws:states:us-east-1:111111111111:stateMachine:greeter",
            input="{not json",
        )
    answer = client.validate_state_machine_definition(
        definition='{"StartAt": "Nowhere", "States": {}}'
    )
    assert answer["result"] == "FAIL" and answer["diagnostics"]
    with pytest.raises(client.exceptions.InvalidToken):
        client.send_task_success(taskToken="garbage", output="{}")


def test_an_activity_worker_polls_and_answers_with_its_token(sfn: tuple[Any, Server]) -> None:
    client, _ = sfn
    activity = client.create_activity(name="approve")["activityArn"]
    assert activity == "arn:aws:states:us-east-1:111111111111:activity:approve"
    machine = client.create_state_machine(name="approval", definition=APPROVAL, roleArn=ROLE)
    polled: list[dict[str, Any]] = []
    poller = threading.Thread(
        target=lambda: polled.append(
            client.get_activity_task(activityArn=activity, workerName="alice")
        )
    )
    poller.start()  # waiting before there is anything to take
    started = client.start_execution(
        stateMachineArn=machine["stateMachineArn"], input='{"amount": 5}'
    )
    poller.join(timeout=60)
    assert not poller.is_alive()
    (task,) = polled
    assert json.loads(task["input"]) == {"amount": 5}
    client.send_task_heartbeat(taskToken=task["taskToken"])
    client.send_task_success(taskToken=task["taskToken"], output='{"approved": true}')
    done = wait_for(client, started["executionArn"], "SUCCEEDED")
    assert json.loads(done["output"]) == {"approved": True}
    with pytest.raises(client.exceptions.TaskTimedOut):
        client.send_task_success(taskToken=task["taskToken"], output='{"approved": false}')
    started = client.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")
    task = client.get_activity_task(activityArn=activity, workerName="bob")
    client.send_task_failure(taskToken=task["taskToken"], error="Rejected", cause="no budget")
    failed = wait_for(client, started["executionArn"], "FAILED")
    assert (failed["error"], failed["cause"]) == ("Rejected", "no budget")


def test_stop_execution_aborts_a_running_one(sfn: tuple[Any, Server]) -> None:
    client, _ = sfn
    machine = client.create_state_machine(name="approval", definition=APPROVAL, roleArn=ROLE)
    started = client.start_execution(stateMachineArn=machine["stateMachineArn"], name="stop-me")
    wait_for(client, started["executionArn"], "RUNNING")
    stopped = client.stop_execution(executionArn=started["executionArn"])
    assert stopped["stopDate"]
    wait_for(client, started["executionArn"], "ABORTED")


FLAKY = json.dumps(
    {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:us-east-1:111111111111:activity:work",
                "End": True,
            }
        },
    }
)


def test_a_failed_execution_is_redriven_from_the_failed_state(sfn: tuple[Any, Server]) -> None:
    client, _ = sfn
    machine = client.create_state_machine(name="flaky", definition=FLAKY, roleArn=ROLE)
    activity = "arn:aws:states:us-east-1:111111111111:activity:work"
    started = client.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")
    with pytest.raises(client.exceptions.ExecutionNotRedrivable):
        client.redrive_execution(executionArn=started["executionArn"])  # still running
    task = client.get_activity_task(activityArn=activity, workerName="w")
    client.send_task_failure(taskToken=task["taskToken"], error="Boom", cause="first try")
    wait_for(client, started["executionArn"], "FAILED")
    assert client.redrive_execution(executionArn=started["executionArn"])["redriveDate"]
    task = client.get_activity_task(activityArn=activity, workerName="w")
    client.send_task_success(taskToken=task["taskToken"], output='{"ok": 1}')
    done = wait_for(client, started["executionArn"], "SUCCEEDED")
    assert json.loads(done["output"]) == {"ok": 1}


def test_a_deleted_state_machine_is_gone_but_its_executions_stay(sfn: tuple[Any, Server]) -> None:
    client, _ = sfn
    arn = client.create_state_machine(name="greeter", definition=PASS, roleArn=ROLE)[
        "stateMachineArn"
    ]
    # Creating the same machine again is no change.
    assert (
        client.create_state_machine(name="greeter", definition=PASS, roleArn=ROLE)[
            "stateMachineArn"
        ]
        == arn
    )
    started = client.start_execution(stateMachineArn=arn, name="kept", input='{"who": "x"}')
    wait_for(client, started["executionArn"], "SUCCEEDED")
    client.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(client.exceptions.StateMachineDoesNotExist):
        client.describe_state_machine(stateMachineArn=arn)
    with pytest.raises(client.exceptions.StateMachineDoesNotExist):
        client.start_execution(stateMachineArn=arn, input="{}")
    assert client.list_state_machines()["stateMachines"] == []
    assert client.describe_execution(executionArn=started["executionArn"])["status"] == (
        "SUCCEEDED"
    )
    client.delete_state_machine(stateMachineArn=arn)  # deleting again is no error
    # The name can be used again, for another definition.
    other = PASS.replace("hi", "hello")
    client.create_state_machine(name="greeter", definition=other, roleArn=ROLE)
    assert json.loads(client.describe_state_machine(stateMachineArn=arn)["definition"]) == (
        json.loads(other)
    )


def test_activities_are_created_described_listed_and_deleted(sfn: tuple[Any, Server]) -> None:
    client, _ = sfn
    first = client.create_activity(name="approve")
    again = client.create_activity(name="approve")
    assert again == {**again, "activityArn": first["activityArn"]}
    assert again["creationDate"] == first["creationDate"]
    client.create_activity(name="audit")
    described = client.describe_activity(activityArn=first["activityArn"])
    assert (described["name"], described["creationDate"]) == ("approve", first["creationDate"])
    page = client.list_activities(maxResults=1)
    assert [a["name"] for a in page["activities"]] == ["approve"] and page["nextToken"]
    rest = client.list_activities(maxResults=1, nextToken=page["nextToken"])
    assert [a["name"] for a in rest["activities"]] == ["audit"] and "nextToken" not in rest
    client.delete_activity(activityArn=first["activityArn"])
    with pytest.raises(client.exceptions.ActivityDoesNotExist):
        client.describe_activity(activityArn=first["activityArn"])
    assert [a["name"] for a in client.list_activities()["activities"]] == ["audit"]
    with pytest.raises(client.exceptions.ActivityDoesNotExist):
        client.get_activity_task(activityArn=first["activityArn"])
    with pytest.raises(client.exceptions.InvalidArn):
        client.describe_activity(activityArn="arn:aws:states:us-east-1:111111111111:nope:x")


EXPRESS_FAIL = json.dumps(
    {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Greet"}],
                "Default": "Refuse",
            },
            "Greet": {"Type": "Pass", "Result": {"greeting": "hi"}, "End": True},
            "Refuse": {"Type": "Fail", "Error": "NotOk", "Cause": "ok was false"},
        },
    }
)


def test_a_sync_execution_answers_with_its_end(sfn: tuple[Any, Server]) -> None:
    client, _ = sfn
    express = client.create_state_machine(
        name="quick", definition=EXPRESS_FAIL, roleArn=ROLE, type="EXPRESS"
    )["stateMachineArn"]
    assert client.describe_state_machine(stateMachineArn=express)["type"] == "EXPRESS"
    assert [m["type"] for m in client.list_state_machines()["stateMachines"]] == ["EXPRESS"]
    done = client.start_sync_execution(stateMachineArn=express, input='{"ok": true}')
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"greeting": "hi"}
    assert json.loads(done["input"]) == {"ok": True}
    assert done["stopDate"] >= done["startDate"]
    assert done["billingDetails"]["billedDurationInMilliseconds"] >= 100
    failed = client.start_sync_execution(stateMachineArn=express, name="no", input='{"ok": false}')
    assert (failed["status"], failed["error"], failed["cause"]) == (
        "FAILED",
        "NotOk",
        "ok was false",
    )
    assert "output" not in failed
    assert failed["executionArn"].endswith(":execution:quick:no")
    standard = client.create_state_machine(name="slow", definition=PASS, roleArn=ROLE)
    with pytest.raises(client.exceptions.StateMachineTypeNotSupported):
        client.start_sync_execution(stateMachineArn=standard["stateMachineArn"], input="{}")


TIMES_OUT = json.dumps(
    {
        "StartAt": "Linger",
        "TimeoutSeconds": 1,
        "States": {"Linger": {"Type": "Wait", "Seconds": 30, "End": True}},
    }
)


def test_a_sync_execution_that_times_out_says_so(sfn: tuple[Any, Server]) -> None:
    client, _ = sfn
    express = client.create_state_machine(
        name="linger", definition=TIMES_OUT, roleArn=ROLE, type="EXPRESS"
    )["stateMachineArn"]
    ended = client.start_sync_execution(stateMachineArn=express, input="{}")
    assert ended["status"] == "TIMED_OUT"
    assert "output" not in ended


def test_history_without_execution_data_and_in_reverse(sfn: tuple[Any, Server]) -> None:
    client, _ = sfn
    arn = client.create_state_machine(name="greeter", definition=PASS, roleArn=ROLE)[
        "stateMachineArn"
    ]
    started = client.start_execution(stateMachineArn=arn, input='{"who": "ada"}')
    wait_for(client, started["executionArn"], "SUCCEEDED")
    full = client.get_execution_history(executionArn=started["executionArn"])["events"]
    assert "input" in full[0]["executionStartedEventDetails"]
    bare = client.get_execution_history(
        executionArn=started["executionArn"], includeExecutionData=False
    )["events"]
    assert [e["id"] for e in bare] == [e["id"] for e in full]
    for event in bare:
        for key, details in event.items():
            if key.endswith("EventDetails"):
                assert not {"input", "output", "inputDetails", "outputDetails"} & set(details)
    assert "roleArn" in bare[0]["executionStartedEventDetails"]
    backwards = client.get_execution_history(
        executionArn=started["executionArn"], reverseOrder=True
    )["events"]
    assert [e["id"] for e in backwards] == [e["id"] for e in full][::-1]


def test_test_state_runs_one_state(sfn: tuple[Any, Server]) -> None:
    client, _ = sfn
    passed = client.test_state(
        definition=json.dumps({"Type": "Pass", "Parameters": {"x.$": "$.a"}, "Next": "B"}),
        roleArn=ROLE,
        input='{"a": 1}',
    )
    assert (passed["status"], json.loads(passed["output"]), passed["nextState"]) == (
        "SUCCEEDED",
        {"x": 1},
        "B",
    )
    assert "inspectionData" not in passed
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:us-east-1:111111111111:activity:work",
        "Parameters": {"n.$": "$.a"},
        "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 1, "IntervalSeconds": 4}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}],
        "End": True,
    }
    debug = client.test_state(
        definition=json.dumps(task),
        input='{"a": 2}',
        inspectionLevel="DEBUG",
        mock={"result": '{"done": true}'},
    )
    assert debug["status"] == "SUCCEEDED" and json.loads(debug["output"]) == {"done": True}
    assert json.loads(debug["inspectionData"]["afterParameters"]) == {"n": 2}
    assert json.loads(debug["inspectionData"]["result"]) == {"done": True}
    assert json.loads(debug["inspectionData"]["afterInputPath"]) == {"a": 2}
    assert json.loads(debug["inspectionData"]["afterResultPath"]) == {"done": True}
    retriable = client.test_state(
        definition=json.dumps(task),
        input='{"a": 3}',
        inspectionLevel="DEBUG",
        mock={"errorOutput": {"error": "Boom", "cause": "bad"}},
    )
    assert (retriable["status"], retriable["error"], retriable["cause"]) == (
        "RETRIABLE",
        "Boom",
        "bad",
    )
    assert retriable["inspectionData"]["errorDetails"] == {
        "retryIndex": 0,
        "retryBackoffIntervalSeconds": 4,
    }
    caught = client.test_state(
        definition=json.dumps(task),
        input='{"a": 3}',
        mock={"errorOutput": {"error": "Boom", "cause": "bad"}},
        stateConfiguration={"retrierRetryCount": 1},
    )
    assert (caught["status"], caught["nextState"]) == ("CAUGHT_ERROR", "Handle")
    machine = json.loads(EXPRESS_FAIL)
    refused = client.test_state(definition=json.dumps(machine), stateName="Refuse", input="{}")
    assert (refused["status"], refused["error"]) == ("FAILED", "NotOk")
    with pytest.raises(client.exceptions.InvalidDefinition):
        client.test_state(definition=json.dumps({"Type": "Pass", "Next": "B", "Bogus": 1}))
    with pytest.raises(client.exceptions.ValidationException):
        client.test_state(definition=json.dumps(task), input='{"a": 3}')  # no mock
