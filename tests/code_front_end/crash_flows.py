"""A workflow whose activities log their side effects to a file, for crash tests.

The log file is ``$CODE_CRASH_LOG``; activity 1 blocks until the file
``$CODE_CRASH_GATE`` exists, so a test can kill the worker while it runs.
"""

from __future__ import annotations

import os
import time
from typing import Any

from cadenza.code import Workflow, activity, register_activities
from cadenza.model.retry import RetryPolicy


def _log(line: str) -> None:
    fd = os.open(os.environ["CODE_CRASH_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


@activity(retry=RetryPolicy(max_attempts=5, initial_delay=0.0))
def mark(index: int) -> int:
    _log(f"start {index}")
    if index == 1:
        deadline = time.monotonic() + 60
        while not os.path.exists(os.environ["CODE_CRASH_GATE"]):
            if time.monotonic() > deadline:
                raise TimeoutError("the test never opened the gate")
            time.sleep(0.01)
    _log(f"end {index}")
    return index


class Marks(Workflow):
    def run(self, count: int) -> list[int]:
        return [self.submit(mark, i).result for i in range(count)]


def register(registry: Any) -> None:
    register_activities(registry, mark)
