"""The no-op Python activities every Cadenza workload uses.

Loaded in-process by ``cadenza_bench.py`` and, for the process-level
workloads (W4, W5), by ``python -m cadenza ... --activities
workloads.actions:register`` with ``bench/`` on ``PYTHONPATH``.
"""

from __future__ import annotations

from typing import Any

from cadenza.workers.registry import ActivityRegistry
from workloads import steplog


def inc(value: int) -> int:
    """Return the input plus one (the chained no-op of W1, W3, W6)."""
    return value + 1


def ident(value: Any) -> Any:
    """Return the input unchanged (the fan-out no-op of W2)."""
    return value


def total(values: list[int]) -> int:
    """Sum the fan-out results (the fan-in step of W2)."""
    return sum(values)


def slow(index: int, ms: float = 50.0) -> int:
    """W5's step: log the start, sleep, log the end (see ``steplog``)."""
    return steplog.slow_step(index, ms)


def register(registry: ActivityRegistry) -> None:
    registry.register("bench.inc", inc)
    registry.register("bench.ident", ident)
    registry.register("bench.total", total)
    registry.register("bench.slow", slow)
