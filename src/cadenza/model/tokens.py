"""Task tokens: how an outside party names a step it must answer.

A token is handed out with an activity task (a worker polled for it) or put in
a task's payload (a callback step, Step Functions' ``.waitForTaskToken``). It
names the execution and the task the answer belongs to and, for a task that
was claimed, the attempt and its owner, so a late answer to an attempt that
was given up cannot complete a newer one.

The text is URL-safe base64 of a compact JSON array, so it is opaque to users,
stable on replay (it holds no randomness), and checkable on the way back in.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from cadenza.model.errors import InputError

_VERSION = 1


@dataclass(frozen=True)
class TaskToken:
    """What a token names. ``attempt`` is 0 and ``owner`` empty for callback tokens."""

    execution_id: str
    task_id: str
    attempt: int = 0
    owner: str = ""

    @property
    def is_callback(self) -> bool:
        return self.attempt == 0

    def encode(self) -> str:
        material = json.dumps(
            [_VERSION, self.execution_id, self.task_id, self.attempt, self.owner],
            separators=(",", ":"),
        )
        return base64.urlsafe_b64encode(material.encode()).decode().rstrip("=")


def callback_token(execution_id: str, task_id: str) -> str:
    """The token of a step that waits for an outside answer (no claimed attempt)."""
    return TaskToken(execution_id, task_id).encode()


def decode_token(token: str) -> TaskToken:
    """Read a token; ``InputError`` (code ``input.invalid``) if it is not one of ours."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        version, execution_id, task_id, attempt, owner = data
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InputError("invalid task token", token=token[:64]) from exc
    if version != _VERSION or not isinstance(execution_id, str) or not isinstance(task_id, str):
        raise InputError("invalid task token", token=token[:64])
    return TaskToken(execution_id, task_id, int(attempt), str(owner))
