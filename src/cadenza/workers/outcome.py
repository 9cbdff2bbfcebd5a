"""How one activity attempt ended, as data the engine records.

An :class:`ActivityOutcome` is what a runner reports for an attempt. It is
plain data: ``result`` is JSON and ``error`` is an :class:`ActivityFailure`,
whose ``to_dict()`` is the ``error`` field of ``TaskCompleted``.

Error types are strings (STYLE 12): an exception raised by an activity gives
its class name (``ValueError``), :class:`~cadenza.model.errors.ActivityError`
gives its ``type``, and failures found by Cadenza itself use dotted names
such as ``input.invalid`` or ``task.timeout``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cadenza.model.events import JSON
from cadenza.model.retry import TASK_TIMEOUT

#: Error type of an attempt that stopped because it was asked to.
TASK_CANCELED = "task.canceled"


class OutcomeStatus(StrEnum):
    """How an attempt ended. ``pending`` means "a person or system will answer later"."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELED = "canceled"
    PENDING = "pending"


#: Statuses that must carry an error.
_FAILURE_STATUSES = frozenset({OutcomeStatus.FAILED, OutcomeStatus.TIMEOUT, OutcomeStatus.CANCELED})


@dataclass(frozen=True)
class ActivityFailure:
    """Why an attempt did not succeed.

    ``type`` is what retry policies and the front ends' error handling match
    on; ``non_retryable`` stops retries whatever the policy says.
    ``traceback`` is set for unexpected exceptions only, to help a person
    debug; nothing matches on it.
    """

    type: str
    message: str
    non_retryable: bool = False
    traceback: str | None = None

    def to_dict(self) -> dict[str, JSON]:
        """The failure as recorded in history."""
        out: dict[str, JSON] = {
            "type": self.type,
            "message": self.message,
            "non_retryable": self.non_retryable,
        }
        if self.traceback is not None:
            out["traceback"] = self.traceback
        return out


@dataclass(frozen=True)
class ActivityOutcome:
    """The typed end of one attempt: status, JSON result, and an error unless it succeeded.

    Failed, timed-out and canceled outcomes may still carry a result (a shell
    command's output, an HTTP response) next to their error. An activity may
    return an ``ActivityOutcome`` itself to choose its status; built-in
    actions do this to report ``pending`` or ``timeout``.
    """

    status: OutcomeStatus
    result: JSON = None
    error: ActivityFailure | None = None

    def __post_init__(self) -> None:
        status = self.status
        if not isinstance(status, OutcomeStatus):  # a string given by an activity
            status = OutcomeStatus(status)
            object.__setattr__(self, "status", status)
        if (status in _FAILURE_STATUSES) != (self.error is not None):
            need = "needs" if status in _FAILURE_STATUSES else "must not have"
            raise ValueError(f"an outcome with status {status.value!r} {need} an error")

    @classmethod
    def succeeded(cls, result: JSON = None) -> ActivityOutcome:
        """The attempt did its work and returned ``result``."""
        return cls(OutcomeStatus.SUCCEEDED, result)

    @classmethod
    def failed(
        cls,
        type: str,
        message: str,
        *,
        result: JSON = None,
        non_retryable: bool = False,
        traceback: str | None = None,
    ) -> ActivityOutcome:
        """The attempt failed with an error of ``type``."""
        return cls(
            OutcomeStatus.FAILED,
            result,
            ActivityFailure(type, message, non_retryable, traceback),
        )

    @classmethod
    def timeout(
        cls,
        message: str,
        *,
        result: JSON = None,
        type: str = TASK_TIMEOUT,
    ) -> ActivityOutcome:
        """The attempt ran out of time and was stopped."""
        return cls(OutcomeStatus.TIMEOUT, result, ActivityFailure(type, message))

    @classmethod
    def canceled(cls, message: str, *, result: JSON = None) -> ActivityOutcome:
        """The attempt stopped because it was asked to."""
        return cls(OutcomeStatus.CANCELED, result, ActivityFailure(TASK_CANCELED, message))

    @classmethod
    def pending(cls, result: JSON = None) -> ActivityOutcome:
        """The attempt is waiting for an answer; ``result`` describes what is asked."""
        return cls(OutcomeStatus.PENDING, result)

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON: ``{"status", "result", "error"}``."""
        return {
            "status": self.status.value,
            "result": self.result,
            "error": None if self.error is None else self.error.to_dict(),
        }
