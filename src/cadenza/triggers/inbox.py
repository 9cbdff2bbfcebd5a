"""Handing a batch of events to a workspace: one store transaction per batch.

A source reads a batch from its broker, calls :meth:`WorkspaceInbox.deliver`,
and acknowledges the batch to the broker only after ``deliver`` returned:
the batch is then committed in the workspace's inbox, and the engine's next
decision folds it into history, the trigger contexts and the commands of the
actions, again in one transaction. A crash between the commit and the
acknowledgement makes the broker deliver the batch again; the workspace drops
the events it has already seen (by CloudEvents ``source`` and ``id``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cadenza.engine.clock import Clock, SystemClock
from cadenza.interpreters.triggers.interpreter import BATCH_SIGNAL
from cadenza.model.events import SignalReceived
from cadenza.store.protocol import Store


class WorkspaceInbox:
    """Delivers batches of CloudEvents to one workspace execution."""

    def __init__(
        self,
        store: Store,
        execution_id: str,
        *,
        clock: Clock | None = None,
        on_delivered: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.execution_id = execution_id
        self.clock: Clock = clock or SystemClock()
        self.on_delivered = on_delivered
        #: Events delivered by this inbox since it was made.
        self.delivered = 0

    def deliver(self, events: Sequence[dict[str, Any]], by: str) -> None:
        """Commit ``events`` (CloudEvents as JSON objects) to the workspace's
        inbox as one ``SignalReceived`` entry; raises if the store did not."""
        if not events:
            return
        signal = SignalReceived(name=BATCH_SIGNAL, data=list(events), by=by)
        self.store.deliver(self.execution_id, [signal], self.clock.now())
        self.delivered += len(events)
        if self.on_delivered is not None:
            self.on_delivered()
