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


class TaskOutcome(StrEnum):
    """How one run of a task's action ended (``TaskCompleted.status``)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"
    ABANDONED = "abandoned"
    CANCELED = "canceled"


class TaskRowStatus(StrEnum):
    """The state of a task row in the store's queue (not a front-end status)."""

    SCHEDULED = "scheduled"  # waiting to be claimed (possibly not before ``available_at``)
    CLAIMED = "claimed"  # a worker holds a lease on it
    SUSPENDED = "suspended"  # waiting for a person or an external answer
    DONE = "done"  # its completion was delivered to the execution
