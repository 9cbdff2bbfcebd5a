"""The shape every event source has.

An event source reads batches of messages from a broker, turns them into
CloudEvents, hands each batch to ``deliver`` (which commits it to the
workspace's inbox, see :mod:`cadenza.triggers.inbox`) and acknowledges the
batch to the broker only after ``deliver`` returned. Hence at-least-once: a
crash before the acknowledgement makes the broker deliver the batch again,
and the workspace drops what it has already seen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

#: ``deliver(events, by)``: commit a batch; returns only once it is committed.
Deliver = Callable[[Sequence[dict[str, Any]], str], None]


class EventSource(Protocol):
    """A broker stream feeding one workspace (see the module docstring)."""

    name: str

    def run(self, deliver: Deliver, stop: threading.Event) -> None:
        """Read, deliver and acknowledge batches until ``stop`` is set; raises
        when the broker fails (the caller decides whether to try again)."""
