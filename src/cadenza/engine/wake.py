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
    """A ``threading.Event`` whose ``set`` also calls the subscribers.

    ``set`` says that work may have arrived that the serve loop did not make
    itself, and counts it in ``news``; the loop's own attempts ending use
    ``nudge``, which wakes it without news (their outcome reaches its next
    round directly, so that round need not look for anything else).
    """

    def __init__(self) -> None:
        super().__init__()
        self._subscribers: list[Callable[[], None]] = []
        #: How many times work from elsewhere was announced (only ever grows).
        self.news = 0

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (quick, never raising) each time the event is set."""
        self._subscribers.append(callback)

    def set(self) -> None:
        self.news += 1
        self.nudge()

    def nudge(self) -> None:
        """Wake the waiting loop and the subscribers, without news."""
        super().set()
        for callback in list(self._subscribers):
            callback()
