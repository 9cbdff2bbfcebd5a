"""Redrive a failed state machine from the failed state, also across a SIGKILL.

Real processes: ``cadenza run`` fails on a broken step, the cause is fixed,
``cadenza redrive`` is killed while the redriven step runs, and ``cadenza
worker`` finishes the execution. Steps that succeeded before the failure
never run again; the history says ``ExecutionRedriven``.
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

from cadenza.interpreters.states.history import sfn_history
from cadenza.store.sqlite import SQLiteStore

FN = "arn:aws:lambda:us-east-1:111111111111:function:"

HANDLERS = """
import os, time
def step(event):
    name = event["step"]
    with open(os.environ["MARKS"], "a") as f:
        f.write(f"start {name}\\n")
    if name == "load" and os.path.exists(os.environ["BROKEN"]):
        raise RuntimeError("the warehouse is down")
    if name == "load":
        time.sleep(float(os.environ.get("LOAD_SECONDS", "0")))
    with open(os.environ["MARKS"], "a") as f:
        f.write(f"end {name}\\n")
    return {"done": name}
"""

MACHINE = {
    "StartAt": "Extract",
    "States": {
        "Extract": {
            "Type": "Task",
            "Resource": f"{FN}step",
            "Parameters": {"step": "extract"},
            "ResultPath": "$.extract",
            "Next": "Transform",
        },
        "Transform": {
            "Type": "Task",
            "Resource": f"{FN}step",
            "Parameters": {"step": "transform"},
            "ResultPath": "$.transform",
            "Next": "Load",
        },
        "Load": {
            "Type": "Task",
            "Resource": f"{FN}step",
            "Parameters": {"step": "load"},
            "ResultPath": "$.load",
            "End": True,
        },
    },
}


def _marks(path: Path) -> Counter[str]:
    return Counter(path.read_text().splitlines()) if path.exists() else Counter()


@pytest.mark.slow
def test_redrive_after_failure_and_after_a_kill_reruns_only_the_failed_state(
    tmp_path: Path,
) -> None:
    (tmp_path / "pipeline_handlers.py").write_text(HANDLERS)
    (tmp_path / "machine.asl.json").write_text(json.dumps(MACHINE))
    (tmp_path / "resources.yaml").write_text(f"{FN}step:\n  python: pipeline_handlers:step\n")
    marks, broken = tmp_path / "marks.txt", tmp_path / "broken"
    broken.write_text("")
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "MARKS": str(marks),
        "BROKEN": str(broken),
        "CADENZA_STORE": f"sqlite:///{tmp_path / 'cadenza.db'}",
    }
    cadenza = [sys.executable, "-m", "cadenza"]
    resources = ["--resources", "resources.yaml"]

    first = subprocess.run(
        [*cadenza, "run", "machine.asl.json", *resources, "--json", "--quiet"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert first.returncode == 1, first.stderr
    failed = json.loads(first.stdout)
    assert failed["errors"] == [{"error": "RuntimeError", "cause": failed["errors"][0]["cause"]}]
    assert "the warehouse is down" in failed["errors"][0]["cause"]

    broken.unlink()
    env["LOAD_SECONDS"] = "30"
    redrive = subprocess.Popen(
        [*cadenza, "redrive", failed["execution_id"], *resources, "--quiet"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while _marks(marks)["start load"] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    redrive.send_signal(signal.SIGKILL)
    redrive.wait(timeout=30)
    assert _marks(marks)["start load"] == 2, "the redriven Load never started"

    env["LOAD_SECONDS"] = "0"
    done = subprocess.run(
        [*cadenza, "worker", "--exit-when-idle", *resources],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    counts = _marks(marks)
    assert counts["start extract"] == 1 and counts["start transform"] == 1
    assert counts["end load"] == 1
    store = SQLiteStore(str(tmp_path / "cadenza.db"))
    record = store.load_execution(failed["execution_id"])
    assert record.status == "succeeded"
    assert record.output["load"] == {"done": "load"}
    assert record.output["extract"] == {"done": "extract"}
    events = sfn_history(store.read_history(record.id))
    types = [e["type"] for e in events]
    assert types.count("ExecutionRedriven") == 1
    assert types[-1] == "ExecutionSucceeded"
    store.close()
