"""The activities of ``fanout.dag.yaml`` (load with ``--activities fanout_activities:register``)."""

from __future__ import annotations

from cadenza.workers.registry import ActivityRegistry


def split(count: int) -> list[int]:
    """The numbers 1..count."""
    return list(range(1, int(count) + 1))


def square(number: int) -> int:
    """One number squared."""
    return number * number


def total(squares: list[int]) -> int:
    """The sum of the squares."""
    return sum(squares)


def register(registry: ActivityRegistry) -> None:
    """Register the three activities under the names the DAG uses."""
    registry.register("demo.split", split, whole_input=True)
    registry.register("demo.square", square, whole_input=True)
    registry.register("demo.total", total, whole_input=True)
