"""A corpus of state machines shaped like the published samples, run with their mocks.

Each folder of ``corpus/`` holds a state machine as people deploy it
(``statemachine.asl.json``: Lambda, aws-sdk, DynamoDB, SQS, SNS, EventBridge,
nested executions, Map, Parallel, Retry and Catch), its Step Functions Local
mock configuration (``MockConfigFile.json``), an input, and what each test
case must end with (``expectations.json``: status, error, part of the output,
the states entered, how many task attempts failed). Every test case runs
through the engine with no handler at all: the mocks answer every Task.

``CADENZA_MOCK_CORPUS`` may name another folder of the same layout (for
example a checkout of published samples, arranged so) to run instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cadenza.cli.main import main
from cadenza.engine.engine import Engine
from cadenza.interpreters.states.frontend import StatesFrontEnd
from cadenza.interpreters.states.mocks import MockConfig
from cadenza.store.sqlite import SQLiteStore
from cadenza.testing.clock import FakeClock
from cadenza.workers.registry import ActivityRegistry

CORPUS = Path(os.environ.get("CADENZA_MOCK_CORPUS") or Path(__file__).parent / "corpus")
FAILED_TASK_EVENTS = {"TaskFailed", "LambdaFunctionFailed", "ActivityFailed"}


def _cases() -> list[Any]:
    found = []
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        expectations = json.loads((folder / "expectations.json").read_text())
        for case in sorted(expectations["test_cases"]):
            found.append(pytest.param(folder, case, id=f"{folder.name}:{case}"))
    return found


def _includes(whole: Any, part: Any) -> bool:
    """Whether ``part`` is in ``whole``: objects by their keys, the rest equal."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(
            key in whole and _includes(whole[key], value) for key, value in part.items()
        )
    return bool(whole == part)


@pytest.mark.parametrize(("folder", "case"), _cases())
def test_a_mocked_test_case_ends_as_expected(tmp_path: Path, folder: Path, case: str) -> None:
    expectations = json.loads((folder / "expectations.json").read_text())
    expected = expectations["test_cases"][case]
    machine_name = expectations["state_machine"]
    mocks = MockConfig.read(folder / "MockConfigFile.json").test_case(case, machine_name)
    engine = Engine(
        SQLiteStore(str(tmp_path / "cadenza.db")),
        registry=ActivityRegistry(),  # no handlers: every Task must be mocked
        clock=FakeClock(1_700_000_000.0),
        front_ends={"states": StatesFrontEnd()},
    )
    try:
        source = (folder / "statemachine.asl.json").read_text()
        definition = engine.register(source, kind="states", name=machine_name)
        data = json.loads((folder / "input.json").read_text())
        execution_id = engine.start(definition, data, context=mocks.context())
        engine.run_until_idle(skip_time=True)
        record = engine.get(execution_id)
        history = engine.history_view(execution_id, "sfn")
    finally:
        engine.close()
    assert isinstance(history, list)
    assert record.status == expected["status"], record.errors
    if "error" in expected:
        assert isinstance(record.errors[0], dict)
        assert record.errors[0]["error"] == expected["error"]
    if "output_includes" in expected:
        assert _includes(record.output, expected["output_includes"]), record.output
    events = [e for e in history if isinstance(e, dict)]
    if "states" in expected:
        entered = {
            e["stateEnteredEventDetails"]["name"]
            for e in events
            if str(e["type"]).endswith("StateEntered")
        }
        assert entered == set(expected["states"])
    failed = sum(1 for e in events if e["type"] in FAILED_TASK_EVENTS)
    assert failed == expected.get("failed_tasks", failed)


def test_a_corpus_case_runs_unchanged_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = CORPUS / "sales-lead"
    if not folder.is_dir():
        pytest.skip(f"no sales-lead folder in {CORPUS}")
    store = f"sqlite:///{tmp_path / 'cadenza.db'}"
    code = main(
        [
            "run",
            str(folder / "statemachine.asl.json"),
            "--store",
            store,
            "--input-file",
            str(folder / "input.json"),
            "--mock-config",
            str(folder / "MockConfigFile.json"),
            "--test-case",
            "NegativeSentiment",
            "--json",
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["output"]["review"] == {"messageId": "msg-1"}
