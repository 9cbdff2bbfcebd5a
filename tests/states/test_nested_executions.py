"""Nested state machines: ``arn:aws:states:::states:startExecution`` starts a child.

The child is another registered state machine, named by ARN or by name; it
runs as a child execution in the same store (the kernel's ``StartChild``).
The four integration patterns give AWS's output shapes:

* plain — ``{ExecutionArn, StartDate}`` at once, without waiting;
* ``.sync`` — DescribeExecution's shape with ``Input``/``Output`` as JSON text;
* ``.sync:2`` — the same with ``Input``/``Output`` as JSON values;
* ``.waitForTaskToken`` — the answer sent with the token the child was given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.interpreters.states.frontend import StatesFrontEnd
from cadenza.store.sqlite import SQLiteStore
from cadenza.testing.clock import FakeClock
from cadenza.workers.registry import ActivityRegistry

CHILD_ARN = "arn:aws:states:us-east-1:111111111111:stateMachine:Double"

CHILD = {
    "StartAt": "Double",
    "States": {
        "Double": {
            "Type": "Pass",
            "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)", "me.$": "$$.Execution.Name"},
            "End": True,
        }
    },
}

FAILING_CHILD = {
    "StartAt": "Boom",
    "States": {"Boom": {"Type": "Fail", "Error": "Child.Broken", "Cause": "no luck"}},
}

WAITING_CHILD = {
    "StartAt": "Hold",
    "States": {
        "Hold": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:111111111111:function:keep",
            "End": True,
        }
    },
}


def parent(resource: str, parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "StartAt": "Nested",
        "States": {
            "Nested": {
                "Type": "Task",
                "Resource": resource,
                "Parameters": parameters,
                "End": True,
                **extra,
            }
        },
    }


@pytest.fixture
def kept() -> list[Any]:
    """What the ``keep`` function received."""
    return []


@pytest.fixture
def engine(tmp_path: Path, kept: list[Any]) -> Any:
    registry = ActivityRegistry()
    registry.register(
        "arn:aws:lambda:us-east-1:111111111111:function:keep",
        lambda event: kept.append(event) or event,
        whole_input=True,
    )
    engine = Engine(
        SQLiteStore(str(tmp_path / "cadenza.db")),
        registry=registry,
        clock=FakeClock(1_700_000_000.0),
        front_ends={"states": StatesFrontEnd()},
    )
    engine.register(json.dumps(CHILD), kind="states", name="Double")
    engine.register(json.dumps(FAILING_CHILD), kind="states", name="Broken")
    engine.register(json.dumps(WAITING_CHILD), kind="states", name="Waiting")
    try:
        yield engine
    finally:
        engine.close()


def _run(engine: Engine, machine: dict[str, Any], data: Any = None) -> Any:
    definition = engine.register(json.dumps(machine), kind="states", name="Parent")
    execution_id = engine.start(definition, data if data is not None else {})
    engine.run_until_idle(skip_time=True)
    return engine.get(execution_id)


def test_sync_waits_for_the_child_and_gives_its_output_as_text(engine: Engine) -> None:
    record = _run(
        engine,
        parent(
            "arn:aws:states:::states:startExecution.sync",
            {"StateMachineArn": CHILD_ARN, "Input": {"n.$": "$.n"}, "Name": "twice"},
        ),
        {"n": 21},
    )
    assert record.status == "succeeded", record.errors
    output = record.output
    assert output["Status"] == "SUCCEEDED"
    assert json.loads(output["Output"]) == {"doubled": 42, "me": "twice"}
    assert json.loads(output["Input"]) == {"n": 21}
    assert output["ExecutionArn"] == "arn:aws:states:us-east-1:111111111111:execution:Double:twice"
    assert output["StateMachineArn"] == CHILD_ARN
    assert output["Name"] == "twice"
    assert isinstance(output["StartDate"], int) and isinstance(output["StopDate"], int)


def test_sync_2_gives_input_and_output_as_json(engine: Engine) -> None:
    record = _run(
        engine,
        parent(
            "arn:aws:states:::states:startExecution.sync:2",
            {"StateMachineArn": "Double", "Input": {"n": 5}},
        ),
    )
    assert record.status == "succeeded", record.errors
    assert record.output["Output"]["doubled"] == 10
    assert record.output["Input"] == {"n": 5}


def test_a_string_input_is_the_json_it_holds(engine: Engine) -> None:
    record = _run(
        engine,
        parent(
            "arn:aws:states:::states:startExecution.sync:2",
            {"StateMachineArn": CHILD_ARN, "Input": '{"n": 2}'},
        ),
    )
    assert record.output["Output"]["doubled"] == 4


def test_a_failed_child_fails_the_task_and_can_be_caught(engine: Engine) -> None:
    catch = [{"ErrorEquals": ["States.TaskFailed"], "Next": "Handled"}]
    machine = parent(
        "arn:aws:states:::states:startExecution.sync",
        {"StateMachineArn": "Broken", "Input": {}},
        Catch=catch,
    )
    machine["States"]["Nested"].pop("End")
    machine["States"]["Nested"]["Next"] = "Handled"
    machine["States"]["Handled"] = {"Type": "Pass", "End": True}
    record = _run(engine, machine)
    assert record.status == "succeeded", record.errors
    assert record.output["Error"] == "States.TaskFailed"
    cause = json.loads(record.output["Cause"])
    assert (cause["Status"], cause["Error"], cause["Cause"]) == (
        "FAILED",
        "Child.Broken",
        "no luck",
    )


def test_plain_start_returns_at_once_and_the_child_still_runs(engine: Engine) -> None:
    record = _run(
        engine,
        parent(
            "arn:aws:states:::states:startExecution",
            {"StateMachineArn": CHILD_ARN, "Input": {"n": 1}, "Name": "fire-and-forget"},
        ),
    )
    assert record.status == "succeeded", record.errors
    assert set(record.output) == {"ExecutionArn", "StartDate"}
    assert record.output["ExecutionArn"].endswith(":execution:Double:fire-and-forget")
    children = [r for r in engine.store.list_executions(limit=10) if r.name == "Double"]
    assert [c.parent_id for c in children] == [record.id]  # the child names its parent


def test_a_plain_child_outlives_its_parent(engine: Engine) -> None:
    _run(
        engine,
        parent(
            "arn:aws:states:::states:startExecution",
            {"StateMachineArn": CHILD_ARN, "Input": {"n": 1}, "Name": "fire-and-forget"},
        ),
    )
    children = [r for r in engine.store.list_executions(limit=10) if r.name == "Double"]
    assert [(c.status, c.output) for c in children] == [
        ("succeeded", {"doubled": 2, "me": "fire-and-forget"})
    ]


def test_wait_for_task_token_ends_with_the_answer_to_the_token(
    engine: Engine, kept: list[Any]
) -> None:
    machine = parent(
        "arn:aws:states:::states:startExecution.waitForTaskToken",
        {"StateMachineArn": "Waiting", "Input": {"token.$": "$$.Task.Token"}},
    )
    definition = engine.register(json.dumps(machine), kind="states", name="Parent")
    execution_id = engine.start(definition, {})
    engine.run_until_idle(skip_time=True)
    assert len(kept) == 1  # the child's task received the parent's token
    assert engine.get(execution_id).status == "running"
    engine.external.succeed(kept[0]["token"], {"approved": True})
    engine.run_until_idle(skip_time=True)
    record = engine.get(execution_id)
    assert (record.status, record.output) == ("succeeded", {"approved": True})


def test_an_unknown_child_state_machine_fails_the_task(engine: Engine) -> None:
    record = _run(
        engine,
        parent(
            "arn:aws:states:::states:startExecution.sync",
            {"StateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:Nope"},
        ),
    )
    assert record.status == "failed"
    assert record.errors[0]["error"] == "StepFunctions.StateMachineDoesNotExistException"


def test_a_mocked_start_execution_starts_nothing(engine: Engine) -> None:
    from cadenza.interpreters.states.mocks import MockConfig

    config = MockConfig.parse(
        {
            "StateMachines": {"Parent": {"TestCases": {"T": {"Nested": "Done"}}}},
            "MockedResponses": {"Done": {"0": {"Return": {"Status": "SUCCEEDED"}}}},
        }
    )
    machine = parent(
        "arn:aws:states:::states:startExecution.sync:2", {"StateMachineArn": CHILD_ARN}
    )
    definition = engine.register(json.dumps(machine), kind="states", name="Parent")
    execution_id = engine.start(definition, {}, context=config.test_case("T").context())
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).output == {"Status": "SUCCEEDED"}
    assert not [r for r in engine.store.list_executions(limit=10) if r.name == "Double"]


def test_a_sync_task_that_times_out_cancels_its_child(engine: Engine) -> None:
    slow = {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 600, "End": True}}}
    engine.register(json.dumps(slow), kind="states", name="Slow")
    record = _run(
        engine,
        parent(
            "arn:aws:states:::states:startExecution.sync",
            {"StateMachineArn": "Slow"},
            TimeoutSeconds=10,
        ),
    )
    assert record.status == "failed"
    assert record.errors[0]["error"] == "States.Timeout"
    children = [r for r in engine.store.list_executions(limit=10) if r.name == "Slow"]
    assert [c.status for c in children] == ["canceled"]
