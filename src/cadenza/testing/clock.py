"""A clock that tests move by hand, so hour-long delays take no time."""

from __future__ import annotations

import threading


class FakeClock:
    """A ``Clock`` that stands still until ``advance`` or ``set`` moves it.

    ``wait`` never blocks on the wall clock: it returns at once, reporting
    whether the event was already set. Drive the engine with
    ``Engine.run_until_idle(skip_time=True)`` to jump to each next due time.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += seconds

    def set(self, when: float) -> None:
        with self._lock:
            if when < self._now:
                raise ValueError("a clock does not go backwards")
            self._now = when

    def wait(self, event: threading.Event, timeout: float) -> bool:
        return event.is_set()
