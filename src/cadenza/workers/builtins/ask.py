"""``core.ask``: a task that waits for a person to answer a question."""

from __future__ import annotations

from collections.abc import Mapping

from cadenza.model.errors import ActivityError, InputError
from cadenza.model.events import JSON
from cadenza.model.questions import DEFAULT_SCHEMA, DEFAULT_TTL
from cadenza.workers.outcome import ActivityOutcome

__all__ = ["DEFAULT_SCHEMA", "DEFAULT_TTL", "ask"]


def ask(
    schema: Mapping[str, JSON] | None = None,
    route: str = "",
    roles: list[str] | None = None,
    users: list[str] | None = None,
    ttl: int = DEFAULT_TTL,
    **extra: JSON,
) -> ActivityOutcome:
    """Park the task as ``pending`` until a ``respond`` operation answers it.

    The pending result describes the question: ``schema`` (a JSON schema the
    answer must satisfy), ``route`` (a hint for whoever routes notifications),
    ``roles`` and ``users`` (who may answer; empty means anyone) and ``ttl``
    (minutes before the question expires). Any other input keys (a
    ``message`` for the person, say) are passed through unchanged. The
    engine, not this action, validates and records the answer.
    """
    if schema is not None and not isinstance(schema, Mapping):
        raise ActivityError(
            f"core.ask: schema must be a JSON object, not {type(schema).__name__}",
            type=InputError.code,
            non_retryable=True,
        )
    question: dict[str, JSON] = {
        "schema": dict(schema if schema is not None else DEFAULT_SCHEMA),
        "route": route,
        "roles": list(roles or []),
        "users": list(users or []),
        "ttl": ttl,
    }
    question.update(extra)
    return ActivityOutcome.pending(question)
