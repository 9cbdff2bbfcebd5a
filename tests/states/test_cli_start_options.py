"""``cadenza run`` options of a state machine's execution: name, type, role, mocks.

Run in-process through ``cadenza.cli.main.main`` on a scratch SQLite store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cadenza.cli.main import main

CONTEXT_MACHINE = {
    "StartAt": "Show",
    "States": {
        "Show": {
            "Type": "Pass",
            "Parameters": {
                "id.$": "$$.Execution.Id",
                "name.$": "$$.Execution.Name",
                "role.$": "$$.Execution.RoleArn",
            },
            "End": True,
        }
    },
}

QUEUE_MACHINE = {
    "StartAt": "Queue",
    "States": {
        "Queue": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "https://sqs/q", "MessageBody.$": "$"},
            "End": True,
        }
    },
}

MOCKS = {
    "StateMachines": {"queue": {"TestCases": {"Sent": {"Queue": "Accepted"}}}},
    "MockedResponses": {"Accepted": {"0": {"Return": {"MessageId": "m-9"}}}},
}


def _run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], machine: Any, *options: str
) -> tuple[int, Any, str]:
    path = tmp_path / "queue.asl.json"
    path.write_text(json.dumps(machine))
    store = f"sqlite:///{tmp_path / 'cadenza.db'}"
    code = main(["run", str(path), "--store", store, "--json", "--quiet", *options])
    captured = capsys.readouterr()
    document = json.loads(captured.out) if captured.out.strip() else None
    return code, document, captured.err


def test_a_cli_run_has_a_role_arn_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document, err = _run(tmp_path, capsys, CONTEXT_MACHINE)
    assert code == 0, err
    assert document["output"]["role"] == "arn:aws:iam::111111111111:role/cadenza"
    assert document["output"]["id"].startswith("arn:aws:states:us-east-1:111111111111:execution:")


def test_name_and_role_are_chosen_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    role = "arn:aws:iam::123456789012:role/orders"
    code, document, err = _run(
        tmp_path, capsys, CONTEXT_MACHINE, "--name", "order-17", "--role-arn", role
    )
    assert code == 0, err
    output = document["output"]
    assert (output["name"], output["role"]) == ("order-17", role)
    assert output["id"].endswith(":execution:queue.asl:order-17")
    assert document["execution_id"] == "queue.asl:order-17"


def test_an_express_execution_has_an_express_arn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document, err = _run(
        tmp_path, capsys, CONTEXT_MACHINE, "--type", "EXPRESS", "--name", "quick"
    )
    assert code == 0, err
    arn = document["output"]["id"]
    assert arn.startswith("arn:aws:states:us-east-1:111111111111:express:queue.asl:quick:")
    assert len(arn.rsplit(":", 1)[1]) == 36  # a UUID of its own, as AWS gives


def test_an_express_run_checks_the_definition_as_express(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    waiting = json.loads(json.dumps(QUEUE_MACHINE))
    waiting["States"]["Queue"]["Resource"] += ".waitForTaskToken"
    code, _, err = _run(tmp_path, capsys, waiting, "--type", "EXPRESS")
    assert code == 2
    assert "/States/Queue/Resource" in err or "Queue" in err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--name", "has space"], "invalid execution name"),
        (["--type", "FAST"], "STANDARD or EXPRESS"),
        (["--test-case", "Sent"], "go together"),
    ],
)
def test_bad_start_options_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    code, _, err = _run(tmp_path, capsys, CONTEXT_MACHINE, *options)
    assert code == 2
    assert message in err


def test_a_mocked_run_needs_no_handler(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mocks = tmp_path / "MockConfigFile.json"
    mocks.write_text(json.dumps(MOCKS))
    code, document, err = _run(
        tmp_path, capsys, QUEUE_MACHINE, "--mock-config", str(mocks), "--test-case", "Sent"
    )
    assert code == 0, err
    assert document["output"] == {"MessageId": "m-9"}


def test_a_wrong_mock_config_exits_2_naming_the_file_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = json.loads(json.dumps(MOCKS))
    broken["MockedResponses"]["Accepted"]["0"] = {"Return": 1, "Throw": {"Error": "E"}}
    mocks = tmp_path / "MockConfigFile.json"
    mocks.write_text(json.dumps(broken))
    code, _, err = _run(
        tmp_path, capsys, QUEUE_MACHINE, "--mock-config", str(mocks), "--test-case", "Sent"
    )
    assert code == 2
    assert "MockConfigFile.json" in err and "MockedResponses.Accepted.0" in err
    assert not (tmp_path / "cadenza.db").exists()  # checked before the store is opened
