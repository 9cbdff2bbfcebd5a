"""``cadenza run`` progress of a state machine: state names and types, Map
iterations counted, a Wait's end, a Choice's branch, callbacks told apart.

The end-to-end cases run ``cadenza.cli.main.main`` in-process on a scratch
SQLite store and read the progress lines it prints on stderr.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cadenza.cli.main import main
from cadenza.cli.render import ProgressPrinter
from cadenza.model.events import MarkerRecorded, TaskCompleted, TaskScheduled, TimerStarted

MACHINE = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"xs": list(range(25)), "go": True}, "Next": "Route"},
        "Route": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "Pause"}],
            "Default": "Nowhere",
        },
        "Nowhere": {"Type": "Fail", "Error": "Lost"},
        "Pause": {"Type": "Wait", "Seconds": 0, "Next": "Square"},
        "Square": {
            "Type": "Map",
            "ItemsPath": "$.xs",
            "ItemProcessor": {
                "StartAt": "Inner",
                "States": {"Inner": {"Type": "Pass", "End": True}},
            },
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def _progress(tmp_path: Path, capsys: pytest.CaptureFixture[str], machine: Any) -> list[str]:
    path = tmp_path / "progress.asl.json"
    path.write_text(json.dumps(machine))
    store = f"sqlite:///{tmp_path / 'cadenza.db'}"
    code = main(["run", str(path), "--store", store, "--json"])
    err = capsys.readouterr().err
    assert code == 0, err
    # "[   0.01s] enter     Prepare  (Pass)" -> "enter     Prepare  (Pass)"
    return [re.sub(r"^\[\s*[\d.]+s\] ", "", line) for line in err.splitlines()]


def test_states_are_told_by_name_and_type_with_the_choice_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _progress(tmp_path, capsys, MACHINE)
    assert "enter     Prepare  (Pass)" in lines
    assert "exited    Prepare  (Pass)" in lines
    assert "choice    Route -> Pause" in lines
    assert lines.index("exited    Route  (Choice)") < lines.index("choice    Route -> Pause")
    assert "enter     Done  (Succeed)" in lines
    assert lines[-1] == "workflow  succeeded"
    assert not any("root." in line for line in lines), lines  # no internal ids


def test_a_wait_says_until_when(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _progress(tmp_path, capsys, MACHINE)
    waits = [line for line in lines if line.startswith("wait ")]
    assert len(waits) == 1, lines
    assert re.fullmatch(
        r"wait      Pause  until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in 0s\)", waits[0]
    ), waits


def test_map_iterations_are_counted_not_told_one_by_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _progress(tmp_path, capsys, MACHINE)
    assert "map       Square: 25 items" in lines
    counts = [line for line in lines if re.match(r"map       Square: \d+/25 items done", line)]
    # One line at each tenth (2 items here) and one at the end, never one per item.
    assert counts[-1] == "map       Square: 25/25 items done"
    assert 2 <= len(counts) < 25, counts
    assert not any("Inner" in line for line in lines), lines
    assert lines.index("exited    Square  (Map)") > lines.index(counts[-1])


class _Outcome:
    """What a committed decision hands to listeners (only what the printer reads)."""

    def __init__(self, events: list[Any], at: float = 0.0) -> None:
        self.execution_id = "e1"
        self.appended = [(1, at, event) for event in events]


def _sfn(event_id: int, previous: int, kind: str, details: dict[str, Any] | None = None) -> Any:
    record: dict[str, Any] = {"id": event_id, "previousEventId": previous, "type": kind}
    if details is not None:
        record[f"{kind[0].lower()}{kind[1:]}EventDetails"] = details
    return MarkerRecorded(kind="sfn", details=record)


def _entered(event_id: int, previous: int, kind: str, name: str) -> Any:
    details = {"name": name, "input": "{}"}
    record = {"id": event_id, "previousEventId": previous, "type": f"{kind}StateEntered"}
    return MarkerRecorded(kind="sfn", details={**record, "stateEnteredEventDetails": details})


def _printed(events: list[Any], at: float = 0.0) -> list[str]:
    import io

    out = io.StringIO()
    ProgressPrinter("e1", out)(_Outcome(events, at))  # type: ignore[arg-type]
    return [re.sub(r"^\[\s*[\d.]+s\] ", "", line) for line in out.getvalue().splitlines()]


def test_waiting_for_a_callback_is_not_succeeded() -> None:
    resource = "invoke.waitForTaskToken"
    lines = _printed(
        [
            _sfn(1, 0, "ExecutionStarted", {"input": "{}"}),
            _entered(2, 1, "Task", "Approve"),
            _sfn(3, 2, "TaskScheduled", {"resource": resource, "resourceType": "lambda"}),
            _sfn(4, 3, "TaskStarted", {"resource": resource, "resourceType": "lambda"}),
            # The service call itself ended: the kernel says the call task succeeded.
            TaskScheduled(task_id="root.Approve.1.call", name="Approve", action="f"),
            TaskCompleted(task_id="root.Approve.1.call", status="succeeded", result={}),
            _sfn(5, 4, "TaskSubmitted", {"resource": resource, "resourceType": "lambda"}),
        ]
    )
    assert lines == [
        "enter     Approve  (Task)",
        "run       Approve  (lambda:invoke.waitForTaskToken)",
        "waiting   Approve  for a callback with its task token (lambda:invoke.waitForTaskToken)",
    ]
    answered = _sfn(6, 2, "TaskSucceeded", {"resource": resource, "output": "{}"})
    assert "succeeded Approve" in _printed([_entered(2, 1, "Task", "Approve"), answered])


def test_a_failed_task_and_parallel_branches_are_named_by_their_states() -> None:
    lines = _printed(
        [
            _entered(2, 1, "Parallel", "Both"),
            _sfn(3, 2, "ParallelStateStarted"),
            _entered(4, 3, "Task", "Left"),
            _entered(5, 3, "Task", "Right"),
            _sfn(6, 4, "LambdaFunctionScheduled", {"resource": "arn:left"}),
            _sfn(7, 5, "LambdaFunctionScheduled", {"resource": "arn:right"}),
            _sfn(8, 7, "LambdaFunctionFailed", {"error": "Boom", "cause": "bad input"}),
            _sfn(9, 6, "LambdaFunctionSucceeded", {"output": "1"}),
        ]
    )
    assert lines[-4:] == [
        "run       Left  (arn:left)",
        "run       Right  (arn:right)",
        "failed    Right  (Boom: bad input)",
        "succeeded Left",
    ]


def test_a_wait_timer_gives_the_time_it_ends() -> None:
    lines = _printed(
        [_entered(2, 1, "Wait", "Cool"), TimerStarted(timer_id="root.wait.1", delay=90.0)],
        at=0.0,
    )
    assert lines == [
        "enter     Cool  (Wait)",
        "wait      Cool  until 1970-01-01T00:01:30Z (in 90s)",
    ]


def test_a_maps_s3_reads_and_writes_are_told() -> None:
    lines = _printed(
        [
            _entered(2, 1, "Map", "Each"),
            TaskScheduled(task_id="root.Each.reader.1", name="Each", action="states.s3.read_items"),
            TaskCompleted(task_id="root.Each.reader.1", status="succeeded", result=[1, 2]),
            _sfn(3, 2, "MapStateStarted", {"length": 2}),
            TaskScheduled(
                task_id="root.Each.writer.2", name="Each", action="states.s3.write_results"
            ),
        ]
    )
    assert lines == [
        "enter     Each  (Map)",
        "s3        reading the Map's items  (Each)",
        "map       Each: 2 items",
        "s3        writing the Map Run's results  (Each)",
    ]
