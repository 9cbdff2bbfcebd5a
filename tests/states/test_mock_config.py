"""Mocked service integrations in Step Functions Local's mock configuration format.

A mock configuration names, per state machine and test case, the mocked
response each Task state gets; a mocked response lists ``Return`` or ``Throw``
per invocation ("0", "1-2", ...). The tests check the file's reading (errors
name the path of what is wrong), which response each invocation gets, and
executions that run with a test case: results, failures caught and retried,
the history, and replay without the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.interpreters.states.frontend import StatesFrontEnd
from cadenza.interpreters.states.mocks import MockConfig, mocked_response
from cadenza.model.errors import InputError
from cadenza.store.sqlite import SQLiteStore
from cadenza.testing.clock import FakeClock
from cadenza.workers.registry import ActivityRegistry

MACHINE = {
    "Comment": "An order: check it with a function, retrying while it is busy, then queue it.",
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "check-order", "Payload.$": "$"},
            "ResultSelector": {"verdict.$": "$.Payload.verdict"},
            "ResultPath": "$.check",
            "Retry": [
                {
                    "ErrorEquals": ["Lambda.TooManyRequestsException"],
                    "IntervalSeconds": 2,
                    "MaxAttempts": 3,
                }
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Rejected"}],
            "Next": "Queue",
        },
        "Queue": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "https://sqs/orders", "MessageBody.$": "$"},
            "ResultSelector": {"id.$": "$.MessageId"},
            "ResultPath": "$.queued",
            "End": True,
        },
        "Rejected": {"Type": "Fail", "Error": "OrderRejected", "Cause": "the check failed"},
    },
}

CONFIG: dict[str, Any] = {
    "StateMachines": {
        "Orders": {
            "TestCases": {
                "HappyPath": {"Check": "CheckPasses", "Queue": "QueueAccepts"},
                "BusyThenPasses": {"Check": "CheckBusyTwice", "Queue": "QueueAccepts"},
                "AlwaysBusy": {"Check": "CheckAlwaysBusy"},
                "Broken": {"Check": "CheckBreaks"},
            }
        }
    },
    "MockedResponses": {
        "CheckPasses": {"0": {"Return": {"StatusCode": 200, "Payload": {"verdict": "ok"}}}},
        "CheckBusyTwice": {
            "0-1": {
                "Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded."}
            },
            "2": {"Return": {"StatusCode": 200, "Payload": {"verdict": "late"}}},
        },
        "CheckAlwaysBusy": {
            "0-3": {
                "Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded."}
            }
        },
        "CheckBreaks": {"0": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "boom"}}},
        "QueueAccepts": {"0": {"Return": {"MessageId": "m-1", "MD5OfMessageBody": "x"}}},
    },
}


# --- reading the file -----------------------------------------------------------------------


def test_a_mocked_response_is_chosen_by_invocation() -> None:
    case = MockConfig.parse(CONFIG, origin="mocks.json").test_case("BusyThenPasses", "Orders")
    table = case.responses["Check"]
    busy = {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded."}}
    assert mocked_response(table, 0) == busy
    assert mocked_response(table, 1) == busy
    assert mocked_response(table, 2) == {
        "Return": {"StatusCode": 200, "Payload": {"verdict": "late"}}
    }
    # Past the last one there is none: the invocation fails the execution.
    assert mocked_response(table, 3) is None


def test_the_state_machine_is_found_by_test_case_when_not_named() -> None:
    config = MockConfig.parse(CONFIG, origin="mocks.json")
    assert config.test_case("HappyPath").state_machine == "Orders"
    assert config.test_case("HappyPath", "some-file-name").state_machine == "Orders"


def test_a_test_case_that_does_not_exist_is_named_with_those_that_do() -> None:
    config = MockConfig.parse(CONFIG, origin="mocks.json")
    with pytest.raises(InputError) as caught:
        config.test_case("SadPath", "Orders")
    message = str(caught.value)
    assert "mocks.json" in message and "SadPath" in message and "HappyPath" in message


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda c: c.pop("StateMachines"), "StateMachines"),
        (lambda c: c["StateMachines"]["Orders"].pop("TestCases"), "StateMachines.Orders"),
        (
            lambda c: c["StateMachines"]["Orders"]["TestCases"]["HappyPath"].update(Q="Nope"),
            "StateMachines.Orders.TestCases.HappyPath.Q",
        ),
        (lambda c: c["MockedResponses"]["CheckPasses"].update(x={}), "CheckPasses.x"),
        (
            lambda c: c["MockedResponses"]["CheckPasses"].update({"2-1": {"Return": 1}}),
            "CheckPasses.2-1",
        ),
        (
            lambda c: c["MockedResponses"]["CheckPasses"]["0"].update(Throw={"Error": "E"}),
            "CheckPasses.0",
        ),
        (
            lambda c: c["MockedResponses"]["CheckBreaks"]["0"]["Throw"].pop("Error"),
            "CheckBreaks.0.Throw",
        ),
        (
            lambda c: c["MockedResponses"]["CheckPasses"].update({"0-3": {"Return": 1}}),
            "CheckPasses.0-3",
        ),
    ],
    ids=[
        "no-machines",
        "no-test-cases",
        "unknown-response",
        "bad-key",
        "backwards-range",
        "return-and-throw",
        "throw-without-error",
        "overlap",
    ],
)
def test_a_wrong_file_names_the_path_of_the_problem(change: Any, where: str) -> None:
    config = json.loads(json.dumps(CONFIG))
    change(config)
    with pytest.raises(InputError) as caught:
        MockConfig.parse(config, origin="MockConfigFile.json")
    assert "MockConfigFile.json" in str(caught.value)
    assert where in str(caught.value)


def test_a_file_that_is_not_json_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "MockConfigFile.json"
    path.write_text("{not json")
    with pytest.raises(InputError, match=r"MockConfigFile\.json"):
        MockConfig.read(path)
    with pytest.raises(InputError, match="cannot read"):
        MockConfig.read(tmp_path / "absent.json")


# --- executions with a test case --------------------------------------------------------


def _engine(tmp_path: Path, registry: ActivityRegistry | None = None) -> Engine:
    return Engine(
        SQLiteStore(str(tmp_path / "cadenza.db")),
        registry=registry or ActivityRegistry(),
        clock=FakeClock(1_700_000_000.0),
        front_ends={"states": StatesFrontEnd()},
    )


def _run_case(tmp_path: Path, case: str, data: Any) -> tuple[Engine, str]:
    engine = _engine(tmp_path)
    definition = engine.register(json.dumps(MACHINE), kind="states", name="Orders")
    mocks = MockConfig.parse(CONFIG, origin="mocks.json").test_case(case, "Orders")
    execution_id = engine.start(definition, data, context=mocks.context())
    engine.run_until_idle(skip_time=True)
    return engine, execution_id


def _types(engine: Engine, execution_id: str) -> list[str]:
    view = engine.history_view(execution_id, "sfn")
    assert isinstance(view, list)
    return [str(event["type"]) for event in view if isinstance(event, dict)]


def test_a_mocked_happy_path_runs_without_handlers(tmp_path: Path) -> None:
    engine, execution_id = _run_case(tmp_path, "HappyPath", {"order": 7})
    try:
        record = engine.get(execution_id)
        assert record.status == "succeeded", record.errors
        assert record.output == {"order": 7, "check": {"verdict": "ok"}, "queued": {"id": "m-1"}}
        types = _types(engine, execution_id)
        assert types.count("TaskScheduled") == 2
        assert types.count("TaskSucceeded") == 2
    finally:
        engine.close()


def test_thrown_errors_are_retried_with_the_next_responses(tmp_path: Path) -> None:
    engine, execution_id = _run_case(tmp_path, "BusyThenPasses", {"order": 8})
    try:
        record = engine.get(execution_id)
        assert record.status == "succeeded", record.errors
        assert isinstance(record.output, dict)
        assert record.output["check"] == {"verdict": "late"}
        types = _types(engine, execution_id)
        assert types.count("TaskFailed") == 2
        view = engine.history_view(execution_id, "sfn")
        assert isinstance(view, list)
        failed = [e for e in view if isinstance(e, dict) and e["type"] == "TaskFailed"]
        details = failed[0]["taskFailedEventDetails"]
        assert isinstance(details, dict)
        assert details["error"] == "Lambda.TooManyRequestsException"
        assert details["cause"] == "Rate exceeded."
    finally:
        engine.close()


def test_a_repeated_throw_exhausts_the_retries_and_is_caught(tmp_path: Path) -> None:
    engine, execution_id = _run_case(tmp_path, "AlwaysBusy", {"order": 9})
    try:
        record = engine.get(execution_id)
        assert record.status == "failed"
        assert record.errors[0] == {"error": "OrderRejected", "cause": "the check failed"}
        # The first attempt and three retries, all answered by the one range "0-3".
        assert _types(engine, execution_id).count("TaskFailed") == 4
    finally:
        engine.close()


def test_states_without_a_mocked_response_call_their_handlers(tmp_path: Path) -> None:
    """A test case that mocks only some states leaves the others to the resource map."""
    calls: list[Any] = []

    def queue(event: Any) -> Any:
        calls.append(event)
        return {"MessageId": "real"}

    registry = ActivityRegistry()
    registry.register("arn:aws:states:::sqs:sendMessage", queue, whole_input=True)
    engine = _engine(tmp_path, registry)
    try:
        definition = engine.register(json.dumps(MACHINE), kind="states", name="Orders")
        config = dict(CONFIG)
        config["StateMachines"] = {"Orders": {"TestCases": {"Hybrid": {"Check": "CheckPasses"}}}}
        mocks = MockConfig.parse(config, origin="mocks.json").test_case("Hybrid")
        execution_id = engine.start(definition, {"order": 1}, context=mocks.context())
        engine.run_until_idle(skip_time=True)
        record = engine.get(execution_id)
        assert record.status == "succeeded", record.errors
        assert isinstance(record.output, dict)
        assert record.output["queued"] == {"id": "real"}
        assert len(calls) == 1
    finally:
        engine.close()


def test_a_mocked_callback_task_ends_with_the_mocked_answer() -> None:
    """``.waitForTaskToken`` mocked: no call, no token to wait for; the Return is the answer."""
    machine = {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    config = {
        "StateMachines": {"M": {"TestCases": {"Yes": {"Approve": "Approved"}}}},
        "MockedResponses": {"Approved": {"0": {"Return": {"approved": True}}}},
    }
    from cadenza.model.commands import CompleteExecution, ScheduleTask
    from cadenza.model.events import ExecutionStarted

    interpreter = StatesFrontEnd().compile(json.dumps(machine))
    state = interpreter.new_state()
    context = MockConfig.parse(config, origin="c.json").test_case("Yes").context()
    meta = {"execution_id": "e", "definition_name": "M", "start_time": 1.0}
    commands = interpreter.decide(
        state, [ExecutionStarted(input={}, context=context, seed=1, meta=meta)], 1.0
    )
    assert not [c for c in commands if isinstance(c, ScheduleTask)]
    done = [c for c in commands if isinstance(c, CompleteExecution)]
    assert done == [CompleteExecution("succeeded", {"approved": True}, [])]


def test_a_mocked_execution_replays_from_its_history_alone(tmp_path: Path) -> None:
    """The test case is recorded in ``ExecutionStarted``: replay needs no file."""
    engine, execution_id = _run_case(tmp_path, "BusyThenPasses", {"order": 3})
    try:
        view = engine.describe(execution_id)  # a fresh fold over the recorded history
        assert view.status == "succeeded"
        assert isinstance(view.output, dict)
        assert view.output["check"] == {"verdict": "late"}
    finally:
        engine.close()


def test_a_mocked_function_arn_records_lambda_events_and_can_be_caught(tmp_path: Path) -> None:
    machine = {
        "StartAt": "Resize",
        "States": {
            "Resize": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:111111111111:function:resize",
                "Catch": [{"ErrorEquals": ["ImageTooLarge"], "Next": "Skipped"}],
                "End": True,
            },
            "Skipped": {"Type": "Pass", "End": True},
        },
    }
    config = {
        "StateMachines": {"Images": {"TestCases": {"TooLarge": {"Resize": "Refuses"}}}},
        "MockedResponses": {
            "Refuses": {"0": {"Throw": {"Error": "ImageTooLarge", "Cause": "over 10 MB"}}}
        },
    }
    engine = _engine(tmp_path)
    try:
        definition = engine.register(json.dumps(machine), kind="states", name="Images")
        case = MockConfig.parse(config).test_case("TooLarge")
        execution_id = engine.start(definition, {"key": "a.png"}, context=case.context())
        engine.run_until_idle(skip_time=True)
        record = engine.get(execution_id)
        assert record.status == "succeeded", record.errors
        assert record.output == {"Error": "ImageTooLarge", "Cause": "over 10 MB"}
        types = _types(engine, execution_id)
        assert types[:5] == [
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionFailed",
        ]
    finally:
        engine.close()


def test_gaps_and_empty_responses_are_read_and_fail_only_when_reached() -> None:
    """As Step Functions Local: a response is looked up when its state runs."""
    config = json.loads(json.dumps(CONFIG))
    config["MockedResponses"]["Unused"] = {}
    config["MockedResponses"]["QueueAccepts"]["2"] = {"Return": {"MessageId": "m-3"}}
    parsed = MockConfig.parse(config, origin="mocks.json")
    assert mocked_response(parsed.responses["QueueAccepts"], 1) is None
    assert mocked_response(parsed.responses["Unused"], 0) is None


def test_an_invocation_without_a_response_fails_the_execution(tmp_path: Path) -> None:
    config = json.loads(json.dumps(CONFIG))
    config["MockedResponses"]["CheckBusyTwice"].pop("2")  # the third call finds nothing
    engine = _engine(tmp_path)
    try:
        definition = engine.register(json.dumps(MACHINE), kind="states", name="Orders")
        case = MockConfig.parse(config).test_case("BusyThenPasses")
        execution_id = engine.start(definition, {"order": 1}, context=case.context())
        engine.run_until_idle(skip_time=True)
        record = engine.get(execution_id)
        assert record.status == "failed"
        error = record.errors[0]
        assert isinstance(error, dict)
        # Not caught by the state's States.ALL catcher: the test case itself is wrong.
        assert error["error"] == "States.Runtime"
        assert "'Check'" in str(error["cause"]) and "invocation 2" in str(error["cause"])
    finally:
        engine.close()


def test_an_activity_state_cannot_be_mocked(tmp_path: Path) -> None:
    machine = {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:us-east-1:111111111111:activity:approve",
                "End": True,
            }
        },
    }
    config = {
        "StateMachines": {"A": {"TestCases": {"T": {"Approve": "Yes"}}}},
        "MockedResponses": {"Yes": {"0": {"Return": {"approved": True}}}},
    }
    engine = _engine(tmp_path)
    try:
        definition = engine.register(json.dumps(machine), kind="states", name="A")
        case = MockConfig.parse(config).test_case("T")
        execution_id = engine.start(definition, {}, context=case.context())
        engine.run_until_idle(skip_time=True)
        record = engine.get(execution_id)
        assert record.status == "failed"
        assert isinstance(record.errors[0], dict)
        assert record.errors[0]["error"] == "States.Runtime"
        assert "cannot be mocked" in str(record.errors[0]["cause"])
    finally:
        engine.close()
