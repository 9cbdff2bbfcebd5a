"""The threads beside an engine's serve loops: heartbeats for running attempts,
and the relay that turns other processes' work into wake-ups.

An engine starts them with its first serve loop and keeps them until it is
closed (``LoopThreads``): a process that drives one short run after another
does not start two threads, bind a socket and take them down again for each.
"""

from __future__ import annotations

import atexit
import logging
import threading

from cadenza.engine.attempts import AttemptRunner
from cadenza.engine.clock import Clock, SystemClock
from cadenza.engine.wake import WakeUp
from cadenza.engine.wake_sockets import SocketRelay, WakeSockets, start_socket_relay
from cadenza.model.errors import StoreError
from cadenza.store.protocol import Store

log = logging.getLogger("cadenza.engine")

#: How long every thread must stay busy before the loop stops listening for
#: other processes' notifications (seconds): a short full spell is not worth
#: the unsubscribe and the subscribe after it.
FULL_BEFORE_PAUSE = 0.25


def start_heartbeats(
    runner: AttemptRunner, every: float, stop: threading.Event
) -> threading.Thread:
    """Extend running attempts' leases on a thread of their own: a long round
    (a big batch, a slow database) must not let a live worker's leases lapse."""

    def beat() -> None:
        while not stop.wait(every):
            try:
                runner.heartbeat()
            except StoreError as exc:
                log.warning("heartbeat failed (%s); trying again", exc)

    thread = threading.Thread(target=beat, name="cadenza-heartbeat", daemon=True)
    thread.start()
    return thread


def start_relay(
    store: Store,
    clock: Clock,
    wake: WakeUp,
    wake_sockets: WakeSockets | None,
    stop: threading.Event,
    hungry: threading.Event,
) -> threading.Thread | SocketRelay | None:
    """Turn store notifications (other processes' work), or on SQLite the rings
    of other processes, into wake-ups with news (``WakeUp.set``). ``hungry`` is
    set while the loop could take more tasks than its last claim found."""
    if not isinstance(clock, SystemClock):
        return None
    if not store.capabilities.notifications:
        return start_socket_relay(wake_sockets, wake, stop)

    # Where the store can stop listening (PostgreSQL), it does while every
    # thread stays busy: the server reads each notification in a
    # transaction per listening session, for nothing when the loop could
    # not take the work. The first wait after a pause wakes the loop.
    pause = getattr(store, "pause_notifications", None)

    def relay() -> None:
        while not stop.is_set():
            try:
                if pause is not None and not hungry.is_set():
                    if not hungry.wait(FULL_BEFORE_PAUSE):
                        pause()
                        hungry.wait(0.5)
                    continue
                if store.wait_for_work(0.5):
                    wake.set()
            except StoreError:
                stop.wait(0.5)

    thread = threading.Thread(target=relay, name="cadenza-notify", daemon=True)
    thread.start()
    return thread


class Appetite:
    """Whether any running serve loop of an engine could take more tasks than
    its last claim found (``room`` is set then): the relay listens for other
    processes' work only while one could."""

    def __init__(self) -> None:
        self.room = threading.Event()
        self._lock = threading.Lock()
        self._full: dict[int, bool] = {}

    def enter(self, loop: int) -> None:
        """A loop starts, with room."""
        self.say(loop, full=False)

    def say(self, loop: int, *, full: bool) -> None:
        """Whether ``loop``'s last claim filled every free thread."""
        with self._lock:
            self._full[loop] = full
            self._update()

    def leave(self, loop: int) -> None:
        """A loop ended."""
        with self._lock:
            self._full.pop(loop, None)
            self._update()

    def _update(self) -> None:
        if any(not full for full in self._full.values()):
            self.room.set()
        else:
            self.room.clear()


class LoopThreads:
    """The heartbeat thread and the relay of one engine, shared by its serve loops:
    started by the first loop (``ensure_started``), ended by ``close``."""

    def __init__(
        self,
        store: Store,
        runner: AttemptRunner,
        clock: Clock,
        wake: WakeUp,
        wake_sockets: WakeSockets | None,
        heartbeat_every: float,
    ) -> None:
        self._store = store
        self._runner = runner
        self._clock = clock
        self._wake = wake
        self._wake_sockets = wake_sockets
        self._every = heartbeat_every
        self.appetite = Appetite()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._relay: threading.Thread | SocketRelay | None = None
        self._heartbeats: threading.Thread | None = None

    def ensure_started(self) -> None:
        """Start the threads unless they run (a no-op after ``close``)."""
        with self._lock:
            if self._heartbeats is not None or self._stop.is_set():
                return
            self._heartbeats = start_heartbeats(self._runner, self._every, self._stop)
            self._relay = start_relay(
                self._store,
                self._clock,
                self._wake,
                self._wake_sockets,
                self._stop,
                self.appetite.room,
            )
            if isinstance(self._relay, SocketRelay):
                # A process that exits without closing its engine leaves no socket.
                atexit.register(self._relay.end)

    def close(self) -> None:
        """Stop the threads. The notification relay is not waited for: it may be
        in the middle of a wait (up to half a second) and ends after it on its
        own. A socket relay's file is removed now."""
        with self._lock:
            self._stop.set()
            relay, heartbeats = self._relay, self._heartbeats
        if isinstance(relay, SocketRelay):
            relay.end()
            atexit.unregister(relay.end)
        if heartbeats is not None:
            heartbeats.join(timeout=5)
