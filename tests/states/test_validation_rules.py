"""Unit tests of States definition validation: rules, locations, lines, several problems."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from cadenza.interpreters.states.validation import (
    InvalidStatesDefinition,
    StatesDefinition,
    UnloadableStatesDefinition,
    diagnose,
    validate_definition,
    validate_state_machine_definition,
)
from cadenza.model.errors import DefinitionError, DefinitionLoadError


def machine(states: dict[str, Any], start: str | None = None, **top: Any) -> dict[str, Any]:
    """A definition with these states, starting at the first one."""
    return {"StartAt": start or next(iter(states)), "States": states, **top}


def problems_of(definition: Any, machine_type: str = "STANDARD") -> list[tuple[str, str, str]]:
    """(code, message, location) of every problem found."""
    return [
        (str(d.code), d.message, d.location or "")
        for d in diagnose(definition, machine_type).diagnostics
    ]


PASS_END = {"Type": "Pass", "End": True}


# --- the two entry points ---------------------------------------------------


def test_a_valid_definition_comes_back_typed() -> None:
    text = json.dumps(machine({"A": {"Type": "Pass", "End": True}}, QueryLanguage="JSONata"))
    checked = validate_definition(text, origin="flow.asl.json")
    assert isinstance(checked, StatesDefinition)
    assert checked.query_language == "JSONata"
    assert checked.start_at == "A"
    assert checked.states["A"]["Type"] == "Pass"
    assert checked.origin == "flow.asl.json"
    assert checked.state_query_language({"Type": "Pass"}) == "JSONata"


def test_several_problems_are_joined_as_aws_joins_them() -> None:
    definition = machine(
        {"pass1": {"Type": "Pass", "Next": "pass3"}, "pass2": {"Type": "Pass", "End": True}}
    )
    with pytest.raises(InvalidStatesDefinition) as caught:
        validate_definition(definition)
    error = caught.value
    assert isinstance(error, DefinitionError)
    assert error.aws_message == (
        "Invalid State Machine Definition: "
        "'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at /States/pass1/Next, "
        'MISSING_TRANSITION_TARGET: State "pass2" is not reachable. at /States/pass2\''
    )
    assert error.message == error.aws_message
    assert error.to_aws() == {"code": "InvalidDefinition", "message": error.aws_message}
    assert [p.spec_path for p in error.problems] == ["/States/pass1/Next", "/States/pass2"]
    assert {p.category for p in error.problems} == {"semantic"}


def test_every_problem_is_listed_not_just_the_first() -> None:
    definition = machine(
        {
            "A": {"Type": "Pass", "Bogus": 1, "Next": "B"},
            "B": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "Next": "C"},
            "C": {"Type": "Task", "End": True},
        }
    )
    assert problems_of(definition) == [
        ("SCHEMA_VALIDATION_FAILED", "Field 'Bogus' is not supported", "/States/A"),
        (
            "SCHEMA_VALIDATION_FAILED",
            "Exactly one of these fields must be set: [Seconds, Timestamp, SecondsPath, "
            "TimestampPath]",
            "/States/B",
        ),
        (
            "SCHEMA_VALIDATION_FAILED",
            "The field 'Resource' is required but was missing",
            "/States/C",
        ),
    ]


def test_the_error_survives_pickling() -> None:
    with pytest.raises(InvalidStatesDefinition) as caught:
        validate_definition(machine({"A": {"Type": "Pass"}}))
    copy = pickle.loads(pickle.dumps(caught.value))
    assert copy.aws_message == caught.value.aws_message
    assert copy.problems == caught.value.problems
    assert copy.diagnostics == caught.value.diagnostics


# --- line numbers -----------------------------------------------------------

TEXT = """{
  "StartAt": "First",
  "States": {
    "First": {
      "Type": "Pass",
      "Next": "Nowhere"
    },
    "Second": {
      "Type": "Wait",
      "Timestamp": "2016-12-05 21:29:29Z",
      "End": true
    }
  }
}"""


def test_problems_carry_the_line_of_the_field() -> None:
    with pytest.raises(InvalidStatesDefinition) as caught:
        validate_definition(TEXT, origin="flow.json")
    lines = {p.spec_path: p.line for p in caught.value.problems}
    assert lines == {
        "/States/First/Next": 6,
        "/States/Second/Timestamp": 10,
        "/States/Second": 8,
    }
    assert caught.value.source == "flow.json"
    assert "(line 6)" in str(caught.value.problems[0])


def test_a_valid_definition_keeps_its_line_map() -> None:
    text = TEXT.replace('"Nowhere"', '"Second"').replace(
        "2016-12-05 21:29:29Z", "2016-12-05T21:29:29Z"
    )
    checked = validate_definition(text)
    assert checked.line_of("/States/Second/Timestamp") == 10
    assert checked.line_of("/States/Second/Missing") == 8
    assert validate_definition(json.loads(text)).line_of("/States/Second") is None


def test_text_that_is_not_json_names_line_and_column() -> None:
    with pytest.raises(UnloadableStatesDefinition) as caught:
        validate_definition('{\n  "StartAt": "A",\n  "States": nope\n}')
    error = caught.value
    assert isinstance(error, DefinitionLoadError)
    assert error.problems[0].line == 3
    assert "line: 3, column: 17" in error.aws_message
    assert error.aws_message.startswith(
        "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: Unrecognized token 'nope'"
    )


@pytest.mark.parametrize("text", ["", "  ", "[]", '"text"', "3"])
def test_a_value_that_is_not_an_object_is_unloadable(text: str) -> None:
    with pytest.raises(UnloadableStatesDefinition) as caught:
        validate_definition(text)
    assert caught.value.aws_message == (
        "Invalid State Machine Definition: "
        "'SCHEMA_VALIDATION_FAILED: Definition must be a valid JSON object'"
    )


def test_duplicate_state_names_in_the_text_are_refused() -> None:
    text = '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "A": {"Type": "Succeed"}}}'
    assert problems_of(text) == [
        ("DUPLICATE_STATE_NAME", "Duplicate State name: A", "/States/A"),
    ]


# --- ValidateStateMachineDefinition ------------------------------------------


def test_validate_reports_ok_and_truncates() -> None:
    good = json.dumps(machine({"A": PASS_END}))
    assert validate_state_machine_definition(good) == {
        "result": "OK",
        "diagnostics": [],
        "truncated": False,
    }
    bad = json.dumps(machine({"A": {"Type": "Pass", "X": 1, "Y": 2, "End": True}}))
    response = validate_state_machine_definition(bad, max_results=1, severity="WARNING")
    assert response["result"] == "FAIL"
    assert response["truncated"] is True
    assert response["diagnostics"] == [
        {
            "severity": "ERROR",
            "code": "SCHEMA_VALIDATION_FAILED",
            "message": "Field 'X' is not supported",
            "location": "/States/A",
        }
    ]


def test_validate_refuses_unknown_request_values() -> None:
    with pytest.raises(ValueError):
        validate_state_machine_definition("{}", machine_type="FAST")
    with pytest.raises(ValueError):
        validate_state_machine_definition("{}", severity="INFO")


# --- graph ------------------------------------------------------------------


def test_a_loop_with_no_terminal_state() -> None:
    definition = machine(
        {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}, "C": PASS_END}
    )
    assert problems_of(definition) == [
        ("MISSING_TRANSITION_TARGET", 'State "C" is not reachable.', "/States/C"),
    ]
    loop = machine({"A": {"Type": "Pass", "Next": "A"}, "Z": {"Type": "Pass", "Next": "A"}})
    assert problems_of(loop) == [("MISSING_END_STATE", "Workflow has no terminal state", "")]


def test_transitions_stay_inside_their_scope() -> None:
    branch = machine({"Inner": {"Type": "Pass", "Next": "Outer"}})
    definition = machine(
        {
            "Outer": {"Type": "Parallel", "Branches": [branch], "Next": "Done"},
            "Done": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "X"}],
                "Default": "Outer",
            },
        }
    )
    found = problems_of(definition)
    assert (
        "MISSING_TRANSITION_TARGET",
        "Missing 'Next' target: Outer",
        "/States/Outer/Branches[0]/States/Inner/Next",
    ) in found
    assert (
        "MISSING_TRANSITION_TARGET",
        "Missing 'Next' target: X",
        "/States/Done/Choices[0]/Next",
    ) in found


def test_start_at_must_name_a_state() -> None:
    assert problems_of(machine({"A": PASS_END}, start="B")) == [
        ("MISSING_TRANSITION_TARGET", "Missing 'StartAt' target: B", "/StartAt"),
    ]


def test_state_names_are_at_most_80_characters() -> None:
    name = "N" * 81
    assert problems_of(machine({name: PASS_END}))[0][0] == "INVALID_STATE_NAME"
    assert problems_of(machine({"N" * 80: PASS_END})) == []


# --- fields per state type and query language -------------------------------


def test_fields_of_the_other_query_language() -> None:
    assert problems_of(machine({"A": {"Type": "Pass", "Output": 1, "End": True}})) == [
        (
            "SCHEMA_VALIDATION_FAILED",
            "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for "
            "the 'JSONata' QueryLanguage",
            "/States/A",
        )
    ]
    jsonata = machine(
        {"A": {"Type": "Pass", "InputPath": "$", "End": True}}, QueryLanguage="JSONata"
    )
    assert problems_of(jsonata)[0][1].startswith("The QueryLanguage is set to 'JSONata'")


def test_a_jsonata_machine_cannot_go_back_to_jsonpath() -> None:
    definition = machine(
        {"A": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}}, QueryLanguage="JSONata"
    )
    assert problems_of(definition) == [
        (
            "SCHEMA_VALIDATION_FAILED",
            "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
            "/States/A",
        )
    ]


def test_retry_and_catch_shapes() -> None:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"], "BackoffRate": 0.5}],
        "Catch": [{"ErrorEquals": ["States.ALL", "X"], "Next": "A"}, {"ErrorEquals": []}],
        "End": True,
    }
    messages = [m for _, m, _ in problems_of(machine({"A": task}))]
    assert messages == [
        "'States.ALL' must be the only error name in the last 'ErrorEquals'",
        "The value of the field 'BackoffRate' must be a number not less than 1.0",
        "'States.ALL' must be the only error name in the last 'ErrorEquals'",
        "The value of the field 'ErrorEquals' must be a non-empty array of strings",
        "The field 'Next' is required but was missing",
    ]


def test_choice_rules() -> None:
    choice = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.a", "NumericEquals": "1", "Next": "End"},
            {"And": [{"Variable": "$.b", "IsPresent": True, "Next": "End"}], "Next": "End"},
            {"Variable": "$.c", "Next": "End"},
            {"Variable": "$..[", "IsNull": True, "Next": "End"},
        ],
    }
    found = problems_of(machine({"C": choice, "End": {"Type": "Succeed"}}))
    assert [(m, loc) for _, m, loc in found] == [
        (
            "The value of the field 'NumericEquals' must be a number",
            "/States/C/Choices[0]/NumericEquals",
        ),
        ("A nested Choice rule must not have 'Next'", "/States/C/Choices[1]/And[0]"),
        (
            "The Choice rule must have exactly one comparison operator or combinator",
            "/States/C/Choices[2]",
        ),
        (
            "The value for the field 'Variable' must be a valid JSONPath",
            "/States/C/Choices[3]/Variable",
        ),
    ]


def test_map_processor_and_parallel_branches() -> None:
    definition = machine(
        {
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "QueryLanguage": "JSONata",
                    "ProcessorConfig": {"Mode": "SIDEWAYS"},
                    "StartAt": "P",
                    "States": {"P": PASS_END},
                },
                "MaxConcurrency": -1,
                "Label": "has space",
                "Next": "Par",
            },
            "Par": {"Type": "Parallel", "Branches": [], "End": True},
        }
    )
    assert problems_of(definition) == [
        (
            "SCHEMA_VALIDATION_FAILED",
            "The value of the field 'MaxConcurrency' must be an integer not less than 0",
            "/States/M/MaxConcurrency",
        ),
        ("INVALID_LABEL_NAME", "Invalid label: 'has space'", "/States/M/Label"),
        (
            "SCHEMA_VALIDATION_FAILED",
            "Field 'QueryLanguage' is not supported",
            "/States/M/ItemProcessor",
        ),
        (
            "SCHEMA_VALIDATION_FAILED",
            "The value for 'Mode' must be one of the values: [INLINE, DISTRIBUTED] "
            "but was 'SIDEWAYS'",
            "/States/M/ItemProcessor/ProcessorConfig/Mode",
        ),
        (
            "SCHEMA_VALIDATION_FAILED",
            "The value of the field 'Branches' must be a non-empty array",
            "/States/Par/Branches",
        ),
    ]


# --- expressions --------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "$.a.b[0]",
        "$$.Execution.Id",
        "$myVar.field",
        "$.items[?(@.price > 10)]",
        "States.Format('a {} \\\\{literal\\\\}', $.x)",
        "States.Array(1, 'two', true, null, States.UUID())",
        "States.StringSplit('Hello\nWorld', '\n')",
    ],
)
def test_dynamic_keys_accept_paths_and_intrinsics(value: str) -> None:
    definition = machine({"A": {"Type": "Pass", "Parameters": {"v.$": value}, "End": True}})
    assert problems_of(definition) == []


@pytest.mark.parametrize(
    "value",
    [
        "a.b",
        "$.",
        "States.Nope()",
        "States.Format('x', ",
        "States.UUID(1)",
        "States.Format('\\\"')",
    ],
)
def test_dynamic_keys_refuse_bad_paths_and_calls(value: str) -> None:
    definition = machine({"A": {"Type": "Pass", "Parameters": {"n": {"v.$": value}}, "End": True}})
    assert problems_of(definition) == [
        (
            "SCHEMA_VALIDATION_FAILED",
            "The value for the field 'v.$' must be a valid JSONPath "
            "or a valid intrinsic function call",
            "/States/A/Parameters",
        )
    ]


def test_result_path_must_name_one_node() -> None:
    definition = machine({"A": {"Type": "Pass", "ResultPath": "$.a[*]", "End": True}})
    assert problems_of(definition) == [
        (
            "SCHEMA_VALIDATION_FAILED",
            "The value for the field 'ResultPath' must be a valid ReferencePath",
            "/States/A/ResultPath",
        )
    ]


def test_jsonata_expressions_are_parsed() -> None:
    definition = machine(
        {
            "A": {
                "Type": "Pass",
                "Output": {"ok": "{% $states.input.a %}", "bad": "{% 1 + %}", "top": "{% phone %}"},
                "End": True,
            }
        },
        QueryLanguage="JSONata",
    )
    found = problems_of(definition)
    assert [(c, loc) for c, _, loc in found] == [
        ("INVALID_JSONATA_EXPRESSION", "/States/A/Output/bad"),
        ("UNSUPPORTED_JSONATA_EXPRESSION", "/States/A/Output/top"),
    ]
    assert found[1][1] == "Reference to 'phone' at the top level is not supported."


@pytest.mark.parametrize(
    ("stamp", "ok"),
    [
        ("2016-03-14T01:59:00Z", True),
        ("2016-03-14T01:59:00.123+05:30", True),
        ("2016-02-30T01:59:00Z", False),
        ("2016-03-14T01:59:00", False),
    ],
)
def test_wait_timestamps_are_rfc3339(stamp: str, ok: bool) -> None:
    definition = machine({"W": {"Type": "Wait", "Timestamp": stamp, "End": True}})
    assert (problems_of(definition) == []) is ok


# --- machine types ------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (
            "arn:aws:states:::states:startExecution.sync:2",
            "Express state machine does not support '.sync' service integration",
        ),
        (
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Express state machine does not support '.waitForTaskToken' service integration ",
        ),
        (
            "arn:aws:states:us-east-1:111111111111:activity:a",
            "Express state machine does not support Activity ARN",
        ),
    ],
)
def test_express_machines_refuse_waiting_tasks(resource: str, message: str) -> None:
    task = {"Type": "Task", "Resource": resource, "End": True}
    inner = machine({"T": task})
    definition = machine({"M": {"Type": "Map", "ItemProcessor": inner, "End": True}})
    assert problems_of(definition, "EXPRESS") == [
        ("SCHEMA_VALIDATION_FAILED", message, "/States/M/ItemProcessor/States/T/Resource")
    ]
    assert problems_of(definition, "STANDARD") == []


# --- recorded AWS answers not among the shared cases ---------------------------


def test_not_json_is_described_as_aws_json_reader_does() -> None:
    where = '[Source: (String)"not a definition"; line: 1, column: 4]'
    assert validate_state_machine_definition("not a definition") == {
        "result": "FAIL",
        "diagnostics": [
            {
                "severity": "ERROR",
                "code": "INVALID_JSON_DESCRIPTION",
                "message": "Unrecognized token 'not': was expecting (JSON String, Number, Array, "
                f"Object or token 'null', 'true' or 'false')\n at {where}",
                "location": where,
            }
        ],
        "truncated": False,
    }


@pytest.mark.parametrize("machine_type", ["STANDARD", "EXPRESS"])
def test_missing_start_at_is_listed_at_the_root(machine_type: str) -> None:
    text = json.dumps({"Comment": "BASE_PASS", "States": {"StartState": PASS_END}})
    assert validate_state_machine_definition(text, machine_type=machine_type) == {
        "result": "FAIL",
        "diagnostics": [
            {
                "severity": "ERROR",
                "code": "SCHEMA_VALIDATION_FAILED",
                "message": "These fields are required: [StartAt]",
                "location": "/",
            }
        ],
        "truncated": False,
    }


def test_the_public_surface_is_pinned() -> None:
    from cadenza.interpreters.states import validation

    assert sorted(validation.__all__) == [
        "Code",
        "Diagnosis",
        "Diagnostic",
        "InvalidStatesDefinition",
        "StatesDefinition",
        "UnloadableStatesDefinition",
        "aws_message",
        "definition_warnings",
        "diagnose",
        "validate_definition",
        "validate_state_machine_definition",
    ]
