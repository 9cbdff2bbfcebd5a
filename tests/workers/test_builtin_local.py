"""core.local with real subprocesses."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from cadenza.model.events import JSON
from cadenza.workers import ActivityContext, ActivityOutcome, ActivityRegistry, run_activity


def _wait_for(predicate: object, what: str, seconds: float = 10.0) -> None:
    """Poll ``predicate`` until it holds, failing after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _is_gone(pid: int) -> bool:
    """Whether ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


def test_success(registry: ActivityRegistry, context: ActivityContext) -> None:
    outcome = run_activity(registry, "core.local", {"cmd": "echo hello; echo warn >&2"}, context)
    assert outcome == ActivityOutcome.succeeded(
        {"stdout": "hello", "stderr": "warn", "return_code": 0, "succeeded": True, "failed": False}
    )


def test_only_one_trailing_newline_is_stripped(
    registry: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run_activity(registry, "core.local", {"cmd": r"printf 'a\n\nb\r\n\n'"}, context)
    assert outcome.result["stdout"] == "a\n\nb\r\n"
    outcome = run_activity(registry, "core.local", {"cmd": r"printf 'a\r\n'"}, context)
    assert outcome.result["stdout"] == "a"


def test_non_zero_exit_fails_with_the_result(
    registry: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run_activity(
        registry, "core.local", {"cmd": "echo partial; echo oops >&2; exit 3"}, context
    )
    assert outcome.status == "failed"
    assert outcome.result == {
        "stdout": "partial",
        "stderr": "oops",
        "return_code": 3,
        "succeeded": False,
        "failed": True,
    }
    assert outcome.error is not None
    assert outcome.error.type == "command.failed"
    assert "code 3" in outcome.error.message
    assert not outcome.error.non_retryable


def test_timeout_kills_the_whole_process_group(
    registry: ActivityRegistry, context: ActivityContext, tmp_path: Path
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    # The shell starts a background grandchild, records its pid, then waits on it.
    cmd = f"sleep 60 & echo $! > {pid_file}; echo started; wait"
    started = time.monotonic()
    outcome = run_activity(registry, "core.local", {"cmd": cmd, "timeout": 0.5}, context)
    assert time.monotonic() - started < 10
    assert outcome.status == "timeout"
    assert outcome.error is not None and outcome.error.type == "task.timeout"
    assert "0.5 seconds" in outcome.error.message
    assert outcome.result["return_code"] == -9
    assert outcome.result["stdout"] == "started"
    assert outcome.result["failed"] is True
    grandchild = int(pid_file.read_text())
    _wait_for(lambda: _is_gone(grandchild), f"grandchild {grandchild} to die")


def test_cwd(registry: ActivityRegistry, context: ActivityContext, tmp_path: Path) -> None:
    outcome = run_activity(registry, "core.local", {"cmd": "pwd -P", "cwd": str(tmp_path)}, context)
    assert outcome.result["stdout"] == str(tmp_path.resolve())


def test_missing_cwd_fails_clearly(
    registry: ActivityRegistry, context: ActivityContext, tmp_path: Path
) -> None:
    missing = tmp_path / "missing"
    outcome = run_activity(registry, "core.local", {"cmd": "true", "cwd": str(missing)}, context)
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.type == "command.not_started"
    assert str(missing) in outcome.error.message


def test_env_is_added_to_the_workers_environment(
    registry: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run_activity(
        registry,
        "core.local",
        {
            "cmd": 'echo "$CADENZA_GREETING $CADENZA_PORT"; command -v sh',
            "env": {
                "CADENZA_GREETING": "hi there",
                "CADENZA_PORT": 8080,
            },
        },
        context,
    )
    lines = outcome.result["stdout"].splitlines()
    assert lines[0] == "hi there 8080"
    assert lines[1].endswith("/sh")  # PATH still comes from the worker


def test_bad_input_is_non_retryable(registry: ActivityRegistry, context: ActivityContext) -> None:
    for input in ({"cmd": ""}, {"cmd": "true", "timeout": 0}, {"cmd": "true", "env": {"A": [1]}}):
        outcome = run_activity(registry, "core.local", input, context)
        assert outcome.error is not None, input
        assert outcome.error.type == "input.invalid"
        assert outcome.error.non_retryable


def test_cancellation_kills_the_command(
    registry: ActivityRegistry, context: ActivityContext, tmp_path: Path
) -> None:
    marker = tmp_path / "running"
    outcomes: list[ActivityOutcome] = []
    worker = threading.Thread(
        target=lambda: outcomes.append(
            run_activity(
                registry,
                "core.local",
                {"cmd": f"touch {marker}; sleep 60", "timeout": 120},
                context,
            )
        )
    )
    worker.start()
    _wait_for(marker.exists, "the command to start")
    context.cancel()
    worker.join(timeout=10)
    assert not worker.is_alive()
    [outcome] = outcomes
    assert outcome.status == "canceled"
    assert outcome.error is not None and outcome.error.type == "task.canceled"
    assert outcome.result["return_code"] == -9


def test_long_commands_heartbeat(
    registry: ActivityRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cadenza.workers.builtins.local_shell.HEARTBEAT_INTERVAL", 0.05)
    marker = tmp_path / "heard"
    beats: list[JSON] = []

    def on_heartbeat(details: JSON) -> None:
        beats.append(details)
        marker.touch()

    context = ActivityContext("exec-1", "task-1", on_heartbeat=on_heartbeat)
    # The command ends only once the runner has seen a heartbeat.
    cmd = f"while [ ! -f {marker} ]; do sleep 0.02; done; echo heard"
    outcome = run_activity(registry, "core.local", {"cmd": cmd, "timeout": 30}, context)
    assert outcome.result["stdout"] == "heard"
    assert beats and beats[0] is None
