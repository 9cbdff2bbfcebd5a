"""TestState: one state run with a given input, without an engine."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cadenza.interpreters.states.test_state import Mock, run_one_state
from cadenza.model.errors import DefinitionError, InputError

ACTIVITY = "arn:aws:states:us-east-1:111111111111:activity:work"


def one(state: dict[str, Any], given: Any, **options: Any) -> Any:
    return run_one_state(json.dumps(state), given, **options)


def test_a_pass_state_gives_its_output_and_next_state() -> None:
    outcome = one(
        {"Type": "Pass", "Parameters": {"x.$": "$.a"}, "ResultPath": "$.r", "Next": "B"},
        {"a": 1},
    )
    assert outcome.status == "SUCCEEDED"
    assert outcome.output == {"a": 1, "r": {"x": 1}}
    assert outcome.next_state == "B"
    assert outcome.inspection["input"] == '{"a":1}'


def test_a_choice_names_the_branch_taken_or_fails_without_one() -> None:
    choice = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}],
        "Default": "Small",
    }
    assert one(choice, {"n": 11}).next_state == "Big"
    assert one(choice, {"n": 1}).next_state == "Small"
    del choice["Default"]
    failed = one(choice, {"n": 1})
    assert (failed.status, failed.error) == ("FAILED", "States.NoChoiceMatched")
    assert failed.next_state is None and not failed.has_output


def test_a_state_of_a_whole_machine_is_picked_by_name() -> None:
    machine = {
        "StartAt": "First",
        "States": {
            "First": {"Type": "Pass", "Next": "Second"},
            "Second": {"Type": "Pass", "Result": "done", "End": True},
        },
    }
    outcome = run_one_state(json.dumps(machine), {}, state_name="Second")
    assert (outcome.status, outcome.output, outcome.next_state) == ("SUCCEEDED", "done", None)
    with pytest.raises(InputError, match="no state 'Third'"):
        run_one_state(json.dumps(machine), {}, state_name="Third")


def test_a_task_state_runs_on_its_mock_with_every_processing_step() -> None:
    task = {
        "Type": "Task",
        "Resource": ACTIVITY,
        "Parameters": {"n.$": "$.a"},
        "ResultSelector": {"v.$": "$.ok"},
        "ResultPath": "$.out",
        "Next": "After",
    }
    outcome = one(task, {"a": 1}, mock=Mock(result={"ok": 7}))
    assert outcome.status == "SUCCEEDED" and outcome.next_state == "After"
    assert outcome.output == {"a": 1, "out": {"v": 7}}
    assert json.loads(outcome.inspection["afterParameters"]) == {"n": 1}
    assert json.loads(outcome.inspection["result"]) == {"ok": 7}
    with pytest.raises(InputError, match="give a mock"):
        one(task, {"a": 1})


RETRIED_AND_CAUGHT = {
    "Type": "Task",
    "Resource": ACTIVITY,
    "Retry": [
        {"ErrorEquals": ["Other"], "MaxAttempts": 5},
        {"ErrorEquals": ["Boom"], "MaxAttempts": 2, "IntervalSeconds": 3, "BackoffRate": 2},
    ],
    "Catch": [
        {"ErrorEquals": ["Nope"], "Next": "Never"},
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handle"},
    ],
    "End": True,
}


def test_a_failure_a_retrier_takes_is_retriable_with_its_backoff() -> None:
    boom = Mock(error="Boom", cause="bad luck")
    first = one(RETRIED_AND_CAUGHT, {"a": 1}, mock=boom)
    assert (first.status, first.error, first.cause) == ("RETRIABLE", "Boom", "bad luck")
    assert first.inspection["errorDetails"] == {"retryIndex": 1, "retryBackoffIntervalSeconds": 3}
    second = one(RETRIED_AND_CAUGHT, {"a": 1}, mock=boom, retry_count=1)
    assert second.inspection["errorDetails"]["retryBackoffIntervalSeconds"] == 6


def test_a_failure_past_its_retries_is_caught_by_the_matching_catcher() -> None:
    caught = one(RETRIED_AND_CAUGHT, {"a": 1}, mock=Mock(error="Boom", cause="c"), retry_count=2)
    assert caught.status == "CAUGHT_ERROR"
    assert caught.next_state == "Handle"
    assert caught.output == {"a": 1, "error": {"Error": "Boom", "Cause": "c"}}
    assert (caught.error, caught.cause) == ("Boom", "c")
    assert caught.inspection["errorDetails"] == {"catchIndex": 1}


def test_a_failure_nothing_handles_fails_the_state() -> None:
    plain = {"Type": "Task", "Resource": ACTIVITY, "End": True}
    failed = one(plain, {}, mock=Mock(error="Boom", cause="c"))
    assert (failed.status, failed.error, failed.cause) == ("FAILED", "Boom", "c")
    fail = one({"Type": "Fail", "Error": "Mine", "Cause": "because"}, {})
    assert (fail.status, fail.error, fail.cause) == ("FAILED", "Mine", "because")


def test_a_wait_does_not_wait_and_variables_are_seen() -> None:
    waited = one({"Type": "Wait", "Seconds": 3600, "Next": "Later"}, {"w": 1})
    assert (waited.status, waited.output, waited.next_state) == ("SUCCEEDED", {"w": 1}, "Later")
    jsonata = {"QueryLanguage": "JSONata", "Type": "Pass", "Output": "{% $x + 1 %}", "End": True}
    assert one(jsonata, {}, variables={"x": 41}).output == 42
    assigned = one({"Type": "Pass", "Assign": {"v.$": "$.a"}, "Next": "X"}, {"a": 3})
    assert json.loads(assigned.inspection["variables"]) == {"v": 3}


def test_a_state_that_loops_to_itself_names_itself_next() -> None:
    machine = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}}
    outcome = run_one_state(json.dumps(machine), {"k": 1}, state_name="A")
    assert (outcome.status, outcome.next_state, outcome.output) == ("SUCCEEDED", "A", {"k": 1})


def test_an_invalid_state_is_refused_with_the_language_message() -> None:
    with pytest.raises(DefinitionError):
        one({"Type": "Pass", "Next": "B", "Bogus": 1}, {})
    with pytest.raises(InputError, match="Type"):
        one({"Next": "B"}, {})
    with pytest.raises(InputError, match="not JSON"):
        run_one_state("{oops", {})


def test_the_same_request_gives_the_same_answer() -> None:
    first = one(RETRIED_AND_CAUGHT, {"a": 1}, mock=Mock(error="Boom", cause="c"), retry_count=2)
    again = one(RETRIED_AND_CAUGHT, {"a": 1}, mock=Mock(error="Boom", cause="c"), retry_count=2)
    assert first == again


def test_each_jsonpath_step_of_a_state_that_succeeded_is_shown() -> None:
    task = {
        "Type": "Task",
        "Resource": ACTIVITY,
        "InputPath": "$.order",
        "Parameters": {"id.$": "$.id"},
        "ResultSelector": {"ok.$": "$.status"},
        "ResultPath": "$.check",
        "OutputPath": "$.check",
        "Next": "After",
    }
    outcome = one(task, {"order": {"id": 7}}, mock=Mock(result={"status": "fine"}))
    assert outcome.output == {"ok": "fine"}
    steps = {k: json.loads(v) for k, v in outcome.inspection.items() if k != "errorDetails"}
    assert steps == {
        "input": {"order": {"id": 7}},
        "afterInputPath": {"id": 7},
        "afterParameters": {"id": 7},
        "result": {"status": "fine"},
        "afterResultSelector": {"ok": "fine"},
        "afterResultPath": {"order": {"id": 7}, "check": {"ok": "fine"}},
    }
    passed = one(
        {"Type": "Pass", "Parameters": {"x.$": "$.a"}, "ResultPath": "$.p", "End": True},
        {"a": 1},
    )
    assert json.loads(passed.inspection["afterParameters"]) == {"x": 1}
    assert json.loads(passed.inspection["afterResultPath"]) == {"a": 1, "p": {"x": 1}}
    jsonata = one({"QueryLanguage": "JSONata", "Type": "Pass", "Output": 1, "End": True}, {})
    assert set(jsonata.inspection) == {"input"}
