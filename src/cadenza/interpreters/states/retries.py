"""Retry and Catch: which retrier or catcher handles an error, and the retry delay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["catcher_for", "error_matches", "retry_delay"]


def error_matches(names: list[Any], error: str | None) -> bool:
    """Whether an ``ErrorEquals`` list matches ``error``."""
    for name in names:
        if name == "States.ALL" or name == error:
            return True
        if name == "States.TaskFailed" and error != "States.Timeout" and error is not None:
            return True
    return False


def retry_delay(
    retriers: list[dict[str, Any]],
    error: str | None,
    attempts: dict[str, int],
    entropy: Callable[[int], bytes],
) -> float | None:
    """The delay before the next attempt, or None when no retrier applies any more.

    Each retrier counts its own attempts in ``attempts`` (by its index, as text:
    the thread's ``attempts``, updated here); the first retrier whose
    ``ErrorEquals`` matches decides, as the language says.
    """
    for index, retrier in enumerate(retriers):
        if not error_matches(retrier.get("ErrorEquals") or [], error):
            continue
        made = int(attempts.get(str(index), 0))
        if made >= int(retrier.get("MaxAttempts", 3)):
            return None
        attempts[str(index)] = made + 1
        delay = (
            float(retrier.get("IntervalSeconds", 1))
            * float(retrier.get("BackoffRate", 2.0)) ** made
        )
        if "MaxDelaySeconds" in retrier:
            delay = min(delay, float(retrier["MaxDelaySeconds"]))
        if retrier.get("JitterStrategy") == "FULL":
            fraction = int.from_bytes(entropy(8), "big") / 2**64
            delay = delay * fraction
        return delay
    return None


def catcher_for(catchers: list[dict[str, Any]], error: str | None) -> dict[str, Any] | None:
    """The first catcher whose ``ErrorEquals`` matches ``error``."""
    for catcher in catchers:
        if error_matches(catcher.get("ErrorEquals") or [], error):
            return catcher
    return None
