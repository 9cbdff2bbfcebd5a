"""When workers last asked each queue for work, and who they were.

The console shows, for a task waiting on a worker queue, whether anyone polled
that queue lately: a task nobody will take looks the same as one that is about
to be taken, unless the server can say when the queue was last asked.

Two sources, merged by ``polled_queues``:

- the store's ``queue_polls`` rows, which every serve loop writes every few
  seconds (``cadenza.engine.serve``): ``cadenza worker`` processes, this
  server's loop and every other server's, on any host sharing the store;
- this server's memory (``QueuePolls``), for the exact time of its own polls:
  its loop at each round and the HTTP workers claiming through it. A store row
  may be up to ``QUEUE_POLLS_EVERY`` seconds older than the poll it stands for;
  the memory is not, so a short ``recent`` still finds this server's pollers.

HTTP workers' polls go to the store too, at most every few seconds per queue,
so that the other servers of a cluster see them.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence

from cadenza.api.models import PollerOut, QueueList, QueueOut
from cadenza.engine.engine import Engine
from cadenza.engine.queue_polls import QUEUE_POLLS_EVERY, QUEUE_POLLS_KEPT, poller_description
from cadenza.model.errors import StoreError
from cadenza.store.protocol import QueuePoll, Store

log = logging.getLogger("cadenza.api")


class QueuePolls:
    """When pollers of this server process last asked each queue for work.

    ``saw`` is an HTTP worker's claim: kept here, and written to the store (with
    ``store``) at most every ``QUEUE_POLLS_EVERY`` seconds per queue, never per
    claim. ``saw_loop`` is this server's own serving loop, which records itself
    in the store; here only its exact latest time is kept.
    """

    def __init__(self, store: Store | None = None, owner: str = "this server") -> None:
        self._store = store
        self._lock = threading.Lock()
        #: (queue, poller) -> (description, when).
        self._last: dict[tuple[str, str], tuple[str, float]] = {}
        self._loop = (owner, poller_description(owner))
        self._http = (f"{owner}/http", f"HTTP workers through {poller_description(owner)}")
        #: Queue -> when HTTP polls of it are next written to the store.
        self._next_write: dict[str, float] = {}

    def saw(self, queues: Sequence[str], now: float) -> None:
        """HTTP workers asked ``queues`` for work at ``now``."""
        poller, description = self._http
        with self._lock:
            self._keep(queues, poller, description, now)
            due = [q for q in queues if now >= self._next_write.get(q, now)]
            for queue in due:
                self._next_write[queue] = now + QUEUE_POLLS_EVERY
        if due and self._store is not None:
            polls = [QueuePoll(q, poller, description, now) for q in due]
            try:
                self._store.record_queue_polls(polls, now - QUEUE_POLLS_KEPT)
            except StoreError as exc:
                # The claim goes on; only the console's "polled lately" waits.
                log.warning("could not record queue polls (%s)", exc)

    def saw_loop(self, queues: Sequence[str], now: float) -> None:
        """This server's serving loop asked ``queues`` for work at ``now``."""
        poller, description = self._loop
        with self._lock:
            self._keep(queues, poller, description, now)

    def _keep(self, queues: Sequence[str], poller: str, description: str, now: float) -> None:
        for queue in queues:
            kept = self._last.get((queue, poller))
            if kept is None or kept[1] < now:
                self._last[(queue, poller)] = (description, now)

    def polls(self) -> list[QueuePoll]:
        """Every poll kept here, the latest of each ``(queue, poller)``."""
        with self._lock:
            return [QueuePoll(q, p, d, t) for (q, p), (d, t) in self._last.items()]

    def last_polls(self) -> dict[str, float]:
        """Queue -> when it was last polled."""
        last: dict[str, float] = {}
        for poll in self.polls():
            last[poll.queue] = max(poll.polled_at, last.get(poll.queue, poll.polled_at))
        return last


_POLLS: weakref.WeakKeyDictionary[Engine, QueuePolls] = weakref.WeakKeyDictionary()
_POLLS_LOCK = threading.Lock()


def queue_polls(engine: Engine) -> QueuePolls:
    """The polls seen by ``engine``'s server; its own serving loop counts as a
    worker of its queues at each round it runs."""
    with _POLLS_LOCK:
        found = _POLLS.get(engine)
        if found is None:
            found = _POLLS[engine] = QueuePolls(engine.store, engine.owner)
            polls = found
            engine.add_round_listener(lambda _done, now: polls.saw_loop(engine.queues, now))
        return found


def polled_queues(engine: Engine, polls: QueuePolls, recent: float) -> QueueList:
    """Every queue with tasks or pollers: its tasks by status, its pollers from
    the store and from ``polls`` (the later time of each), and whether any of
    them polled it within ``recent`` seconds."""
    now = engine.clock.now()
    counts: dict[str, dict[str, int]] = {}
    for (queue, task_status), n in engine.store.task_counts().items():
        counts.setdefault(queue, {})[task_status] = n
    latest: dict[tuple[str, str], QueuePoll] = {}
    for poll in [*engine.store.queue_polls(), *polls.polls()]:
        kept = latest.get((poll.queue, poll.poller))
        if kept is None or kept.polled_at < poll.polled_at:
            latest[(poll.queue, poll.poller)] = poll
    pollers: dict[str, list[PollerOut]] = {}
    for poll in sorted(latest.values(), key=lambda p: (-p.polled_at, p.poller)):
        pollers.setdefault(poll.queue, []).append(
            PollerOut(poller=poll.poller, description=poll.description, last_poll=poll.polled_at)
        )
    queues = []
    for queue in sorted(counts.keys() | pollers.keys()):
        found = pollers.get(queue, [])
        last = found[0].last_poll if found else None
        queues.append(
            QueueOut(
                queue=queue,
                tasks=counts.get(queue, {}),
                last_poll=last,
                polled_recently=last is not None and now - last <= recent,
                pollers=found,
            )
        )
    return QueueList(recent=recent, queues=queues)
