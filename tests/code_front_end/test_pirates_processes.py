"""The pirate example as its README runs it: one worker process per task list."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cadenza.engine.engine import Engine
from cadenza.model.definitions import CodeReference
from cadenza.store import open_store

from .conftest import EXAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture
def workers(store_url: str, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``cadenza worker`` for each of the example's task lists, started as the README says."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(EXAMPLES), os.environ.get("PYTHONPATH", "")]),
    }
    started = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cadenza",
                "worker",
                "--store",
                store_url,
                "--queue",
                queue,
                "--activities",
                "pirates:register",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for queue in ("money", "boats", "tavern")
    ]
    yield started
    for process in started:
        process.terminate()
    for process in started:
        process.wait(timeout=30)


def wait_settled(engine: Engine, execution_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not engine.is_settled(engine.get(execution_id)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{execution_id} not settled after {timeout:g}s")
        time.sleep(0.05)


@pytest.mark.parametrize("target", ["pirates:PirateBusiness", "pirates:pirate_business"])
def test_workers_on_their_own_task_lists_run_the_business(
    store_url: str, workers: list[subprocess.Popen[bytes]], target: str
) -> None:
    engine = Engine(open_store(store_url))
    try:
        definition = engine.register(CodeReference(target, "1"))
        rich = engine.start(definition, {"goal": 1200, "crew_size": 2})
        poor = engine.start(definition, {"goal": 10})
        wait_settled(engine, rich, 60)
        wait_settled(engine, poor, 60)
        assert engine.get(rich).output["boat"]["how"] == "built"
        assert engine.get(poor).output["boat"]["how"] == "stolen"
        assert engine.get(poor).output["parrot"] == "a green parrot"
        for process in workers:
            assert process.poll() is None, process.stderr
    finally:
        engine.close()
