"""Running attempts of claimed tasks, and deciding what each attempt's end means.

A claimed task is run by its activity; how the attempt ended becomes one of
three store outcomes (``TaskFinish``): the task is done (its completion goes
to the execution's inbox), it is retried under its ``RetryPolicy`` (the
attempt's failure is recorded in history as ``TaskAttemptFailed``), or it is
suspended until a person answers it.

A lease that expires (worker crashed or hung, or the attempt ran past its
deadline) counts as a failed attempt under the same policy; the reaper finds
such tasks. Leases of processes on this host that are provably gone are
broken at once rather than waited out.

An attempt of a task whose meta has ``schedule_to_start_timeout`` is
recorded as started (``TaskStarted``, with this owner as the worker) before
its activity runs, as an outside worker's take is: the front end that set
the limit then knows the task was taken in time, whoever took it.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cadenza.engine.backoff import Backoff
from cadenza.engine.clock import Clock
from cadenza.engine.owner import owner_is_dead
from cadenza.engine.payload_ceilings import bounded_outcome
from cadenza.model.errors import LeaseLost, StoreError
from cadenza.model.events import (
    JSON,
    Event,
    TaskAttemptFailed,
    TaskCompleted,
    TaskStarted,
    TaskSuspended,
)
from cadenza.model.retry import HEARTBEAT_TIMEOUT, LOST_WORKER_ONLY, TASK_TIMEOUT, WORKER_LOST
from cadenza.model.secrets import mark_declared_result, secret_meta
from cadenza.store.payloads import PayloadLimits
from cadenza.store.protocol import ClaimRequest, FinishRequest, Store
from cadenza.store.records import FinishOutcome, TaskFinish, TaskRecord
from cadenza.workers.attempt import run_activity
from cadenza.workers.context import ActivityContext
from cadenza.workers.outcome import ActivityOutcome, OutcomeStatus
from cadenza.workers.registry import ActivityRegistry


@dataclass
class RunningTasks:
    """Tasks this process is running, for heartbeats and cancellation."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    contexts: dict[tuple[str, str], ActivityContext] = field(default_factory=dict)
    own_heartbeat: set[tuple[str, str]] = field(default_factory=set)

    def add(self, task: TaskRecord, context: ActivityContext) -> None:
        key = (task.execution_id, task.task_id)
        with self.lock:
            self.contexts[key] = context
            if task.heartbeat_timeout is not None:
                self.own_heartbeat.add(key)

    def remove(self, task: TaskRecord) -> None:
        key = (task.execution_id, task.task_id)
        with self.lock:
            self.contexts.pop(key, None)
            self.own_heartbeat.discard(key)

    def keys(self) -> list[tuple[str, str]]:
        with self.lock:
            return list(self.contexts)

    def auto_heartbeat_keys(self) -> list[tuple[str, str]]:
        """Attempts whose lease the runner extends by itself: those without a
        heartbeat timeout. An activity with one must heartbeat on its own, or
        the reaper times it out: that is how a hung activity is caught."""
        with self.lock:
            return [k for k in self.contexts if k not in self.own_heartbeat]

    def cancel(self, key: tuple[str, str]) -> None:
        """Ask the running attempt of ``key`` to stop (its activity sees
        ``context.cancelled``), if it runs here."""
        with self.lock:
            context = self.contexts.get(key)
        if context is not None:
            context.cancel()

    def cancel_missing(self, held: set[tuple[str, str]], asked: Sequence[tuple[str, str]]) -> None:
        """Stop attempts whose lease was lost: another worker owns the task now."""
        with self.lock:
            for key in asked:
                if key not in held and key in self.contexts:
                    self.contexts[key].cancel()


log = logging.getLogger("cadenza.engine")

#: The task meta key of a schedule-to-start limit (seconds): attempts of such a
#: task are recorded as started (``TaskStarted``) before they run.
SCHEDULE_TO_START_TIMEOUT = "schedule_to_start_timeout"


