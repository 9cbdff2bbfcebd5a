"""``Engine``: the object a user holds to register, start, drive and watch workflows.

An engine is an ordinary object: it owns one store handle, an activity
registry and a clock, and nothing global. Two engines in one process (or in
many processes on one store) cooperate through the store alone.

Two ways to drive it:

* ``serve(stop)`` runs the loop in the background shape: decisions, timers,
  the lease reaper, and a pool of threads running activities, until ``stop``.
* ``run_until_idle()`` does the same work on the calling thread, one round
  after another, until nothing is left that can happen now; with a fake clock
  and ``skip_time=True`` it jumps the clock to each next due time, so a
  workflow with hour-long delays finishes in milliseconds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from cadenza.engine.attempts import AttemptRunner
from cadenza.engine.clock import Clock, SystemClock
from cadenza.engine.datastore_snapshot import start_meta
from cadenza.engine.decider import Decider, DecisionOutcome
from cadenza.engine.definitions import checked_input, compile_checked
from cadenza.engine.engine_decisions import terminate_request
from cadenza.engine.external_tasks import ExternalTasks
from cadenza.engine.front_ends import FrontEndFactory, FrontEnds
from cadenza.engine.interpreter_cache import InterpreterCache
from cadenza.engine.loop_threads import LoopThreads
from cadenza.engine.owner import new_owner_id
from cadenza.engine.payload_ceilings import DefinitionLimits, LimitsByDefinition
from cadenza.engine.requests import ExecutionRequests
from cadenza.engine.serve import ServeLoop, ServeParts, ServeSettings
from cadenza.engine.settled import Driving
from cadenza.engine.views import ExecutionViews
from cadenza.engine.wake import WakeUp
from cadenza.engine.wake_sockets import WakeSockets
from cadenza.engine.workflow_ids import WorkflowIds
from cadenza.expressions import budget as expression_budget
from cadenza.expressions.budget import ExpressionBudget, current_settings
from cadenza.interpreters.protocol import (
    FrontEnd,
    Interpreter,
)
from cadenza.model.definitions import CodeReference, DefinitionSource
from cadenza.model.errors import (
    ClockCannotJump,
    InputError,
    StillBusy,
)
from cadenza.model.events import (
    JSON,
    ExecutionStarted,
)
from cadenza.model.secrets import unwrap_secrets
from cadenza.store import open_store
from cadenza.store.protocol import (
    ClaimRequest,
    FinishRequest,
    RoundOutcome,
    RoundRequest,
    Store,
)
from cadenza.store.records import (
    DefinitionRecord,
    StartedExecution,
)
from cadenza.workers.registry import ActivityRegistry, default_registry

Listener = Callable[[DecisionOutcome], None]
T = TypeVar("T")

log = logging.getLogger("cadenza.engine")


class Engine(ExecutionViews, ExecutionRequests, WorkflowIds, Driving):
    """Runs workflows durably on a store. See the module docstring."""

    def __init__(
        self,
        store: Store | str | None = None,
        *,
        registry: ActivityRegistry | None = None,
        clock: Clock | None = None,
        front_ends: FrontEnds | Mapping[str, FrontEnd | FrontEndFactory] | None = None,
        lease: float = 30.0,
        concurrency: int = 8,
        queues: Sequence[str] = ("default",),
        poll_interval: float = 0.5,
        decision_batch: int = 64,
        expression_budget: ExpressionBudget | None = None,
        definition_limits: Mapping[str, DefinitionLimits] | None = None,
    ) -> None:
        self.store: Store = (
            store if store is not None and not isinstance(store, str) else open_store(store)
        )
        self.registry = registry if registry is not None else default_registry()
        self.clock: Clock = clock or SystemClock()
        self.front_ends = (
            front_ends
            if isinstance(front_ends, FrontEnds)
            else FrontEnds.installed()
            if front_ends is None
            else FrontEnds(front_ends)
        )
        self.owner = new_owner_id()
        self.lease = lease
        self.concurrency = concurrency
        self.queues = tuple(queues)
        self.poll_interval = poll_interval
        self.decision_batch = decision_batch
        #: The CPU, size and item limits of each expression evaluation (None: the
        #: process's, by default 1 s, 10 MiB, a million items; see docs/reference/limits.md).
        self.expression_budget = expression_budget
        #: Narrower limits for the executions of some definitions, by name or id.
        self.definition_limits = LimitsByDefinition(
            definition_limits or {},
            expression_budget or current_settings().budget,
            self.store.payload_limits,
        )
        self._interpreters = InterpreterCache(self.front_ends)
        self._decider = Decider(self._interpreters)
        self._decide_lock = threading.Lock()
        #: Which actions' last attempts were quick, shared by this engine's serve loops.
        self._quick_actions: dict[str, bool] = {}
        self._listeners: list[Listener] = []
        self._round_listeners: list[Callable[[RoundOutcome, float], None]] = []
        #: Secret values of executions seen, by id (they never change).
        self._secrets: dict[str, list[str]] = {}
        self._wake = WakeUp()
        #: How other processes of an SQLite store are told of work (None elsewhere).
        self._wake_sockets = WakeSockets.of_store(self.store)
        #: Tasks answered from outside: activity workers and callback tokens.
        self.external = ExternalTasks(self.store, self.clock, self.definition_limits)
        self.runner = AttemptRunner(
            self.store,
            self.registry,
            self.clock,
            self.owner,
            lease,
            on_finished=self._wake.set,
            payload_limits_for=self.definition_limits.result_ceilings(self.store),
        )
        #: Heartbeats and the relay of other processes' work, for every serve loop.
        self._loop_threads = LoopThreads(
            self.store,
            self.runner,
            self.clock,
            self._wake,
            self._wake_sockets,
            max(0.05, lease / 3),
        )

    # --- definitions ------------------------------------------------------------------

    def kind_of(self, source: DefinitionSource, origin: str | None = None) -> str:
        """The kind of ``source``, as the front ends recognise it (``KindUnclear``
        when none or several do)."""
        return self.front_ends.kind_of(source, origin)

    def compile(
        self,
        source: DefinitionSource,
        *,
        kind: str | None = None,
        origin: str | None = None,
        check_actions: bool = False,
    ) -> Interpreter:
        """Validate ``source``; raise ``DefinitionError`` listing every problem.

        With ``check_actions``, actions the definition names that must exist
        and that this engine's registry lacks are problems too (leave it off
        when other processes' workers provide them).
        """
        registry = self.registry if check_actions else None
        return compile_checked(self.front_ends, registry, source, kind=kind, origin=origin)[1]

    def register(
        self,
        source: DefinitionSource,
        *,
        kind: str | None = None,
        name: str | None = None,
        origin: str | None = None,
        check_actions: bool = False,
    ) -> DefinitionRecord:
        """Validate and keep a definition; the same source gives the same record.

        ``source`` is text, or a ``CodeReference`` (``module:qualname`` at a
        version) for a front end whose workflows are Python code. See
        ``compile`` for ``check_actions``.
        """
        kind = kind or self.kind_of(source, origin)
        interpreter = self.compile(source, kind=kind, origin=origin, check_actions=check_actions)
        if isinstance(source, CodeReference):
            text, version = source.target, source.version
            identity = f"{kind}\0code\0{text}\0{version}"
            default_name = source.qualname
        else:
            text, version = source, None
            identity = f"{kind}\0{text}"
            default_name = None
        digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
        record = DefinitionRecord(
            id=digest,
            kind=kind,
            name=name or default_name or (Path(origin).stem if origin else digest[:8]),
            source=text,
            created_at=self.clock.now(),
            version=version,
        )
        self.store.save_definition(record)
        self._interpreters.add(record, interpreter)
        self.definition_limits.learn(record)
        return record

    def register_file(
        self, path: str | os.PathLike[str], *, kind: str | None = None
    ) -> DefinitionRecord:
        """Read, validate and keep the definition in the file at ``path``."""
        path = os.fspath(path)
        try:
            source = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}", path=path) from exc
        return self.register(source, kind=kind, origin=path)

    def prepare(self, definition: DefinitionRecord) -> None:
        """Compile a registered ``definition`` now rather than at its first
        decision (a process that serves it can pay for that before work comes)."""
        self._interpreters.compile(definition)
        self.definition_limits.learn(definition)

    def front_end_for(self, kind: str) -> FrontEnd:
        """The front end of ``kind`` (``FrontEndNotFound`` if none is installed)."""
        return self.front_ends.require(kind)

    def check_input(self, kind: str, value: JSON, where: str = "the workflow input") -> JSON:
        """``value`` as an execution of ``kind`` takes it (see ``checked_input``)."""
        return checked_input(self.front_ends.require(kind), value, where)

    # --- executions ---------------------------------------------------------------------

    def start(
        self,
        definition: DefinitionRecord,
        input: JSON = None,
        *,
        context: Mapping[str, JSON] | None = None,
        execution_id: str | None = None,
        tags: Sequence[str] = (),
    ) -> str:
        """Start an execution of ``definition``, carrying ``tags`` (``key=value``
        or labels, to find it by); return its id. Nothing runs until driven."""
        new = self._start_new(
            definition, input, context=context, execution_id=execution_id, tags=tags
        )
        return new.row.id

    def _start_new(
        self,
        definition: DefinitionRecord,
        input: JSON = None,
        *,
        context: Mapping[str, JSON] | None = None,
        execution_id: str | None = None,
        tags: Sequence[str] = (),
    ) -> StartedExecution:
        """``start``, returning the new execution's row and inbox row as the store
        wrote them (a round may decide it from those, ``RoundRequest.started``)."""
        input = self.check_input(definition.kind, input)
        self.definition_limits.check_input(definition, input)
        input, secret_paths = unwrap_secrets(input)
        execution_id = execution_id or str(uuid.uuid4())
        now = self.clock.now()
        started = ExecutionStarted(
            input=input,
            context=dict(context or {}),
            seed=random.SystemRandom().getrandbits(63),
            meta={
                "execution_id": execution_id,
                "definition_id": definition.id,
                "definition_name": definition.name,
                "start_time": now,
                **({"secret_paths": [list(p) for p in secret_paths]} if secret_paths else {}),
                **start_meta(self.store, self._interpreters.compile(definition), context),
            },
        )
        new = self.store.create_execution(execution_id, definition, started, now, tags=tags)
        self.wake()
        return new

    def terminate(self, execution_id: str, reason: str = "", *, by: str = "") -> None:
        """End the execution now without asking its front end (see ``TerminateRequested``)."""
        self._request(execution_id, terminate_request(self.get(execution_id), reason, by))

    def forget_held(self) -> None:
        """Drop the interpreter state held in memory for every execution: the next decision of each
        execution rebuilds its state from the store (snapshot and history)."""
        with self._decide_lock:
            self._decider.forget()

    def wake(self) -> None:
        """Tell a serving loop that work may be waiting (it looks at once): this
        process's, and on an SQLite store the other processes serving it."""
        self._wake.set()
        if self._wake_sockets is not None:
            self._wake_sockets.ring()

    def on_wake(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever work may have arrived: this engine's own (a new
        execution, a finished attempt) or another process's (relayed from the
        store's notifications while serving). Also call it after each saved
        decision with ``add_listener`` to hear of tasks this engine scheduled."""
        self._wake.subscribe(callback)

    # --- driving ----------------------------------------------------------------------------

    def add_round_listener(self, listener: Callable[[RoundOutcome, float], None]) -> None:
        """Call ``listener(outcome, now)`` after each committed round (for metrics:
        what was saved and claimed, and when)."""
        self._round_listeners.append(listener)

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` after each committed decision (from the deciding thread)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener`` (added with ``add_listener``)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def decide(self) -> int:
        """Decide for every execution with waiting events; return how many decisions
        were saved."""
        total = 0
        while True:
            done = self.run_round((), None)
            total += done.decided
            if done.decided + len(done.refused) < self.decision_batch:
                return total

    def run_round(
        self,
        finishes: Sequence[FinishRequest],
        claim: ClaimRequest | None,
        only: Collection[str] | None = None,
        discover: bool = True,
        started: Mapping[str, StartedExecution] | None = None,
    ) -> RoundOutcome:
        """One store round: save ``finishes``, decide (only the executions in
        ``only``, when given), and claim, with one commit.

        Without ``discover`` (a caller that knows of no other work waiting), a
        round whose finishes are all of executions this engine decided last
        reads nothing from the store before it writes (``RoundRequest.known``);
        nor does one that decides executions this engine has just created
        (``started``, what their starts returned) and nothing else.

        One round at a time per engine; listeners hear of each saved decision
        after the commit; the interpreter state of a refused decision (or of a failed round)
        are dropped, so the next round decides from what the store holds.
        """
        with self._decide_lock:
            now = self.clock.now()
            self._decider.now = now
            request = RoundRequest(
                owner=self.owner,
                now=now,
                finishes=finishes,
                decide_limit=self.decision_batch,
                claim=claim,
                kinds=self.front_ends.usable_kinds(),
                known_definitions=self.definition_limits.known(self._interpreters),
                held=self._decider.held(),
                only=only,
                known=None if discover else self._decider.known_rows(),
                started=started or {},
            )
            try:
                # Every expression a decision evaluates runs under the budget,
                # timed by this thread's CPU clock (see cadenza.expressions.budget).
                budget = self.expression_budget or expression_budget.current_settings().budget
                with expression_budget.applied(budget, cpu_clock=time.thread_time):
                    decide = self.definition_limits.deciding(self._decider, budget)
                    done = self.store.run_round(request, decide)
            except BaseException:
                self._decider.forget()
                raise
            self._decider.saved(done.rows)
            if done.refused:
                log.info("%d stale decisions refused; deciding them again", len(done.refused))
                self._decider.forget(done.refused)
            if done.lost:
                self._decider.forget(f.execution_id for f in done.lost)
            for result in done.saved:
                outcome = DecisionOutcome(result)
                for listener in self._listeners:
                    listener(outcome)
            for round_listener in self._round_listeners:
                round_listener(done, self.clock.now())
            return done

    def run_until_idle(self, *, skip_time: bool = False, max_rounds: int = 100_000) -> None:
        """Do everything that can happen, on this thread, until nothing can.

        Activities run inline, one at a time. With ``skip_time`` (use a fake
        clock) the clock jumps to the next due task or timer instead of
        stopping there.
        """
        for _ in range(max_rounds):
            if self.tick():
                continue
            if not skip_time:
                return
            due = self.store.next_wakeup(self.front_ends.usable())
            if due is None or due <= self.clock.now():
                return
            setter = getattr(self.clock, "set", None)
            if setter is None:
                raise ClockCannotJump()
            setter(due)
        raise StillBusy(f"still busy after {max_rounds} rounds", rounds=max_rounds)

    def tick(self) -> int:
        """One round: timers, expired leases, decisions, and the tasks due now."""
        now = self.clock.now()
        work = self.store.fire_due_timers(now, 100)
        work += self.runner.reap()
        work += self.decide()
        for task in self.runner.claim(self.queues, self.concurrency):
            self.runner.run(task)
            work += 1
        return work

    def serve(
        self,
        stop: threading.Event,
        *,
        until: Callable[[], bool] | None = None,
        own: Sequence[str] = (),
        only_own: bool = False,
    ) -> None:
        """Run decisions and activities with a thread pool until ``stop`` is set
        (or ``until()`` is true). See ``cadenza.engine.serve``.

        Only tasks whose action this engine's registry has are claimed (another
        process may be the one that can run the rest), except the tasks of the
        executions in ``own``, which this caller drives and answers for. With
        ``only_own``, nothing else is decided or run: the executions in ``own``
        and the children they start, and no one else's work.
        """
        self._serve(stop, until, own, only_own, None)

    def _serve(
        self,
        stop: threading.Event,
        until: Callable[[], bool] | None,
        own: Sequence[str],
        only_own: bool,
        started: Mapping[str, StartedExecution] | None,
    ) -> None:
        """``serve``; ``started`` when the executions in ``own`` were just created
        here (none has started a child yet): what their starts returned."""
        parts = ServeParts(
            self.store,
            self.runner,
            self.clock,
            self.run_round,
            self._wake,
            self.front_ends.usable,
            self._loop_threads,
            self._quick_actions,
        )
        settings = ServeSettings(
            owner=self.owner,
            queues=self.queues,
            concurrency=self.concurrency,
            lease=self.lease,
            poll_interval=self.poll_interval,
            decision_batch=self.decision_batch,
            actions=tuple(self.registry.names()),
            own=tuple(own),
            only_own=only_own,
            own_are_new=started is not None,
            started=dict(started or {}),
        )
        ServeLoop(parts, settings, stop, until).run()

    def let_go(self) -> None:
        """Release every task lease this engine holds, so other processes take the
        tasks at once (for a process that is about to exit without finishing them)."""
        self.store.break_leases([self.owner], self.clock.now())

    def close(self) -> None:
        """Stop the threads the serve loops shared and release the store."""
        self._loop_threads.close()
        self.store.close()
