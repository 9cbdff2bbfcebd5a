"""The public surface of cadenza.workers is pinned."""

from __future__ import annotations

import cadenza.workers


def test_exported_names() -> None:
    assert set(cadenza.workers.__all__) == {
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
    }
    for name in cadenza.workers.__all__:
        assert getattr(cadenza.workers, name) is not None
