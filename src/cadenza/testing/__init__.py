"""Cadenza testing: a fake clock, replay checks, and local runs of code workflows.

``run_workflow`` / ``LocalRun`` run a code workflow in the test's process
with mocked activities, a clock that skips time, and a cold replay of every
decision (see :mod:`cadenza.testing.local_runs`).
"""

from __future__ import annotations

from cadenza.testing.decision_replay import DecisionMismatch, decision_mismatches
from cadenza.testing.local_runs import ActivityCall, LocalRun, WorkflowResult, run_workflow

__all__ = [
    "ActivityCall",
    "DecisionMismatch",
    "LocalRun",
    "WorkflowResult",
    "decision_mismatches",
    "run_workflow",
]
