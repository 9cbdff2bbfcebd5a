"""Knowing cheaply when a driven execution has settled.

A loop that drives one execution asks "is it settled yet?" after every round.
Reading the execution's row each time costs a store round trip per step, so
the watch learns the status from the decisions this engine saves, and reads
the store only when no decision for the execution was saved for a while
(another process may have decided it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cadenza.engine.decider import DecisionOutcome
from cadenza.store.records import ExecutionRecord

#: How long a watch trusts what it last learnt before it reads the store again.
_RECHECK_AFTER = 0.5


class SettledWatch:
    """``watch()`` is True once the execution is final or waits for an operator.

    Register ``observe`` as a decision listener of the engine that decides.
    """

    def __init__(
        self,
        load: Callable[[], ExecutionRecord],
        settled_statuses: Callable[[str], frozenset[str]],
    ) -> None:
        self._load = load
        self._settled_statuses = settled_statuses
        record = load()
        self.execution_id = record.id
        self._settled = settled_statuses(record.kind)
        self.status = record.status
        self._checked = time.monotonic()

    def observe(self, outcome: DecisionOutcome) -> None:
        """A decision listener: the status this engine just saved."""
        if outcome.execution_id == self.execution_id:
            self.status = outcome.status
            self._checked = time.monotonic()

    def __call__(self) -> bool:
        if self.status in self._settled:
            return True
        if time.monotonic() - self._checked >= _RECHECK_AFTER:
            self.status = self._load().status
            self._checked = time.monotonic()
        return self.status in self._settled
