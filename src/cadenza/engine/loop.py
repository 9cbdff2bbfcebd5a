"""The background shape of an engine: one loop thread and a pool of task threads.

Each round of the loop is one store transaction (``Store.cycle``): the
attempts the task threads finished since the last round are saved, the
executions they (and anyone else) woke are decided, and due tasks are claimed
for the free threads. Under load one commit carries many steps of many
executions; a lone sequential run costs one commit per step.

Timers, the lease reaper and heartbeats run on the same loop, less often.
Other processes' work arrives through the store's notifications where it has
them (a relay thread turns them into a wake-up), else by polling.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from cadenza.engine.backoff import Backoff
from cadenza.engine.clock import SystemClock
from cadenza.model.errors import SchemaMismatch, StoreError
from cadenza.store.protocol import ClaimRequest, FinishRequest
from cadenza.store.records import TaskRecord
from cadenza.workers.outcome import ActivityOutcome

if TYPE_CHECKING:
    from cadenza.engine.engine import Engine

log = logging.getLogger("cadenza.engine")


class ServeLoop:
    """Runs ``engine`` until ``stop`` is set or ``until()`` holds."""

    def __init__(
        self,
        engine: Engine,
        stop: threading.Event,
        until: Callable[[], bool] | None = None,
    ) -> None:
        self.engine = engine
        self.stop = stop
        self.until = until
        self._done: queue.SimpleQueue[tuple[TaskRecord, ActivityOutcome]] = queue.SimpleQueue()
        self._unsaved: list[tuple[TaskRecord, FinishRequest]] = []
        self._in_flight: set[Future[None]] = set()

    def run(self) -> None:
        engine = self.engine
        pool = ThreadPoolExecutor(max_workers=engine.concurrency, thread_name_prefix="cadenza-task")
        heartbeat_every = max(0.05, engine.lease / 3)
        next_heartbeat = engine.clock.now() + heartbeat_every
        next_reap = 0.0
        outage = Backoff()
        relay = self._start_relay()
        heartbeats = self._start_heartbeats(heartbeat_every)
        try:
            while not self.stop.is_set() and not (self.until is not None and self.until()):
                engine._wake.clear()
                try:
                    busy = engine.store.fire_due_timers(engine.clock.now(), 100)
                    busy += self._round(pool)
                    now = engine.clock.now()
                    if now >= next_reap:
                        busy += engine.runner.reap()
                        next_reap = now + min(1.0, engine.lease / 3)
                    if now >= next_heartbeat:
                        next_heartbeat = now + heartbeat_every
                    if not busy:
                        self._idle(next_heartbeat)
                    outage.reset()
                except SchemaMismatch:
                    raise
                except StoreError as exc:
                    # The database went away or refused (restart, failover, lock
                    # conflict): nothing of the round was saved, and the finished
                    # attempts wait in ``_unsaved`` for the next try.
                    delay = outage.next_delay()
                    log.warning("store error (%s); retrying in %.2fs", exc, delay)
                    self.stop.wait(delay)
        finally:
            self.stop.set()
            pool.shutdown(wait=True, cancel_futures=False)
            self._save_leftovers()
            for thread in (relay, heartbeats):
                if thread is not None:
                    thread.join(timeout=5)

    def _round(self, pool: ThreadPoolExecutor) -> int:
        """One transaction: save finished attempts, decide, claim for free threads."""
        engine = self.engine
        while True:
            try:
                task, outcome = self._done.get_nowait()
            except queue.Empty:
                break
            request = engine.runner.finish_request(task, outcome, engine.owner)
            self._unsaved.append((task, request))
        self._in_flight = {f for f in self._in_flight if not f.done()}
        free = engine.concurrency - len(self._in_flight)
        claim = ClaimRequest(engine.owner, engine.queues, free, engine.lease) if free > 0 else None
        finishes = self._unsaved
        cycle = engine.run_cycle([request for _task, request in finishes], claim)
        self._unsaved = []  # saved (or refused as lost, which is final)
        for task, _request in finishes:
            engine.runner.release_attempt(task)
        for claimed in cycle.claimed:
            self._in_flight.add(pool.submit(self._execute, claimed))
        return len(finishes) + cycle.decided + len(cycle.claimed)

    def _execute(self, task: TaskRecord) -> None:
        # The lease stays extended until the loop has saved the outcome.
        outcome = self.engine.runner.execute(task, release=False)
        self._done.put((task, outcome))
        self.engine._wake.set()

    def _idle(self, next_heartbeat: float) -> None:
        engine = self.engine
        due = engine.store.next_wakeup()
        wait = engine.poll_interval
        now = engine.clock.now()
        if due is not None:
            wait = min(wait, max(0.0, due - now))
        wait = min(wait, max(0.0, next_heartbeat - now))
        engine.clock.wait(engine._wake, wait)

    def _start_heartbeats(self, every: float) -> threading.Thread:
        """Extend running attempts' leases on a thread of their own: a long round
        (a big batch, a slow database) must not let a live worker's leases lapse."""
        engine = self.engine

        def beat() -> None:
            while not self.stop.wait(every):
                try:
                    engine.runner.heartbeat()
                except StoreError as exc:
                    log.warning("heartbeat failed (%s); trying again", exc)

        thread = threading.Thread(target=beat, name="cadenza-heartbeat", daemon=True)
        thread.start()
        return thread

    def _start_relay(self) -> threading.Thread | None:
        """Turn store notifications (other processes' work) into wake-ups."""
        engine = self.engine
        if not (engine.store.capabilities.notifications and isinstance(engine.clock, SystemClock)):
            return None

        def relay() -> None:
            while not self.stop.is_set():
                try:
                    if engine.store.wait_for_work(0.5):
                        engine._wake.set()
                except StoreError:
                    self.stop.wait(0.5)

        thread = threading.Thread(target=relay, name="cadenza-notify", daemon=True)
        thread.start()
        return thread

    def _save_leftovers(self) -> None:
        """Attempts that finished while the loop was stopping are saved on the way out."""
        while True:
            try:
                task, outcome = self._done.get_nowait()
            except queue.Empty:
                break
            request = self.engine.runner.finish_request(task, outcome, self.engine.owner)
            self._unsaved.append((task, request))
        if self._unsaved:
            try:
                self.engine.run_cycle([request for _task, request in self._unsaved], None)
            except StoreError as exc:
                # Their leases expire and the tasks run again: at least once.
                log.warning("could not save %d finished attempts: %s", len(self._unsaved), exc)
