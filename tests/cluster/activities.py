"""Activities for the cluster chaos tests, loaded by real ``cadenza`` processes.

Servers and workers load them with ``--activities tests.cluster.activities:register``
(the repository root on ``PYTHONPATH``). Every attempt appends two lines to the
file named by ``$CADENZA_CHAOS_MARKS`` -- one when it starts and one when it
ends -- so the test can count side effects and tell which process ran each
attempt. Lines are written with one ``write`` on an ``O_APPEND`` descriptor, so
lines of concurrent processes never interleave.

Line format (tab separated)::

    start|end  execution_id  task_id  attempt  pid  monotonic_ns
"""

from __future__ import annotations

import os
import time
from typing import Any

from cadenza.workers.context import ActivityContext
from cadenza.workers.registry import ActivityRegistry

MARKS_ENV = "CADENZA_CHAOS_MARKS"
#: How long each attempt "works" (seconds), so that kills land mid-attempt.
WORK_ENV = "CADENZA_CHAOS_WORK"


class DeliberateFailure(Exception):
    """Raised by ``chaos.flaky`` on the first run of a task it was told to fail."""


def _mark(phase: str, context: ActivityContext) -> None:
    path = os.environ[MARKS_ENV]
    line = (
        f"{phase}\t{context.execution_id}\t{context.task_id}\t{context.attempt}\t"
        f"{os.getpid()}\t{time.monotonic_ns()}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _work() -> None:
    seconds = float(os.environ.get(WORK_ENV, "0.02"))
    if seconds > 0:
        time.sleep(seconds)  # simulated work, not synchronisation


def step(context: ActivityContext, n: int, label: str) -> dict[str, Any]:
    """Record the attempt and return ``{"label": label, "value": n * 10}``."""
    _mark("start", context)
    _work()
    _mark("end", context)
    return {"label": label, "value": n * 10}


def item(context: ActivityContext, n: int, i: int) -> int:
    """Record the attempt and return ``n * 100 + i`` (one with-items item)."""
    _mark("start", context)
    _work()
    _mark("end", context)
    return n * 100 + i


def flaky(context: ActivityContext, n: int, fail_first: bool) -> int:
    """Record the attempt; fail on the task's first Orquesta run when ``fail_first``.

    Whether a run is the first is read from the task id (``<task>.<route>.<run>``,
    ``run`` counting from 0; see ``cadenza.interpreters.orquesta.interpreter``),
    so a kernel re-attempt of
    the same run after a lost worker fails again, as it must: the outcome
    depends only on the input and the run, never on timing.
    """
    _mark("start", context)
    _work()
    run = int(context.task_id.split(".")[2])
    failing = fail_first and run == 0
    _mark("end", context)
    if failing:
        raise DeliberateFailure(f"first run of execution n={n} fails on purpose")
    return n + 1


def register(registry: ActivityRegistry) -> None:
    """Add the chaos activities to ``registry`` (for ``--activities``)."""
    registry.register("chaos.step", step, replace=True)
    registry.register("chaos.item", item, replace=True)
    registry.register("chaos.flaky", flaky, replace=True)
