"""Python workflows replayed from history: ``from cadenza.code import Workflow, activity``.

A short public name for :mod:`cadenza.interpreters.code`; see there.
"""

from __future__ import annotations

from cadenza.interpreters.code import (
    ActivityDefinition,
    Future,
    FutureState,
    TaskFailed,
    Workflow,
    WorkflowContext,
    WorkflowUsageError,
    activity,
    all_of,
    futures,
    register_activities,
    wait,
)

__all__ = [
    "ActivityDefinition",
    "Future",
    "FutureState",
    "TaskFailed",
    "Workflow",
    "WorkflowContext",
    "WorkflowUsageError",
    "activity",
    "all_of",
    "futures",
    "register_activities",
    "wait",
]
