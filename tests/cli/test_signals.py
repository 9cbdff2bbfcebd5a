"""Stopping ``cadenza run`` with signals, as a person at a terminal does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cadenza.store import open_store

FLOW = """\
version: 1.0
tasks:
  wait:
    action: core.local
    input:
      cmd: test -f {marker} || sleep 30
"""


def _start(tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    store = f"sqlite:///{tmp_path / 'cadenza.db'}"
    flow = tmp_path / "waits.yaml"
    flow.write_text(FLOW.format(marker=tmp_path / "marker"))
    process = subprocess.Popen(
        [sys.executable, "-m", "cadenza", "run", "--store", store, str(flow)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    return process, store


def _wait_until_claimed(store_url: str, deadline: float = 30.0) -> None:
    store = open_store(store_url)
    try:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if store.task_counts().get(("default", "claimed")):
                return
            time.sleep(0.05)
        raise AssertionError("the task was never claimed")
    finally:
        store.close()


def test_a_second_signal_stops_at_once_and_lets_the_task_go(tmp_path: Path) -> None:
    process, store_url = _start(tmp_path)
    _wait_until_claimed(store_url)

    process.send_signal(signal.SIGINT)
    time.sleep(0.2)  # two separate key presses, not one signal delivered twice
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=10)

    assert process.returncode == 130
    assert time.monotonic() - started < 5
    assert "press Ctrl-C again to stop at once" in err
    assert "stopping at once" in err
    # The lease was released: another process may take the task now, not in 30 s.
    store = open_store(store_url)
    try:
        (expired,) = store.expired_tasks(time.time(), 10)
        assert expired.name == "wait"
    finally:
        store.close()

    (tmp_path / "marker").touch()  # the second time, the task ends at once
    worker = subprocess.run(
        [sys.executable, "-m", "cadenza", "worker", "--exit-when-idle", "--store", store_url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 0, worker.stderr
    store = open_store(store_url)
    try:
        (record,) = store.list_executions()
        assert record.status == "succeeded"
    finally:
        store.close()


def test_one_signal_lets_the_running_task_finish_then_stops(tmp_path: Path) -> None:
    process, store_url = _start(tmp_path)
    _wait_until_claimed(store_url)
    process.send_signal(signal.SIGTERM)
    # The task may finish within the grace period (10 s) or be let go after it;
    # either way the run stops and says how the execution carries on.
    _out, err = process.communicate(timeout=40)

    assert process.returncode == 130
    assert "stopped; execution" in err and "cadenza worker" in err
