"""The threads beside an engine's serve loops: heartbeats for running attempts,
and the relay that turns other processes' work into wake-ups.

An engine starts them with its first serve loop and keeps them while loops
come and go (``LoopThreads``): a process that drives one short run after
another does not start two threads, bind a socket and take them down again
for each. They end when the engine is closed, or once no loop has run for
``IDLE_BEFORE_STOP`` seconds: an engine left open with no loop (a test's, a
tool's) keeps no thread waking, no listening session and no socket.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
from collections.abc import Callable

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

#: How long an engine's threads outlive its last serve loop (seconds), at least;
#: the heartbeat thread looks at each beat.
IDLE_BEFORE_STOP = 5.0


def start_heartbeats(
    runner: AttemptRunner,
    every: float,
    stop: threading.Event,
    stop_if_idle: Callable[[], bool] = lambda: False,
) -> threading.Thread:
    """Extend running attempts' leases on a thread of their own: a long round
    (a big batch, a slow database) must not let a live worker's leases lapse.
    After each beat ``stop_if_idle`` may end the threads (it sets ``stop``)."""

    def beat() -> None:
        while not stop.wait(every):
            try:
                runner.heartbeat()
            except StoreError as exc:
                log.warning("heartbeat failed (%s); trying again", exc)
            if stop_if_idle():
                return

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
        if pause is not None:
            # Stopped with the engine still open (idle): no session stays subscribed.
            with contextlib.suppress(StoreError):
                pause()

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
    started by the first loop to ``enter``, ended by ``close`` or once no loop
    has been in for ``IDLE_BEFORE_STOP`` seconds (the next loop starts them
    again)."""

    def __init__(
        self,
        store: Store,
        runner: AttemptRunner,
        clock: Clock,
        wake: WakeUp,
        wake_sockets: WakeSockets | None,
        heartbeat_every: float,
        idle_before_stop: float = IDLE_BEFORE_STOP,
    ) -> None:
        self._store = store
        self._runner = runner
        self._clock = clock
        self._wake = wake
        self._wake_sockets = wake_sockets
        self._every = heartbeat_every
        self._idle_before_stop = idle_before_stop
        self.appetite = Appetite()
        self._closed = False
        self._lock = threading.Lock()
        #: The running threads' stop signal; a new one for each start.
        self._stop = threading.Event()
        self._relay: threading.Thread | SocketRelay | None = None
        self._heartbeats: threading.Thread | None = None
        self._loops = 0
        self._last_left = time.monotonic()

    @property
    def running(self) -> bool:
        """Whether the threads run now."""
        with self._lock:
            return self._heartbeats is not None

    def enter(self, loop: int) -> None:
        """A serve loop starts: start the threads unless they run (not after
        ``close``) and count the loop in."""
        with self._lock:
            self._loops += 1
            if self._heartbeats is None and not self._closed:
                self._start()
        self.appetite.enter(loop)

    def leave(self, loop: int) -> None:
        """A serve loop ended."""
        self.appetite.leave(loop)
        with self._lock:
            self._loops -= 1
            if self._loops == 0:
                self._last_left = time.monotonic()

    def _start(self) -> None:
        stop = self._stop = threading.Event()
        self._heartbeats = start_heartbeats(
            self._runner, self._every, stop, lambda: self._stop_if_idle(stop)
        )
        self._relay = start_relay(
            self._store, self._clock, self._wake, self._wake_sockets, stop, self.appetite.room
        )
        if isinstance(self._relay, SocketRelay):
            # A process that exits without closing its engine leaves no socket.
            atexit.register(self._relay.end)

    def _stop_if_idle(self, stop: threading.Event) -> bool:
        """End the threads of ``stop`` if no loop has been in for long enough."""
        with self._lock:
            if stop is not self._stop or self._loops > 0:
                return False
            if time.monotonic() - self._last_left < self._idle_before_stop:
                return False
            relay = self._take_threads()
        _end_relay(relay)
        return True

    def _take_threads(self) -> threading.Thread | SocketRelay | None:
        """Signal the running threads to stop and forget them (under the lock)."""
        self._stop.set()
        relay = self._relay
        self._relay = self._heartbeats = None
        return relay

    def close(self) -> None:
        """Stop the threads for good. The notification relay is not waited for:
        it may be in the middle of a wait (up to half a second) and ends after
        it on its own. A socket relay's file is removed now."""
        with self._lock:
            self._closed = True
            heartbeats = self._heartbeats
            relay = self._take_threads()
        _end_relay(relay)
        if heartbeats is not None and heartbeats is not threading.current_thread():
            heartbeats.join(timeout=5)


def _end_relay(relay: threading.Thread | SocketRelay | None) -> None:
    if isinstance(relay, SocketRelay):
        relay.end()
        atexit.unregister(relay.end)
