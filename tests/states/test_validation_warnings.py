"""Validation warnings where Step Functions warns: NO_DOLLAR, NO_PATH, PASS_RESULT_IS_STATIC.

A warning never makes a definition invalid; ValidateStateMachineDefinition
lists it when asked for ``WARNING`` severity, and ``cadenza validate`` prints
it while still saying the file is valid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cadenza.cli.main import main
from cadenza.interpreters.states.frontend import StatesFrontEnd
from cadenza.interpreters.states.validation import (
    definition_warnings,
    validate_state_machine_definition,
)


def machine(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states, **top}


TASK = "arn:aws:lambda:us-east-1:111111111111:function:f"


def _codes_at(definition: dict[str, Any]) -> list[tuple[str, str]]:
    response = validate_state_machine_definition(json.dumps(definition), severity="WARNING")
    assert response["result"] == "OK", response
    return [(d["code"], d["location"]) for d in response["diagnostics"]]


def test_a_path_in_a_field_without_dollar_is_a_no_dollar_warning() -> None:
    definition = machine(
        {
            "Call": {
                "Type": "Task",
                "Resource": TASK,
                "Parameters": {
                    "order": "$.order",
                    "nested": {"when": "$$.Execution.StartTime", "fine.$": "$.x"},
                    "text": "costs $5",
                    "id": "States.UUID()",
                },
                "ResultSelector": {"body": "$.Payload"},
                "End": True,
            }
        }
    )
    assert _codes_at(definition) == [
        ("NO_DOLLAR", "/States/Call/Parameters/order"),
        ("NO_DOLLAR", "/States/Call/Parameters/nested/when"),
        ("NO_DOLLAR", "/States/Call/Parameters/id"),
        ("NO_DOLLAR", "/States/Call/ResultSelector/body"),
    ]


def test_a_path_as_a_choice_value_is_a_no_path_warning() -> None:
    definition = machine(
        {
            "Pick": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.a", "StringEquals": "$.b", "Next": "Done"},
                    {
                        "And": [{"Variable": "$.n", "StringEquals": "plain"}],
                        "Next": "Done",
                    },
                    {"Not": {"Variable": "$.t", "TimestampEquals": "$.u"}, "Next": "Done"},
                ],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        }
    )
    assert _codes_at(definition) == [
        ("NO_PATH", "/States/Pick/Choices[0]/StringEquals"),
        ("NO_PATH", "/States/Pick/Choices[2]/Not/TimestampEquals"),
    ]


def test_a_path_in_a_pass_result_is_static() -> None:
    definition = machine(
        {"P": {"Type": "Pass", "Result": {"a": "$.x", "b.$": "$.y", "c": 1}, "End": True}}
    )
    assert _codes_at(definition) == [
        ("PASS_RESULT_IS_STATIC", "/States/P/Result/a"),
        ("PASS_RESULT_IS_STATIC", "/States/P/Result/b.$"),
    ]


def test_nested_scopes_are_walked() -> None:
    inner = machine({"In": {"Type": "Pass", "Parameters": {"v": "$.v"}, "End": True}})
    definition = machine(
        {
            "Fan": {"Type": "Parallel", "Branches": [inner], "Next": "Each"},
            "Each": {
                "Type": "Map",
                "ItemSelector": {"item": "$$.Map.Item.Value"},
                "ItemProcessor": inner,
                "End": True,
            },
        }
    )
    assert _codes_at(definition) == [
        ("NO_DOLLAR", "/States/Fan/Branches[0]/States/In/Parameters/v"),
        ("NO_DOLLAR", "/States/Each/ItemSelector/item"),
        ("NO_DOLLAR", "/States/Each/ItemProcessor/States/In/Parameters/v"),
    ]


def test_jsonata_states_have_no_path_warnings() -> None:
    definition = machine(
        {"P": {"Type": "Pass", "Output": {"a": "$.x"}, "End": True}}, QueryLanguage="JSONata"
    )
    assert _codes_at(definition) == []


def test_warnings_are_not_listed_at_error_severity() -> None:
    definition = machine({"P": {"Type": "Pass", "Parameters": {"a": "$.x"}, "End": True}})
    response = validate_state_machine_definition(json.dumps(definition))
    assert response == {"result": "OK", "diagnostics": [], "truncated": False}


def test_the_front_end_lists_warnings_as_problems_with_lines() -> None:
    text = json.dumps(
        machine({"P": {"Type": "Pass", "Parameters": {"a": "$.x"}, "End": True}}), indent=2
    )
    problems = StatesFrontEnd().warnings(text)
    assert [(p.spec_path, p.line) for p in problems] == [("/States/P/Parameters/a", 7)]
    assert "NO_DOLLAR" in problems[0].message
    assert definition_warnings(text) == problems


def test_an_invalid_definition_has_no_warnings_to_add() -> None:
    assert definition_warnings("{") == []


def test_cadenza_validate_prints_warnings_and_stays_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.asl.json"
    path.write_text(
        json.dumps(machine({"P": {"Type": "Pass", "Parameters": {"a": "$.x"}, "End": True}}))
    )
    assert main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    assert "valid" in captured.out
    assert "warning" in captured.err and "/States/P/Parameters/a" in captured.err
    assert main(["validate", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["valid"] is True
    assert document["warnings"][0]["spec_path"] == "/States/P/Parameters/a"
