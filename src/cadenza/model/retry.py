"""Retry policy: one model for every front end and for lost workers.

The policy is data. Whether an attempt is retried, and after how long, is a
pure function of the policy, the attempt number, the error type and a random
draw that the caller supplies (the engine draws it and records the outcome).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Error type recorded when a worker's lease on a task expired (worker crashed or hung).
WORKER_LOST = "worker.lost"
#: Error type recorded when an attempt ran longer than its start-to-close timeout.
TASK_TIMEOUT = "task.timeout"
#: Error type recorded when an attempt stopped heartbeating.
HEARTBEAT_TIMEOUT = "task.heartbeat_timeout"


@dataclass(frozen=True)
class RetryPolicy:
    """When and how an activity attempt is tried again.

    Delays follow capped exponential backoff: attempt *n* (1-based, the one
    that just failed) waits ``initial_delay * backoff ** (n - 1)`` seconds,
    capped at ``max_delay``; with ``jitter`` the wait is drawn uniformly from
    ``[0, that]`` ("full jitter"), which spreads retries of many tasks apart.

    ``retryable_errors`` (when given) limits retries to those error types;
    ``non_retryable_errors`` always stops them.
    """

    max_attempts: int = 1
    initial_delay: float = 1.0
    backoff: float = 2.0
    max_delay: float = 300.0
    jitter: bool = False
    non_retryable_errors: frozenset[str] = field(default_factory=frozenset)
    retryable_errors: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")
        if self.backoff < 1:
            raise ValueError("backoff must be at least 1")

    def should_retry(self, attempt: int, error_type: str, non_retryable: bool = False) -> bool:
        """Whether a failure of ``attempt`` (1-based) with ``error_type`` gets another try."""
        if non_retryable or attempt >= self.max_attempts:
            return False
        if error_type in self.non_retryable_errors:
            return False
        return self.retryable_errors is None or error_type in self.retryable_errors

    def delay(self, attempt: int, draw: float = 1.0) -> float:
        """Seconds to wait after ``attempt`` failed; ``draw`` in [0, 1] is used for jitter."""
        capped = min(self.max_delay, self.initial_delay * self.backoff ** max(0, attempt - 1))
        return capped * draw if self.jitter else capped

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_attempts": self.max_attempts,
            "initial_delay": self.initial_delay,
            "backoff": self.backoff,
            "max_delay": self.max_delay,
            "jitter": self.jitter,
            "non_retryable_errors": sorted(self.non_retryable_errors),
            "retryable_errors": (
                None if self.retryable_errors is None else sorted(self.retryable_errors)
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetryPolicy:
        retryable = data.get("retryable_errors")
        return cls(
            max_attempts=int(data.get("max_attempts", 1)),
            initial_delay=float(data.get("initial_delay", 1.0)),
            backoff=float(data.get("backoff", 2.0)),
            max_delay=float(data.get("max_delay", 300.0)),
            jitter=bool(data.get("jitter", False)),
            non_retryable_errors=frozenset(data.get("non_retryable_errors", ())),
            retryable_errors=None if retryable is None else frozenset(retryable),
        )


#: The default for front ends that handle action failures in their own language
#: (Orquesta ``retry``, ASL ``Retry``): only a lost worker is retried by the kernel.
LOST_WORKER_ONLY = RetryPolicy(
    max_attempts=3, initial_delay=0.0, retryable_errors=frozenset({WORKER_LOST})
)
