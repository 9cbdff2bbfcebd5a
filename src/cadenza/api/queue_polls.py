"""When workers last asked each queue for work, as one server process sees it.

The console shows, for a task waiting on a worker queue, whether anyone polled
that queue lately: a task nobody will take looks the same as one that is about
to be taken, unless the server can say when the queue was last asked.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence

from cadenza.engine.engine import Engine


class QueuePolls:
    """When a worker of this server process last asked each queue for work
    (``saw``): its serving loop at each round; other pollers call ``saw`` too.

    Kept in memory, not in the store: workers poll many times a second, and a
    write per poll would cost more than everything else they do; "has anyone
    polled lately" only matters while the server runs, and a restarted server
    knows again within one poll. The price: each server of a cluster sees its
    own workers only, and ``cadenza worker`` processes on the store directly
    are not seen at all.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def saw(self, queues: Sequence[str], now: float) -> None:
        """Workers asked ``queues`` for work at ``now``."""
        with self._lock:
            for queue in queues:
                self._last[queue] = max(now, self._last.get(queue, now))

    def last_polls(self) -> dict[str, float]:
        """Queue -> when it was last polled."""
        with self._lock:
            return dict(self._last)


_POLLS: weakref.WeakKeyDictionary[Engine, QueuePolls] = weakref.WeakKeyDictionary()
_POLLS_LOCK = threading.Lock()


def queue_polls(engine: Engine) -> QueuePolls:
    """The polls seen by ``engine``'s server; its own serving loop counts as a
    worker of its queues at each round it runs."""
    with _POLLS_LOCK:
        found = _POLLS.get(engine)
        if found is None:
            found = _POLLS[engine] = QueuePolls()
            polls = found
            engine.add_round_listener(lambda _done, now: polls.saw(engine.queues, now))
        return found