class AttemptRunner:
    """Runs tasks for one owner and reports their attempts to the store."""

    def __init__(
        self,
        store: Store,
        registry: ActivityRegistry,
        clock: Clock,
        owner: str,
        lease: float,
        on_finished: Callable[[], None] = lambda: None,
        payload_limits_for: Callable[[TaskRecord], PayloadLimits] | None = None,
    ) -> None:
        self.store = store
        #: The ceilings a task's result is held to (None: the store's for every task).
        self.payload_limits_for = payload_limits_for
        self.registry = registry
        self.clock = clock
        self.owner = owner
        self.lease = lease
        self.running = RunningTasks()
        self._on_finished = on_finished
        self._random = random.Random()

    def claim(self, queues: Sequence[str], limit: int) -> list[TaskRecord]:
        """Lease up to ``limit`` due tasks of ``queues`` to this owner."""
        request = ClaimRequest(self.owner, tuple(queues), limit, self.lease)
        return self.store.claim_tasks(request, self.clock.now())

    def execute(self, task: TaskRecord, *, release: bool = True) -> ActivityOutcome:
        """Run one claimed attempt's activity and return how it ended (not saved yet).

        With ``release=False`` the attempt stays among the running ones (its
        lease keeps being extended) until ``release_attempt``: the caller saves
        the outcome later and must not lose the lease meanwhile.
        """
        context = ActivityContext(
            execution_id=task.execution_id,
            task_id=task.task_id,
            attempt=task.attempt,
            on_heartbeat=lambda _details: self._heartbeat_one(task),
        )
        self.running.add(task, context)
        if task.meta.get(SCHEDULE_TO_START_TIMEOUT) is not None:
            self._record_start(task)
        try:
            return run_activity(self.registry, task.action or "core.noop", task.input, context)
        finally:
            if release:
                self.running.remove(task)

    def _record_start(self, task: TaskRecord) -> None:
        """Tell the execution its task was taken (see the module docstring)."""
        started = TaskStarted(task_id=task.task_id, worker=self.owner)
        try:
            self.store.deliver(task.execution_id, [started], self.clock.now())
        except StoreError as exc:
            # The attempt runs anyway; at worst its schedule-to-start limit
            # passes unmet and the front end withdraws the task.
            log.warning("could not record the start of %s: %s", task.task_id, exc)

    def release_attempt(self, task: TaskRecord) -> None:
        """Stop extending the lease of an attempt run with ``release=False``."""
        self.running.remove(task)

    def run(self, task: TaskRecord) -> None:
        """Run one claimed attempt to its end and save how it ended."""
        self._report(task, self.execute(task))
        self._on_finished()

    def _report(self, task: TaskRecord, outcome: ActivityOutcome) -> None:
        """Save how the attempt ended, riding out a store outage while our lease
        could still be valid; after that the reaper runs the task again."""
        backoff = Backoff()
        give_up = self.clock.now() + self.lease
        pause = threading.Event()  # never set: waits are plain pauses on the clock
        while True:
            try:
                self.finish(task, outcome, owner=self.owner)
                return
            except LeaseLost:
                # Another owner took the task over after our lease expired (or
                # an earlier try of this report did commit): the attempt that
                # counts is already recorded, and nothing is recorded twice.
                return
            except StoreError as exc:
                if self.clock.now() >= give_up:
                    log.warning("gave up reporting %s: %s", task.task_id, exc)
                    return
                self.clock.wait(pause, backoff.next_delay())

    def heartbeat(self) -> None:
        """Extend the leases of running attempts (called periodically)."""
        keys = self.running.auto_heartbeat_keys()
        if keys:
            held = self.store.heartbeat_tasks(self.owner, keys, self.lease, self.clock.now())
            self.running.cancel_missing(held, keys)

    def _heartbeat_one(self, task: TaskRecord) -> None:
        key = (task.execution_id, task.task_id)
        try:
            held = self.store.heartbeat_tasks(self.owner, [key], self.lease, self.clock.now())
        except StoreError as exc:
            # A missed heartbeat only shortens the lease; the activity goes on.
            log.warning("heartbeat of %s failed: %s", task.task_id, exc)
            return
        self.running.cancel_missing(held, [key])

    def finish(self, task: TaskRecord, outcome: ActivityOutcome, owner: str | None) -> None:
        """Apply ``task``'s retry policy to ``outcome`` and save the result."""
        self.store.finish_task(self.finish_request(task, outcome, owner), self.clock.now())

    def finish_request(
        self, task: TaskRecord, outcome: ActivityOutcome, owner: str | None
    ) -> FinishRequest:
        """How ``outcome`` ends ``task``'s attempt under its retry policy."""
        store = self.store
        ceilings = self.payload_limits_for
        limits = store.payload_limits if ceilings is None else ceilings(task)
        outcome = bounded_outcome(task, outcome, limits, store.stored_payload_bytes)
        now = self.clock.now()
        # Values the action marked secret, or its step declared secret: recorded
        # plain, their places in meta.
        result, meta = secret_meta(mark_declared_result(outcome.result, task.meta))
        if outcome.status == OutcomeStatus.PENDING:
            event: Event = TaskSuspended(
                task_id=task.task_id, status="pending", result=outcome.result
            )
            finish = TaskFinish(FinishOutcome.SUSPEND, [event])
        elif outcome.status == OutcomeStatus.SUCCEEDED:
            finish = TaskFinish(
                FinishOutcome.DONE,
                [
                    TaskCompleted(
                        task_id=task.task_id,
                        status="succeeded",
                        result=result,
                        attempt=task.attempt,
                        meta=meta,
                    )
                ],
            )
        else:
            error = outcome.error
            assert error is not None
            finish = self._failure(
                task,
                outcome.status.value,
                result,
                error.to_dict(),
                now,
                error.type,
                error.non_retryable,
                meta,
            )
        return FinishRequest(task.execution_id, task.task_id, task.attempt, owner, finish)

    def _failure(
        self,
        task: TaskRecord,
        status: str,
        result: object,
        error: dict[str, object],
        now: float,
        error_type: str,
        non_retryable: bool,
        meta: dict[str, JSON] | None = None,
    ) -> TaskFinish:
        policy = task.retry or LOST_WORKER_ONLY
        if policy.should_retry(task.attempt, error_type, non_retryable):
            wait = policy.delay(task.attempt, self._random.random())
            return TaskFinish(
                FinishOutcome.RETRY,
                [
                    TaskAttemptFailed(
                        task_id=task.task_id, attempt=task.attempt, error=error, retry_in=wait
                    )
                ],
                available_at=now + wait,
            )
        return TaskFinish(
            FinishOutcome.DONE,
            [
                TaskCompleted(
                    task_id=task.task_id,
                    status=status,
                    result=result,
                    error=error,
                    attempt=task.attempt,
                    meta=meta or {},
                )
            ],
        )

    def reap(self, limit: int = 100) -> int:
        """Treat expired leases as failed attempts; break leases of dead local owners."""
        now = self.clock.now()
        dead = [o for o in self.store.lease_owners() if o != self.owner and owner_is_dead(o)]
        if dead:
            self.store.break_leases(dead, now)
        count = 0
        for task in self.store.expired_tasks(now, limit):
            if task.deadline is not None and task.deadline <= now:
                error_type, status = TASK_TIMEOUT, "timeout"
                message = f"the attempt ran longer than its timeout of {task.timeout} s"
            elif task.heartbeat_timeout is not None:
                error_type, status = HEARTBEAT_TIMEOUT, "timeout"
                message = f"no heartbeat within {task.heartbeat_timeout} s"
            else:
                error_type, status = WORKER_LOST, "abandoned"
                message = f"the worker {task.lease_owner} stopped holding its lease"
            error: dict[str, object] = {"type": error_type, "message": message}
            finish = self._failure(task, status, None, error, now, error_type, False)
            try:
                self.store.finish_task(
                    FinishRequest(
                        task.execution_id, task.task_id, task.attempt, task.lease_owner, finish
                    ),
                    now,
                )
                count += 1
            except LeaseLost:
                continue  # the owner finished it after all, just in time
            if task.lease_owner == self.owner:
                # Timed out here: tell the activity, so it can stop instead of
                # running on (and holding up a clean shutdown) for nothing.
                self.running.cancel((task.execution_id, task.task_id))
        return count
