"""The engine's wake-up: an event that also tells subscribers.

Anyone who adds work sets it (a new execution, a finished attempt, another
process's notification relayed by the serve loop); the serve loop waits on
it, and other parts of the process (the HTTP API's long polls) subscribe to
hear of it too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class WakeUp(threading.Event):
    """A ``threading.Event`` whose ``set`` also calls the subscribers."""

    def __init__(self) -> None:
        super().__init__()
        self._subscribers: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (quick, never raising) each time the event is set."""
        self._subscribers.append(callback)

    def set(self) -> None:
        super().set()
        for callback in list(self._subscribers):
            callback()
