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
        config=Config(retries={"max_attempts": 1}, read_timeout=70),
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
