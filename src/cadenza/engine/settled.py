"""Driving one execution until it settles, and knowing cheaply when it has.

``Engine.run`` and ``Engine.drive`` (``Driving``) serve only the work of one
execution and its children until it ends or waits for someone. The loop asks
"is it settled yet?" after every round.
Reading the execution's row each time costs a store round trip per step, so
the watch learns the status from the decisions this engine saves, and reads
the store only when no decision for the execution was saved for a while
(another process may have decided it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

from cadenza.engine.clock import Clock
from cadenza.engine.decider import DecisionOutcome
from cadenza.engine.front_ends import FrontEnds
from cadenza.model.events import JSON
from cadenza.store.records import DefinitionRecord, ExecutionRecord, StartedExecution

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
        started: tuple[str, str, str] | None = None,
    ) -> None:
        """``started`` is ``(id, kind, status)`` of an execution this engine has just
        created, which need not be read back."""
        self._load = load
        self._settled_statuses = settled_statuses
        if started is None:
            record = load()
            started = (record.id, record.kind, record.status)
        self.execution_id, kind, self.status = started
        self._settled = settled_statuses(kind)
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


class Driving:
    """The driving part of ``Engine`` (it provides the clock, the front ends,
    starting, reading, listening and serving)."""

    clock: Clock
    front_ends: FrontEnds

    def start(self, definition: DefinitionRecord, input: JSON = None) -> str:
        raise NotImplementedError

    def _start_new(self, definition: DefinitionRecord, input: JSON = None) -> StartedExecution:
        raise NotImplementedError

    def get(self, execution_id: str) -> ExecutionRecord:
        raise NotImplementedError

    def add_listener(self, listener: Callable[[DecisionOutcome], None]) -> None:
        raise NotImplementedError

    def remove_listener(self, listener: Callable[[DecisionOutcome], None]) -> None:
        raise NotImplementedError

    def _serve(
        self,
        stop: threading.Event,
        until: Callable[[], bool] | None,
        own: Sequence[str],
        only_own: bool,
        started: Mapping[str, StartedExecution] | None,
    ) -> None:
        raise NotImplementedError

    def run(
        self,
        definition: DefinitionRecord,
        input: JSON = None,
        *,
        timeout: float | None = None,
    ) -> ExecutionRecord:
        """Start an execution and serve until it completes (or pauses); return its row."""
        new = self._start_new(definition, input)
        # Its first round decides it from what the start wrote, reading nothing.
        return self._drive(new.row.id, timeout, new)

    def drive(self, execution_id: str, *, timeout: float | None = None) -> ExecutionRecord:
        """Serve until ``execution_id`` completes or pauses (or ``timeout`` passes),
        deciding and running only its work and its children's."""
        return self._drive(execution_id, timeout, None)

    def _drive(
        self, execution_id: str, timeout: float | None, new: StartedExecution | None
    ) -> ExecutionRecord:
        """``drive``; ``new`` when this engine has just created the execution
        (nothing to read back, no children yet)."""
        stop = threading.Event()
        deadline = None if timeout is None else self.clock.now() + timeout
        started = None if new is None else (new.row.id, new.row.kind, new.row.status)
        watch = self.settled_watch(execution_id, started)

        def settled() -> bool:
            if watch():
                return True
            return deadline is not None and self.clock.now() >= deadline

        self.add_listener(watch.observe)
        try:
            self._serve(
                stop, settled, (execution_id,), True, None if new is None else {execution_id: new}
            )
        finally:
            self.remove_listener(watch.observe)
        return self.get(execution_id)

    def settled_watch(
        self, execution_id: str, started: tuple[str, str, str] | None = None
    ) -> SettledWatch:
        """A cheap check of whether ``execution_id`` has settled, for serve's
        ``until``; register its ``observe`` with ``add_listener`` while serving.
        ``started``: its (id, kind, status) when just created here."""

        def statuses(kind: str) -> frozenset[str]:
            front_end = self.front_ends.require(kind)
            return front_end.final_statuses | front_end.waiting_statuses

        return SettledWatch(lambda: self.get(execution_id), statuses, started)
