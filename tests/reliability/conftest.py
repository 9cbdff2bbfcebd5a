"""Fixtures for the reliability tests: hostile and runaway input."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from cadenza.expressions import budget


@pytest.fixture
def cpu_clock() -> Iterator[None]:
    """Evaluations in the test measure their CPU time, as the engine's do.

    The pure expression core reads no clock; the process that runs decisions
    hands one in. This sets it for the test when nothing has, and puts the
    previous setting back afterwards.
    """
    before = budget.current_settings()
    if before.cpu_clock is None:
        budget.configure(cpu_clock=time.thread_time)
    try:
        yield
    finally:
        budget.configure(before.budget, cpu_clock=before.cpu_clock)
