"""Cadenza workers: the activity registry, the runner of one attempt, built-in actions.

An *activity* is a Python callable registered under an action name. A worker
claims a task, builds an :class:`ActivityContext` for the attempt and calls
:func:`run_activity`, which never raises for a failing activity: it returns
an :class:`ActivityOutcome` to record.
"""

from __future__ import annotations

from cadenza.workers.attempt import RESULT_NOT_JSON, run_activity, run_activity_async
from cadenza.workers.context import ActivityContext, idempotency_key
from cadenza.workers.outcome import TASK_CANCELED, ActivityFailure, ActivityOutcome, OutcomeStatus
from cadenza.workers.registry import Activity, ActivityRegistry, default_registry

__all__ = [
    "RESULT_NOT_JSON",
    "TASK_CANCELED",
    "Activity",
    "ActivityContext",
    "ActivityFailure",
    "ActivityOutcome",
    "ActivityRegistry",
    "OutcomeStatus",
    "default_registry",
    "idempotency_key",
    "run_activity",
    "run_activity_async",
]
