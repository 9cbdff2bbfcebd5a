"""Results over the store's ceilings fail their step, once and for good.

An activity that returns more than ``PayloadLimits.max_value_bytes`` would
return as much on every retry, and one whose large result would take its
execution's stored payload past ``max_execution_bytes`` (any result, small or
large) likewise; so such an
attempt becomes a non-retryable failure of type ``payload.too_large`` whose
message names the task and the size. The
oversized result itself is dropped: nothing of it reaches history, and the
workflow handles the failure like any other (its error handling, or the
execution fails).
"""

from __future__ import annotations

from collections.abc import Callable

from cadenza.model.errors import PayloadTooLarge
from cadenza.store.payloads import PayloadLimits, too_large
from cadenza.store.records import TaskRecord
from cadenza.workers.outcome import ActivityFailure, ActivityOutcome, OutcomeStatus

#: The error type of an attempt whose result was over the ceiling.
PAYLOAD_TOO_LARGE = PayloadTooLarge.code


def bounded_outcome(
    task: TaskRecord,
    outcome: ActivityOutcome,
    limits: PayloadLimits,
    stored_bytes: Callable[[str], int],
) -> ActivityOutcome:
    """``outcome``, or a non-retryable failure when its result is over a ceiling.

    ``stored_bytes(execution_id)`` is what the execution keeps already; every
    result is checked (a store answers from the total its claim of the task
    brought, without another read).
    """
    if outcome.result is None:
        return outcome
    try:
        where = f"the result of task {task.name!r} ({task.task_id})"
        size = limits.check(outcome.result, where)
        total = stored_bytes(task.execution_id) + size
        if total > limits.max_execution_bytes:
            raise too_large(
                f"the stored payload of execution {task.execution_id} with {where}",
                total,
                limits.max_execution_bytes,
                "max_execution_bytes",
            )
    except PayloadTooLarge as exc:
        return ActivityOutcome(
            OutcomeStatus.FAILED,
            None,
            ActivityFailure(PAYLOAD_TOO_LARGE, exc.message, non_retryable=True),
        )
    return outcome
