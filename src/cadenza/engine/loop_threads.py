"""The threads a serve loop starts beside itself: heartbeats for its running
attempts, and the relay that turns other processes' work into wake-ups."""

from __future__ import annotations

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
