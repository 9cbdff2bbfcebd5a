"""Kill -9 a ``cadenza run`` of a plug-in workflow mid-way; a worker finishes it.

Six ``core.local`` steps each append ``start N`` and ``end N`` to a marks
file (the side effects). Step 4 is slow: it does not end until the test opens
a gate, so the run is killed while step 4 certainly runs. ``cadenza worker
--exit-when-idle`` on the same store then finishes the execution without
waiting for the dead process's 600 s lease, from the snapshot the plug-in's
policy saved and the history after it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cadenza.store import open_store

from .support import CadenzaCommand, snapshot_seq, wait_for

STEPS = 6
SLOW = 4


def _flow(marks: Path, gate: Path) -> str:
    parts = []
    for i in range(1, STEPS + 1):
        # The slow step waits for the gate (at most 60 s, so that nothing is
        # left running if the test fails before opening it).
        wait = (
            f"n=0; while [ ! -f {gate} ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done; "
            if i == SLOW
            else ""
        )
        cmd = f"echo start {i} >> {marks}; {wait}echo end {i} >> {marks}; echo step-{i}"
        parts.append(f'[[steps]]\nname = "step{i}"\naction = "core.local"\n')
        parts.append(f"[steps.input]\ncmd = {json.dumps(cmd)}\n\n")
    return "".join(parts)


def _marks(path: Path) -> Counter[str]:
    if not path.exists():
        return Counter()
    return Counter(line.strip() for line in path.read_text().splitlines() if line.strip())


@pytest.mark.slow
def test_kill_9_mid_run_then_a_worker_finishes_without_redoing_steps(
    cadenza: CadenzaCommand, plugin_env: dict[str, str], tmp_path: Path, store_url: str
) -> None:
    marks, gate = tmp_path / "marks.txt", tmp_path / "gate"
    (tmp_path / "six.steps.toml").write_text(_flow(marks, gate))

    run = ["run", "six.steps.toml", "--store", store_url, "--lease", "600", "--quiet"]
    first = subprocess.Popen(
        [sys.executable, "-m", "cadenza", *run],
        cwd=tmp_path,
        env=plugin_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        try:
            wait_for(lambda: f"start {SLOW}" in _marks(marks), 60, f"step {SLOW} to start")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        before = _marks(marks)
        assert before[f"end {SLOW}"] == 0, "the slow step ended before the kill"
        assert all(before[f"start {i}"] == 0 for i in range(SLOW + 1, STEPS + 1))

        store = open_store(store_url)
        try:
            [record] = store.list_executions()
        finally:
            store.close()
        execution_id = record.id
        assert record.status == "running"
        assert snapshot_seq(store_url, execution_id) > 0, "no snapshot saved before the kill"
    finally:
        gate.touch()  # the killed process's step 4 runs on, orphaned: let it end

    restarted = time.monotonic()
    done = cadenza("worker", "--exit-when-idle", "--store", store_url)
    took = time.monotonic() - restarted
    assert done.returncode == 0, done.stderr
    assert took < 60, f"the worker waited {took:.0f}s: it must not wait for the 600 s lease"

    counts = _marks(marks)
    for i in range(1, STEPS + 1):
        assert counts[f"end {i}"] >= 1, f"step {i} never finished"
        if i != SLOW:
            assert counts[f"start {i}"] == 1, f"step {i} ran {counts[f'start {i}']} times"
    assert 1 <= counts[f"start {SLOW}"] <= 2

    store = open_store(store_url)
    try:
        record = store.load_execution(execution_id)
        history = store.read_history(execution_id)
    finally:
        store.close()
    assert record.status == "succeeded"
    assert [r["stdout"] for r in record.output] == [f"step-{i}" for i in range(1, STEPS + 1)]
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    by_type: dict[str, Counter[str]] = {}
    for recorded in history:
        task_id = recorded.event.payload().get("task_id")
        if task_id is not None:
            by_type.setdefault(recorded.event.type, Counter())[task_id] += 1
    expected = Counter(f"step{i}.1" for i in range(1, STEPS + 1))
    assert by_type["TaskScheduled"] == expected, "a step was scheduled twice"
    assert by_type["TaskCompleted"] == expected, "a step completed twice in history"
    assert by_type["TaskAttemptFailed"] == Counter({f"step{SLOW}.1": 1})
    [lost] = [e.event.payload() for e in history if e.event.type == "TaskAttemptFailed"]
    assert lost["error"]["type"] == "worker.lost"

    done = cadenza("history", execution_id, "--view", "steps", "--store", store_url)
    assert json.loads(done.stdout) == [
        {"name": f"step{i}", "status": "succeeded"} for i in range(1, STEPS + 1)
    ]
    done = cadenza("status", execution_id, "--store", store_url)
    assert done.stdout.splitlines()[0].endswith("(six.steps)  succeeded")
