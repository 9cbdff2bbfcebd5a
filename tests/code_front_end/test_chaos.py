"""Worker processes SIGKILLed at random while code workflows with retries, timers,
children and signals run: every execution completes with the right result, and
no activity's side effect runs again once its task completed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cadenza.engine.engine import Engine
from cadenza.model.definitions import CodeReference
from cadenza.model.events import TaskCompleted, TaskScheduled
from cadenza.store import open_store

from .conftest import HERE

pytestmark = pytest.mark.slow

EXECUTIONS = 12
KILLS = 4


def test_killed_workers_lose_nothing_and_repeat_no_completed_effect(
    store_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "effects.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    env["CODE_CHAOS_LOG"] = str(log)
    command = [
        sys.executable,
        "-m",
        "cadenza",
        "worker",
        "--store",
        store_url,
        "--lease",
        "1",
        "--activities",
        "chaos_flows:register",
    ]

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.DEVNULL)

    chooser = random.Random(18)
    engine = Engine(open_store(store_url))
    workers = [spawn(), spawn()]
    try:
        engine.register(CodeReference("chaos_flows:Leg", "1"))
        voyage = engine.register(CodeReference("chaos_flows:Voyage", "1"))
        ids = {f"v{n}": engine.start(voyage, [f"v{n}"]) for n in range(EXECUTIONS)}
        for tag, execution_id in ids.items():
            engine.signal(execution_id, "go", tag.upper())
        for _ in range(KILLS):
            # Kill a worker while it runs an activity, at a random moment of it.
            running = _wait_for_a_running_effect(log, {w.pid for w in workers})
            time.sleep(chooser.uniform(0.0, 0.05))
            victim = next(w for w in workers if w.pid == running)
            workers.remove(victim)
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
            workers.append(spawn())
        deadline = time.monotonic() + 120
        while not all(engine.is_settled(engine.get(i)) for i in ids.values()):
            assert time.monotonic() < deadline, "executions still running after 120 s"
            time.sleep(0.1)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)

    try:
        for tag, execution_id in ids.items():
            record = engine.get(execution_id)
            assert record.status == "succeeded", (tag, record.errors)
            assert record.output == [f"{tag}:a", f"{tag}:leg", f"{tag}:b:{tag.upper()}"]
        lines = log.read_text().splitlines()
        starts = Counter(line.split()[1] for line in lines if line.startswith("start "))
        ends = Counter(line.split()[1] for line in lines if line.startswith("end "))
        attempts = _final_attempts(engine)
        assert len(attempts) == 3 * EXECUTIONS
        interrupted = [key for key in starts if starts[key] > ends[key]]
        assert interrupted  # the kills did interrupt side effects
        for key, attempt in attempts.items():
            assert ends[key] >= 1, key
            # Each attempt starts the side effect at most once, and none starts
            # after the attempt that completed the task.
            assert starts[key] <= attempt, (key, starts[key], attempt)
    finally:
        engine.close()


def _wait_for_a_running_effect(log: Path, pids: set[int]) -> int:
    """The pid of a live worker that has started an effect and not ended it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        open_effects: dict[tuple[str, str], int] = {}
        for line in log.read_text().splitlines() if log.exists() else []:
            what, key, pid = line.split()
            open_effects[(key, pid)] = open_effects.get((key, pid), 0) + (
                1 if what == "start" else -1
            )
        running = [int(pid) for (_, pid), n in open_effects.items() if n > 0 and int(pid) in pids]
        if running:
            return running[-1]
        time.sleep(0.01)
    raise AssertionError("no worker started an activity within 60 s")


def _final_attempts(engine: Engine) -> dict[str, int]:
    """Side-effect key -> the attempt that completed its task, over every execution."""
    found: dict[str, int] = {}
    for record in engine.store.list_executions(limit=1000):
        history = engine.history(record.id)
        keys = {
            r.event.task_id: r.event.input["args"][0]
            for r in history
            if isinstance(r.event, TaskScheduled)
        }
        for r in history:
            if isinstance(r.event, TaskCompleted) and r.event.task_id in keys:
                found[keys[r.event.task_id]] = r.event.attempt
    return found
