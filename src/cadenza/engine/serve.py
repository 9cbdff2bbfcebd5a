"""The background shape of an engine: one loop thread and a pool of task threads.

Each round of the loop is one store round (``Store.run_round``, one commit):
the attempts the task threads finished since the last round are saved, the
executions they (and anyone else) woke are decided, and due tasks are claimed
for the free threads. Under load one commit carries many steps of many
executions; a lone sequential run costs one commit per step. A quick attempt
runs on the loop's thread without a hand-off, and a round leases the quick
tasks its decisions schedule beyond its free threads (``_runs_inline``).
A round whose only work is the loop's own finished attempts, with no news of
other work since a round last looked, reads nothing first and claims only
the tasks it schedules (``_looks_for_work``, ``RoundRequest.known``).

Timers and the lease reaper run on the same loop, less often; heartbeats on a
thread the engine's loops share. Other processes' work arrives through the
store's notifications where it has them (a relay thread, also shared, turns
them into a wake-up; while every loop's threads stay busy the store stops
listening, see ``loop_threads``), on SQLite through wake-up
sockets beside the file (``cadenza.engine.wake_sockets``), else by polling.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from cadenza.engine.attempts import AttemptRunner
from cadenza.engine.backoff import Backoff
from cadenza.engine.clock import Clock, SystemClock
from cadenza.engine.loop_threads import LoopThreads
from cadenza.engine.queue_polls import QUEUE_POLLS_EVERY, record_polls
from cadenza.engine.wake import WakeUp
from cadenza.model.errors import SchemaMismatch, StoreError, StoreFault
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES, ExecutionStatus
from cadenza.store.protocol import ClaimRequest, FinishRequest, RoundOutcome, Store
from cadenza.store.quiet_rounds import is_quick
from cadenza.store.records import StartedExecution, TaskRecord
from cadenza.workers.outcome import ActivityOutcome

log = logging.getLogger("cadenza.engine")

#: One store round: save these finishes, decide (only these executions, when
#: given), claim; the last argument says whether the round must look for work
#: beyond the finishes (see ``Engine.run_round``).
RunRound = Callable[
    [
        Sequence[FinishRequest],
        ClaimRequest | None,
        Collection[str] | None,
        bool,
        Mapping[str, StartedExecution] | None,
    ],
    RoundOutcome,
]


@dataclass(frozen=True)
class ServeSettings:
    """How a serve loop works: who it is, how much it runs, how long it waits."""

    owner: str
    queues: tuple[str, ...]
    concurrency: int
    lease: float
    poll_interval: float
    #: The actions this process can run: it claims only their tasks...
    actions: tuple[str, ...] | None = None
    #: ...and every task of these executions (the ones it drives).
    own: tuple[str, ...] = ()
    #: Decide and run nothing but ``own`` and the children they start.
    only_own: bool = False
    #: The executions in ``own`` were just created: none has a child yet.
    own_are_new: bool = False
    #: What their starts returned: the loop's first round decides them from
    #: these, reading nothing (``RoundRequest.started``).
    started: Mapping[str, StartedExecution] = field(default_factory=dict)
    #: Decisions one round makes at most (a full batch means more may wait).
    decision_batch: int = 64
    #: On stop, how long running attempts may take to finish before the loop
    #: lets them go (their leases released, so another process takes them at once).
    stop_grace: float = 10.0


@dataclass(frozen=True)
class ServeParts:
    """What a serve loop drives. ``wake`` is set by anyone who added work."""

    store: Store
    runner: AttemptRunner
    clock: Clock
    run_round: RunRound
    wake: WakeUp
    #: The kinds this process can decide (others' inbox events do not wake it).
    kinds: Callable[[], Sequence[str]]
    #: The heartbeat thread and the relay, shared by the engine's loops.
    threads: LoopThreads
    #: Per action: whether its last attempt was quick (see ``_INLINE_UNDER``).
    #: An engine passes the same one to every loop it serves, so the first
    #: attempt of each of its runs need not go to the pool to be timed again.
    quick: dict[str, bool] | None = None


#: How often a busy loop looks for due timers (seconds).
_TIMER_LOOK_EVERY = 0.05
#: ...and one whose every thread is busy (another process may look sooner).
_TIMER_LOOK_EVERY_WHEN_FULL = 0.25

#: An attempt whose action took less than this here last time (seconds) runs on
#: the loop's thread when it is the loop's only work: handing it to a pool
#: thread and back costs more than a quick activity itself.
_INLINE_UNDER = 0.001

#: How often ``until()`` is asked while tasks of this loop run or wait to be
#: saved (seconds); otherwise before every round. It is often a store read (a
#: worker's "anything left?"), one more transaction per round under load.
_UNTIL_LOOK_EVERY = 0.25

#: How long an idle loop waits when the store says work is due already but its
#: round found none (seconds), instead of asking again at once.
_DUE_ELSEWHERE_WAIT = 0.05

#: A round whose only work is this loop's finished attempts, with no news of
#: other work since the last round that looked, skips the look (a store read
#: per step, see ``RoundRequest.known``); at least this often (seconds) a round
#: looks anyway, for work that arrived without news (another process's, on a
#: store that can neither notify nor ring; a retry whose delay ran out).
_LOOK_FOR_WORK_EVERY = 0.05


def open_descendants(store: Store, ids: Collection[str]) -> set[str]:
    """The executions started, directly or not, by ``ids`` that are not final."""
    found: set[str] = set()
    frontier = list(ids)
    while frontier:
        parent = frontier.pop()
        for child in store.list_executions(parent_id=parent, limit=10_000):
            if child.id not in found and child.status not in FINAL_EXECUTION_STATUSES:
                found.add(child.id)
                frontier.append(child.id)
    return found


class ServeLoop:
    """Runs rounds until ``stop`` is set or ``until()`` holds."""

    def __init__(
        self,
        parts: ServeParts,
        settings: ServeSettings,
        stop: threading.Event,
        until: Callable[[], bool] | None = None,
    ) -> None:
        self.parts = parts
        self.settings = settings
        self.stop = stop
        self.until = until
        self._done: queue.SimpleQueue[tuple[TaskRecord, ActivityOutcome]] = queue.SimpleQueue()
        self._unsaved: list[tuple[TaskRecord, FinishRequest]] = []
        self._in_flight: set[Future[None]] = set()
        #: Per action: whether its last attempt here was quick (see ``_INLINE_UNDER``).
        self._quick: dict[str, bool] = parts.quick if parts.quick is not None else {}
        #: Attempts handed to the pool whose outcome the loop has not taken yet.
        self._outstanding = 0
        #: The executions this loop drives: ``own``, and their children as they start.
        self._own: set[str] = set(settings.own)
        #: Own executions just created, for the first round (``ServeSettings.started``).
        self._started = dict(settings.started) if settings.only_own else {}
        #: Whether the loop could take more tasks than its last claim found:
        #: only then do other processes' notifications matter to it.
        self._has_room = True
        self._next_until = 0.0
        #: Whether the last round ended or paused an execution (``until`` may hold).
        self._settled_some = False
        #: Whether the next round must look for work beyond its finishes, and
        #: the wake-up's news count and the time when a round last looked.
        self._look = True
        self._news_seen = -1
        self._next_look = 0.0

    def run(self) -> None:
        parts, settings = self.parts, self.settings
        pool = ThreadPoolExecutor(
            max_workers=settings.concurrency, thread_name_prefix="cadenza-task"
        )
        heartbeat_every = max(0.05, settings.lease / 3)
        next_heartbeat = parts.clock.now() + heartbeat_every
        reap_every = min(1.0, settings.lease / 3)
        # A loop that drives executions it just created has no lease of theirs to
        # break at once; other processes' leases wait for its first regular look.
        next_reap = parts.clock.now() + reap_every if settings.own_are_new else 0.0
        # Nor has it timers yet: the first look for due ones (anyone's) waits
        # for the usual pace, not the first round.
        next_timers = parts.clock.now() + _TIMER_LOOK_EVERY if settings.own_are_new else 0.0
        next_poll_record = 0.0
        idle_before = not settings.own_are_new
        outage = Backoff()
        parts.threads.enter(id(self))
        if settings.only_own and not settings.own_are_new:
            # Children started before this loop (by an answer, a rerun) are
            # part of the work it drives.
            self._own |= open_descendants(parts.store, self._own)
        try:
            while not self.stop.is_set() and not self._until_holds():
                parts.wake.clear()
                try:
                    busy = 0
                    # While busy, due timers are looked for every few
                    # milliseconds, not in every round: that look is a store
                    # round trip, and a busy round comes every step. After an
                    # idle wait (which ends when the next timer is due) always.
                    # With every thread busy, less often: any process of the
                    # cluster fires any due timer, and one with free threads
                    # looks at the usual pace.
                    if idle_before or parts.clock.now() >= next_timers:
                        fired = parts.store.fire_due_timers(parts.clock.now(), 100)
                        busy += fired
                        self._look = self._look or fired > 0
                        full = not self._has_room
                        next_timers = parts.clock.now() + (
                            _TIMER_LOOK_EVERY_WHEN_FULL if full else _TIMER_LOOK_EVERY
                        )
                    again, claimed = self._round(pool)
                    busy += again
                    now = parts.clock.now()
                    if now >= next_poll_record and not settings.only_own:
                        # A loop that drives only its own executions takes no
                        # one else's tasks: it is no poller of its queues.
                        record_polls(parts.store, settings.owner, settings.queues, now)
                        next_poll_record = now + QUEUE_POLLS_EVERY
                    if now >= next_reap:
                        reaped = parts.runner.reap()
                        busy += reaped
                        self._look = self._look or reaped > 0
                        next_reap = now + reap_every
                    if now >= next_heartbeat:
                        next_heartbeat = now + heartbeat_every
                    idle_before = not busy and not claimed
                    if self._settled_some and self._until_holds(at_once=True):
                        # An execution ended or paused: the caller waiting for it
                        # learns so now, not after the wait below.
                        break
                    if claimed and not busy:
                        # Tasks were just handed out and nothing else is due:
                        # the loop is woken when one of them ends, so it waits
                        # without asking the store when the next work is due.
                        wait = min(settings.poll_interval, max(0.0, next_heartbeat - now))
                        parts.clock.wait(parts.wake, wait)
                    elif idle_before:
                        self._idle(next_heartbeat)
                    outage.reset()
                except (SchemaMismatch, StoreFault):
                    # Trying again changes nothing until someone fixes the store
                    # (a full disk, a read-only file, a dropped table): say so and stop.
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
            still_running = self._wait_for_attempts(settings.stop_grace)
            pool.shutdown(wait=False, cancel_futures=True)
            self._save_leftovers()
            if still_running:
                self._let_go(still_running)
            parts.threads.leave(id(self))

    def _until_holds(self, *, at_once: bool = False) -> bool:
        """``until()``, asked at most every ``_UNTIL_LOOK_EVERY`` while tasks run
        (``at_once``: now)."""
        if self.until is None:
            return False
        now = self.parts.clock.now()
        running = not self._done.empty() or any(not f.done() for f in self._in_flight)
        if running and now < self._next_until and not at_once:
            return False
        self._next_until = now + _UNTIL_LOOK_EVERY
        return self.until()

    def _round(self, pool: ThreadPoolExecutor) -> tuple[int, int]:
        """One round: save finished attempts, decide, claim for free threads.

        Returns the work that calls for another round at once (saved finishes,
        decisions, refused decisions), and how many tasks were claimed."""
        parts, settings = self.parts, self.settings
        while True:
            try:
                task, outcome = self._done.get_nowait()
            except queue.Empty:
                break
            request = parts.runner.finish_request(task, outcome, settings.owner)
            self._unsaved.append((task, request))
            self._outstanding -= 1
        self._in_flight = {f for f in self._in_flight if not f.done()}
        free = settings.concurrency - len(self._in_flight)
        only = frozenset(self._own) if settings.only_own else None
        claim = (
            ClaimRequest(
                settings.owner,
                settings.queues,
                free,
                settings.lease,
                # Only own work: no action qualifies a task by itself.
                actions=() if settings.only_own else settings.actions,
                own=tuple(sorted(self._own)),
                quick=frozenset(action for action, quick in self._quick.items() if quick),
                quick_limit=settings.decision_batch,
            )
            if free > 0
            else None
        )
        finishes = self._unsaved
        # The first round of executions this loop just created decides them from
        # what their starts wrote; it still takes in the news of work so far.
        started, self._started = self._started, {}
        discover = self._looks_for_work() and not started
        done = parts.run_round(
            [request for _task, request in finishes], claim, only, discover, started
        )
        for result in done.saved:
            if result.execution_id in self._own:
                self._own.update(child.execution_id for child in result.children)
        self._unsaved = []  # saved (or refused as lost, which is final)
        for task, _request in finishes:
            parts.runner.release_attempt(task)
        inline: list[TaskRecord] = []
        handed: list[TaskRecord] = []
        for task in done.claimed:
            (inline if self._runs_inline(claim, task) else handed).append(task)
        self._outstanding += len(done.claimed)
        for task in handed:
            self._in_flight.add(pool.submit(self._execute, task))
        for task in inline:
            self._execute_inline(task)
        self._has_room = claim is not None and len(done.claimed) < claim.limit
        self.parts.threads.appetite.say(id(self), full=not self._has_room)
        self._settled_some = any(
            result.completed or result.status != ExecutionStatus.RUNNING for result in done.saved
        )
        more = self._more_to_do(done, finishes)
        self._look = self._look or more
        return int(more), len(done.claimed)

    def _looks_for_work(self) -> bool:
        """Whether this round looks for work beyond its finishes: when asked to
        (the last round left work, timers fired, leases were reaped), when work
        was announced since the last look, when the last claim took all it
        could (due tasks may be waiting), and at least every
        ``_LOOK_FOR_WORK_EVERY``. Clears what it consumed."""
        news = self.parts.wake.news
        now = self.parts.clock.now()
        if not (
            self._look or news != self._news_seen or now >= self._next_look or not self._has_room
        ):
            return False
        self._look = False
        self._news_seen = news
        self._next_look = now + _LOOK_FOR_WORK_EVERY
        return True

    def _more_to_do(
        self, done: RoundOutcome, finishes: list[tuple[TaskRecord, FinishRequest]]
    ) -> bool:
        """Whether a round right now could find work this one left: a refused
        decision (still pending), a full batch, a finished attempt whose execution
        was not decided here, or a decision that delivered to other executions
        (children started or asked to stop, a parent told of an end or a pause).

        A step that only scheduled the next task, already claimed in this same
        round, needs nothing more until that task ends (and wakes the loop); nor
        does an execution that ended with no parent to tell."""
        if done.refused or done.delivered or done.decided >= self.settings.decision_batch:
            return True
        decided = {result.execution_id for result in done.saved}
        if any(request.execution_id not in decided for _task, request in finishes):
            return True
        return any(
            result.children or result.relayed or result.canceled_tasks for result in done.saved
        )

    def _execute(self, task: TaskRecord) -> None:
        # The lease stays extended until the loop has saved the outcome.
        started = time.perf_counter()
        outcome = self.parts.runner.execute(task, release=False)
        self._quick[task.action or ""] = time.perf_counter() - started < _INLINE_UNDER
        self._done.put((task, outcome))
        # Its outcome comes with the next round: no news of other work.
        self.parts.wake.nudge()

    @staticmethod
    def _runs_inline(claim: ClaimRequest | None, task: TaskRecord) -> bool:
        """Whether a task just claimed runs on this thread, after the round: its
        action was quick here last time (one of ``claim.quick``) and it has no
        time limit (the reaper, which enforces those, runs on this thread too).
        Heartbeats go on meanwhile on their own thread, and with them
        cancellation. A round leases such new tasks beyond its free threads,
        so a chain of quick steps does not wait for a thread at each step."""
        return claim is not None and is_quick(
            claim, task.action, task.timeout, task.heartbeat_timeout
        )

    def _execute_inline(self, task: TaskRecord) -> None:
        try:
            self._execute(task)
        except BaseException:
            # Interrupted on this thread (KeyboardInterrupt): its outcome is
            # lost, so let the attempt go for another process to run at once.
            self.parts.runner.release_attempt(task)
            self._let_go(1)
            raise

    def _idle(self, next_heartbeat: float) -> None:
        parts, settings = self.parts, self.settings
        if self._outstanding >= settings.concurrency:
            # Every thread is busy: the loop waits for an attempt to end (which
            # wakes it), and looks again soon for work it can do meanwhile
            # (decisions). Asking the store when work is due, or checkpointing,
            # would cost a statement or two each time an attempt ends.
            wait = min(_DUE_ELSEWHERE_WAIT, max(0.0, next_heartbeat - parts.clock.now()))
            parts.clock.wait(parts.wake, wait)
            return
        # Housekeeping a store defers to a quiet moment (SQLite's WAL
        # checkpoint), done here rather than inside a step's commit.
        checkpoint = getattr(parts.store, "checkpoint_when_idle", None)
        if checkpoint is not None:
            try:
                checkpoint()
            except StoreError as exc:
                # The next idle turn, or a commit past the WAL's limit, does it.
                log.debug("idle checkpoint failed (%s)", exc)
        only = frozenset(self._own) if settings.only_own else None
        actions = () if settings.only_own else settings.actions
        due = parts.store.next_wakeup(parts.kinds(), actions, tuple(sorted(self._own)), only)
        wait = settings.poll_interval
        now = parts.clock.now()
        if due is not None:
            wait = min(wait, max(0.0, due - now))
            if due <= now and isinstance(parts.clock, SystemClock):
                # Due already, yet this round found nothing: another process is
                # deciding it, or it waits for a thread or the reaper. Asking
                # again at once would spin (four reads a turn); new work still
                # wakes the loop at once.
                wait = min(settings.poll_interval, _DUE_ELSEWHERE_WAIT)
        wait = min(wait, max(0.0, next_heartbeat - now))
        parts.clock.wait(parts.wake, wait)

    def _wait_for_attempts(self, grace: float) -> int:
        """Wait up to ``grace`` seconds for running attempts; how many still run."""
        running = {f for f in self._in_flight if not f.done()}
        if running:
            log.warning(
                "stopping: waiting up to %.0fs for %d running task(s) to finish",
                grace,
                len(running),
            )
            wait(running, timeout=grace)
        return sum(1 for f in running if not f.done())

    def _let_go(self, count: int) -> None:
        """Give up attempts that did not finish in time: release every lease this
        loop holds, so their tasks run again elsewhere at once (at least once)."""
        try:
            self.parts.store.break_leases([self.settings.owner], self.parts.clock.now())
        except StoreError as exc:
            log.warning("could not release leases (%s); they expire on their own", exc)
            return
        log.warning(
            "stopped with %d task(s) still running; their leases are released and "
            "another process runs them again",
            count,
        )

    def _save_leftovers(self) -> None:
        """Attempts that finished while the loop was stopping are saved on the way out."""
        while True:
            try:
                task, outcome = self._done.get_nowait()
            except queue.Empty:
                break
            request = self.parts.runner.finish_request(task, outcome, self.settings.owner)
            self._unsaved.append((task, request))
        if self._unsaved:
            try:
                self.parts.run_round(
                    [request for _task, request in self._unsaved], None, None, True, None
                )
            except StoreError as exc:
                # Their leases expire and the tasks run again: at least once.
                log.warning("could not save %d finished attempts: %s", len(self._unsaved), exc)
