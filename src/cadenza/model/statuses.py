"""Execution and task statuses, as values shared by every front end."""

from __future__ import annotations

from enum import StrEnum


class ExecutionStatus(StrEnum):
    """Where an execution stands. Derived from history; stored for queries."""

    REQUESTED = "requested"
    RUNNING = "running"
    PAUSING = "pausing"
    PAUSED = "paused"
    RESUMING = "resuming"
    CANCELING = "canceling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    TIMEOUT = "timeout"
    ABANDONED = "abandoned"

    @property
    def is_final(self) -> bool:
        return self in FINAL_EXECUTION_STATUSES


FINAL_EXECUTION_STATUSES = frozenset(
    {
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELED,
        ExecutionStatus.TIMEOUT,
        ExecutionStatus.ABANDONED,
    }
)
