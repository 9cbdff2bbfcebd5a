"""What a running activity may know about itself, and how it talks back.

An activity's *input* and *result* are recorded in history; the
:class:`ActivityContext` is not. It carries live things only a running
attempt has: who it is (execution, task, attempt), a way to heartbeat, and a
cancellation flag. Keeping the two apart means replaying history never needs
a context, and a context never needs to be serialised.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from cadenza.model.events import JSON


def idempotency_key(execution_id: str, task_id: str, attempt: int) -> str:
    """The idempotency key of one attempt of one task.

    It is the SHA-256 hex digest (64 characters of ``[0-9a-f]``) of the JSON
    array ``[execution_id, task_id, attempt]`` written compactly, without
    spaces. Hashing makes the key fit any external API's key syntax and keeps
    ids that contain separators from ever colliding; JSON makes the formula
    easy to reproduce outside Python (an external worker computes the same
    key from the same three values).
    """
    material = json.dumps([execution_id, task_id, attempt], separators=(",", ":"))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _ignore_heartbeat(details: JSON) -> None:
    """The heartbeat sink used when the runner supplies none."""


class ActivityCancelledInterrupt(BaseException):
    """The running attempt was asked to stop (raised by ``check_cancelled``).

    A ``BaseException`` on purpose: an activity's own ``except Exception``
    must not swallow it. It is internal: activities trigger it through
    :meth:`ActivityContext.check_cancelled`, and the runner turns it into a
    ``canceled`` outcome.
    """


@dataclass(frozen=True, eq=False)
class ActivityContext:
    """The live, never recorded, side of one activity attempt.

    An activity receives it by declaring a parameter annotated
    ``ActivityContext`` or named ``context``. The runner that executes the
    attempt builds it and supplies ``on_heartbeat`` (called by
    :meth:`heartbeat`) and sets ``cancel_event`` when the task is cancelled
    or its lease is lost.
    """

    execution_id: str
    task_id: str
    attempt: int = 1
    on_heartbeat: Callable[[JSON], None] = _ignore_heartbeat
    cancel_event: threading.Event = field(default_factory=threading.Event)

    @property
    def idempotency_key(self) -> str:
        """A key unique to this attempt; see :func:`idempotency_key` for the formula.

        Each claim of a task is a new attempt with a new number, so an attempt
        that is run again after its worker was lost gets a new key; reports of
        the old attempt are refused. For a side effect that must happen once
        across attempts, use :attr:`task_key` instead.
        """
        return idempotency_key(self.execution_id, self.task_id, self.attempt)

    @property
    def task_key(self) -> str:
        """A key shared by every attempt of this task (the formula with attempt 0).

        Use it instead of :attr:`idempotency_key` for a side effect that must
        happen once even when a retry follows a failure reported after the
        effect took place.
        """
        return idempotency_key(self.execution_id, self.task_id, 0)

    @property
    def cancelled(self) -> bool:
        """Whether the attempt was asked to stop."""
        return self.cancel_event.is_set()

    def heartbeat(self, details: JSON = None) -> None:
        """Tell the runner the attempt is alive; ``details`` (JSON) is kept as progress."""
        self.on_heartbeat(details)

    def cancel(self) -> None:
        """Ask the attempt to stop (used by runners; activities poll :attr:`cancelled`)."""
        self.cancel_event.set()

    def check_cancelled(self) -> None:
        """Stop the activity here if it was asked to stop; the outcome is ``canceled``."""
        if self.cancel_event.is_set():
            raise ActivityCancelledInterrupt()
