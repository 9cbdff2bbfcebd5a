"""Waking long polls when work may have arrived."""

from __future__ import annotations

import threading

from cadenza.engine.engine import Engine


class WorkSignal:
    """Wakes long polls when work may have arrived; a generation counter makes a
    wake-up between two checks impossible to miss."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0

    def notify(self) -> None:
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def generation(self) -> int:
        with self._condition:
            return self._generation

    def wait(self, seen: int, timeout: float) -> None:
        """Wait until a notification after ``seen``, or ``timeout`` seconds."""
        with self._condition:
            self._condition.wait_for(lambda: self._generation != seen, timeout)


def signal_for(engine: Engine) -> WorkSignal:
    """A signal told of ``engine``'s wake-ups and of each decision it saves."""
    signal = WorkSignal()
    engine.on_wake(signal.notify)
    engine.add_listener(lambda _outcome: signal.notify())
    return signal
