"""A worker process killed in the middle of an activity: the execution completes,
the interrupted activity runs again, finished ones never do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cadenza.engine.engine import Engine
from cadenza.model.definitions import CodeReference
from cadenza.store import open_store

from .conftest import HERE

pytestmark = pytest.mark.slow


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.02)


def test_a_killed_worker_loses_nothing(store_url: str, tmp_path: Path) -> None:
    log, gate = tmp_path / "marks.log", tmp_path / "gate"
    path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "CODE_CRASH_LOG": str(log),
        "CODE_CRASH_GATE": str(gate),
    }
    worker = [
        sys.executable,
        "-m",
        "cadenza",
        "worker",
        "--store",
        store_url,
        "--lease",
        "1",
        "--activities",
        "crash_flows:register",
    ]

    def lines() -> list[str]:
        return log.read_text().splitlines() if log.exists() else []

    engine = Engine(open_store(store_url))
    try:
        definition = engine.register(CodeReference("crash_flows:Marks", "1"))
        execution_id = engine.start(definition, [3])
        first = subprocess.Popen(worker, cwd=tmp_path, env=env, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: "start 1" in lines(), 60, "activity 1 to start")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        gate.touch()
        second = subprocess.Popen(worker, cwd=tmp_path, env=env, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: engine.is_settled(engine.get(execution_id)), 60, "the execution")
        finally:
            second.terminate()
            second.wait(timeout=30)
        record = engine.get(execution_id)
        assert record.status == "succeeded"
        assert record.output == [0, 1, 2]
        assert lines().count("start 0") == lines().count("end 0") == 1
        assert lines().count("start 1") == 2  # the attempt the kill interrupted, and one more
        assert lines().count("end 1") == 1
        assert lines().count("start 2") == lines().count("end 2") == 1
    finally:
        engine.close()
