"""Kill a real ``cadenza run`` mid-workflow; a new process finishes the run.

The workflow has 20 sequential shell steps of about 50 ms; each step appends
its number to a file when it starts and again when it ends, so the file
counts side effects. The first process is SIGKILLed while step 11 runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cadenza.store.sqlite import SQLiteStore

STEPS = 20


def _workflow(marks: Path) -> str:
    lines = ["version: 1.0", "", "tasks:"]
    for i in range(1, STEPS + 1):
        lines.append(f"  step{i}:")
        cmd = f"echo start {i} >> {marks}; sleep 0.05; echo end {i} >> {marks}"
        lines.append("    action: core.local")
        lines.append("    input:")
        lines.append(f"      cmd: {json.dumps(cmd)}")
        if i < STEPS:
            lines.append("    next:")
            lines.append("      - when: <% succeeded() %>")
            lines.append(f"        do: step{i + 1}")
    lines += ["", "output:", "  - done: <% task_status(step20) %>", ""]
    return "\n".join(lines)


def _marks(path: Path) -> Counter[str]:
    if not path.exists():
        return Counter()
    return Counter(line.strip() for line in path.read_text().splitlines() if line.strip())


def _wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_sigkill_mid_run_then_a_new_process_finishes_without_redoing_steps(tmp_path: Path) -> None:
    marks = tmp_path / "marks.txt"
    flow = tmp_path / "twenty.yaml"
    flow.write_text(_workflow(marks))
    store_url = f"sqlite:///{tmp_path / 'cadenza.db'}"
    env = {**os.environ, "CADENZA_STORE": store_url}
    cadenza = [sys.executable, "-m", "cadenza"]

    # A long lease: the restart must not wait for it, because the old owner is
    # provably dead (same host, process gone).
    first = subprocess.Popen(
        [*cadenza, "run", str(flow), "--lease", "600", "--quiet"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(lambda: "start 11" in _marks(marks), 60, "step 11 to start")
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    assert _marks(marks)["end 11"] == 0, "step 11 finished before the kill; the test proves nothing"

    restarted = time.monotonic()
    second = subprocess.run(
        [*cadenza, "worker", "--exit-when-idle"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = time.monotonic() - restarted
    assert second.returncode == 0, second.stderr
    assert took < 60, f"the restart waited {took:.0f}s: it must not wait for the 600 s lease"

    counts = _marks(marks)
    for i in range(1, 11):
        assert counts[f"start {i}"] == 1, f"step {i} ran again after the restart"
    assert 1 <= counts["start 11"] <= 2
    for i in range(11, STEPS + 1):
        assert counts[f"end {i}"] >= 1, f"step {i} never finished"

    store = SQLiteStore(str(tmp_path / "cadenza.db"))
    [record] = store.list_executions()
    assert record.status == "succeeded"
    assert record.output == {"done": "succeeded"}
    history = store.read_history(record.id)
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    scheduled = Counter(e.event.task_id for e in history if e.event.type == "TaskScheduled")  # type: ignore[attr-defined]
    completed = Counter(e.event.task_id for e in history if e.event.type == "TaskCompleted")  # type: ignore[attr-defined]
    assert set(scheduled.values()) == {1}, "a task was scheduled twice"
    assert completed == scheduled, "every scheduled task completes exactly once in history"
    assert len(scheduled) == STEPS
    store.close()
