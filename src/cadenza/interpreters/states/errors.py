"""Runtime failures inside a States execution, as the language names them.

A :class:`StateFailure` carries the AWS error name and cause. ``catchable`` is
False for ``States.Runtime`` (AWS neither retries nor catches it) and for
failures that must end the execution at once. ``location`` names the field a
JSONata/variable evaluation failed in: such failures also get an
``EvaluationFailed`` history event.
"""

from __future__ import annotations

from typing import Any

__all__ = ["StateFailure", "runtime_cause"]

UNCATCHABLE = frozenset({"States.Runtime"})


class StateFailure(Exception):
    """A state failed with ``error`` and ``cause`` (both as Step Functions reports them)."""

    def __init__(
        self,
        error: str | None,
        cause: str | None = None,
        *,
        location: str | None = None,
        details: Any = None,
    ) -> None:
        self.error = error
        self.cause = cause
        self.location = location
        self.details = details
        super().__init__(f"{error}: {cause}")

    @property
    def catchable(self) -> bool:
        """Whether Retry and Catch may handle it."""
        return self.error not in UNCATCHABLE


def runtime_cause(state: str, entered_id: int, detail: str) -> str:
    """The cause text AWS gives for a failure inside a state's own processing."""
    return (
        f"An error occurred while executing the state '{state}' "
        f"(entered at the event id #{entered_id}). {detail}"
    )
