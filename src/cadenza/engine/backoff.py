"""Waiting out a store outage: capped exponential backoff with full jitter."""

from __future__ import annotations

import random


class Backoff:
    """Delays for successive failures of the same operation; ``reset`` on success."""

    def __init__(self, initial: float = 0.05, cap: float = 5.0, factor: float = 2.0) -> None:
        self.initial = initial
        self.cap = cap
        self.factor = factor
        self.failures = 0
        self._random = random.Random()

    def next_delay(self) -> float:
        """The wait before the next try; every call counts one more failure."""
        ceiling = min(self.cap, self.initial * self.factor**self.failures)
        self.failures += 1
        # Full jitter: many processes that lost the same database do not all
        # come back in the same instant.
        return ceiling * (0.5 + self._random.random() / 2)

    def reset(self) -> None:
        self.failures = 0
