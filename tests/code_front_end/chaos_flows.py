"""A voyage using an activity with retries, a timer, a child workflow and a signal,
whose activity logs its side effects to ``$CODE_CHAOS_LOG`` (for chaos tests)."""

from __future__ import annotations

import os
import time
from typing import Any

from cadenza.code import Workflow, activity, register_activities
from cadenza.model.retry import RetryPolicy


@activity(retry=RetryPolicy(max_attempts=20, initial_delay=0.05, backoff=1.0))
def effect(key: str) -> str:
    """A side effect, logged (with the worker's pid) when it starts and when it is done."""
    _log(f"start {key} {os.getpid()}")
    time.sleep(0.3)
    _log(f"end {key} {os.getpid()}")
    return key


def _log(line: str) -> None:
    fd = os.open(os.environ["CODE_CHAOS_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


class Leg(Workflow):
    def run(self, key: str) -> str:
        return str(self.submit(effect, key).result)


class Voyage(Workflow):
    def run(self, tag: str) -> list[Any]:
        first = self.submit(effect, f"{tag}:a").result
        self.sleep(0.1)
        leg = self.submit(Leg, f"{tag}:leg")
        orders = self.wait_signal("go").result
        last = self.submit(effect, f"{tag}:b:{orders}").result
        return [first, leg.result, last]


def register(registry: Any) -> None:
    register_activities(registry, effect)
