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


# --- Many short errands, for the 200-execution crash test ----------------------------------
#
# Effects run on their own task list ("effects"), so the process that serves only
# "default" decides and runs no effect: the test can kill deciders and activity
# workers separately. Each effect is short, so 200 executions fit a CI budget.

EFFECTS = "effects"
QUICK_RETRY = RetryPolicy(max_attempts=30, initial_delay=0.02, backoff=1.0)


@activity(task_list=EFFECTS, retry=QUICK_RETRY)
def quick_effect(key: str) -> str:
    """A short side effect, logged (with the worker's pid) when it starts and ends."""
    _log(f"start {key} {os.getpid()}")
    time.sleep(0.02)
    _log(f"end {key} {os.getpid()}")
    return key


@activity(task_list=EFFECTS, retry=QUICK_RETRY)
def flaky_effect(key: str) -> str:
    """Like :func:`quick_effect`, but its first run fails (logged ``fail``), so the
    task completes only through a retry."""
    _log(f"start {key} {os.getpid()}")
    if not _has_failed(key):
        _log(f"fail {key} {os.getpid()}")
        raise RuntimeError(f"{key}: the first run fails on purpose")
    time.sleep(0.02)
    _log(f"end {key} {os.getpid()}")
    return key


def _has_failed(key: str) -> bool:
    with open(os.environ["CODE_CHAOS_LOG"]) as log:
        return any(line.split()[:2] == ["fail", key] for line in log)


class Errand(Workflow):
    def run(self, tag: str) -> list[Any]:
        first = self.submit(quick_effect, f"{tag}:a").result
        self.sleep(0.05)
        leg = self.submit(ErrandLeg, f"{tag}:leg")
        orders = self.wait_signal("go").result
        last = self.submit(flaky_effect, f"{tag}:b:{orders}").result
        return [first, leg.result, last]


class ErrandLeg(Workflow):
    def run(self, key: str) -> str:
        return str(self.submit(quick_effect, key).result)


def register_effects(registry: Any) -> None:
    register_activities(registry, quick_effect, flaky_effect)
