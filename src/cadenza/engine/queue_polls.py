"""Which processes poll which queues: each serve loop says so in the store every
few seconds, so a console can tell a queue nobody polls from a busy one."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from cadenza.model.errors import StoreError
from cadenza.store.protocol import QueuePoll, Store

log = logging.getLogger("cadenza.engine")

#: How often a loop records in the store that it polls its queues (seconds): a
#: console asking "polled in the last minute?" gets a true answer, and the
#: write is one small transaction every few seconds, not one per claim.
QUEUE_POLLS_EVERY = 5.0
#: Polls not recorded again for this long are deleted (a day: the longest
#: "recently" the HTTP API asks about).
QUEUE_POLLS_KEPT = 86_400.0


def poller_description(owner: str) -> str:
    """Who an owner id (``host:pid:start:token``) is to a person: ``host pid N``."""
    parts = owner.split(":")
    return f"{parts[0]} pid {parts[1]}" if len(parts) == 4 else owner


def record_polls(store: Store, owner: str, queues: Sequence[str], now: float) -> None:
    """Say in the store that ``owner`` polls ``queues`` (all of them, each time,
    busy or not: a running loop takes their tasks as threads free up)."""
    polls = [QueuePoll(queue, owner, poller_description(owner), now) for queue in queues]
    try:
        store.record_queue_polls(polls, now - QUEUE_POLLS_KEPT)
    except StoreError as exc:
        # Only the console's "polled lately" suffers; the next record tells it.
        log.warning("could not record queue polls (%s)", exc)
