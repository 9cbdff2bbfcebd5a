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
import json
import logging
import os
import random
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from cadenza.engine.activities import ExternalTasks
from cadenza.engine.clock import Clock, SystemClock
from cadenza.engine.decider import Decider, DecisionOutcome, InterpreterCache
from cadenza.engine.dispatch import TaskRunner
from cadenza.engine.front_ends import default_front_ends, kind_for
from cadenza.engine.loop import ServeLoop
from cadenza.engine.owner import new_owner_id
from cadenza.engine.replay import replay_state
from cadenza.interpreters.protocol import ExecutionView, FrontEnd, Interpreter
from cadenza.model.errors import (
    CadenzaError,
    InputError,
    OperationRefused,
)
from cadenza.model.events import (
    JSON,
    CancelRequested,
    Event,
    ExecutionStarted,
    PauseRequested,
    RecordedEvent,
    RerunRequested,
    ResumeRequested,
    TaskCompleted,
)
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES
from cadenza.store import open_store
from cadenza.store.protocol import ClaimRequest, CycleOutcome, FinishRequest, Store
from cadenza.store.records import DefinitionRecord, ExecutionRecord, TaskFinish, TaskRecord
from cadenza.workers.registry import ActivityRegistry, default_registry

Listener = Callable[[DecisionOutcome], None]
T = TypeVar("T")

log = logging.getLogger("cadenza.engine")


class Engine:
    """Runs workflows durably on a store. See the module docstring."""

    def __init__(
        self,
        store: Store | str | None = None,
        *,
        registry: ActivityRegistry | None = None,
        clock: Clock | None = None,
        front_ends: Mapping[str, FrontEnd] | None = None,
        lease: float = 30.0,
        concurrency: int = 8,
        queues: Sequence[str] = ("default",),
        poll_interval: float = 0.5,
        decision_batch: int = 64,
    ) -> None:
        self.store: Store = (
            store if store is not None and not isinstance(store, str) else open_store(store)
        )
        self.registry = registry if registry is not None else default_registry()
        self.clock: Clock = clock or SystemClock()
        self.front_ends = dict(front_ends) if front_ends is not None else default_front_ends()
        self.owner = new_owner_id()
        self.lease = lease
        self.concurrency = concurrency
        self.queues = tuple(queues)
        self.poll_interval = poll_interval
        self.decision_batch = decision_batch
        self._interpreters = InterpreterCache(self.front_ends)
        self._decider = Decider(self._interpreters)
        self._decide_lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._wake = threading.Event()
        #: Tasks answered from outside: activity workers and callback tokens.
        self.external = ExternalTasks(self.store, self.clock)
        self.runner = TaskRunner(
            self.store, self.registry, self.clock, self.owner, lease, on_finished=self._wake.set
        )

    # --- definitions ------------------------------------------------------------------

    def compile(
        self, source: str, *, kind: str | None = None, origin: str | None = None
    ) -> Interpreter:
        """Validate ``source``; raise ``DefinitionError`` listing every problem."""
        front_end = self._front_end(kind or kind_for(origin, source))
        return front_end.compile(source, origin=origin)

    def register(
        self,
        source: str,
        *,
        kind: str | None = None,
        name: str | None = None,
        origin: str | None = None,
    ) -> DefinitionRecord:
        """Validate and keep a definition; the same text gives the same record."""
        kind = kind or kind_for(origin, source)
        interpreter = self.compile(source, kind=kind, origin=origin)
        digest = hashlib.sha256(f"{kind}\0{source}".encode()).hexdigest()[:24]
        record = DefinitionRecord(
            id=digest,
            kind=kind,
            name=name or (Path(origin).stem if origin else digest[:8]),
            source=source,
            created_at=self.clock.now(),
        )
        self.store.save_definition(record)
        self._interpreters.add(record.id, interpreter)
        return record

    def register_file(self, path: str | os.PathLike[str]) -> DefinitionRecord:
        """Read, validate and keep the definition in the file at ``path``."""
        path = os.fspath(path)
        try:
            source = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}", path=path) from exc
        return self.register(source, origin=path)

    def _front_end(self, kind: str) -> FrontEnd:
        found = self.front_ends.get(kind)
        if found is None:
            raise InputError(
                f"unknown definition kind {kind!r}; known: {', '.join(sorted(self.front_ends))}"
            )
        return found

    # --- executions ---------------------------------------------------------------------

    def start(
        self,
        definition: DefinitionRecord,
        input: Mapping[str, JSON] | None = None,
        *,
        context: Mapping[str, JSON] | None = None,
        execution_id: str | None = None,
    ) -> str:
        """Start an execution of ``definition``; return its id. Nothing runs until driven."""
        front_end = self.front_ends.get(definition.kind)
        if input is None:
            input = {}
        if getattr(front_end, "input_must_be_object", True):
            if not isinstance(input, Mapping):
                raise InputError("the workflow input must be a JSON object")
            input = dict(input or {})
        try:
            json.dumps(input, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InputError(f"the workflow input is not JSON: {exc}") from exc
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
            },
        )
        self.store.create_execution(execution_id, definition, started, now)
        self._wake.set()
        return execution_id

    def get(self, execution_id: str) -> ExecutionRecord:
        return self.store.load_execution(execution_id)

    def history(self, execution_id: str, after_seq: int = 0) -> list[RecordedEvent]:
        return self.store.read_history(execution_id, after_seq)

    def describe(self, execution_id: str) -> ExecutionView:
        """The execution as its interpreter sees it, rebuilt from history."""
        record = self.get(execution_id)
        interpreter = self._interpreters.get(record.definition_id)
        if interpreter is None:
            interpreter = self._interpreters.compile(
                self.store.load_definition(record.definition_id)
            )
        state = replay_state(interpreter, self.history(execution_id))
        return interpreter.describe(state)

    # --- requests -------------------------------------------------------------------------

    def pause(self, execution_id: str) -> None:
        self._request(execution_id, PauseRequested())

    def resume(self, execution_id: str) -> None:
        self._request(execution_id, ResumeRequested())

    def cancel(self, execution_id: str) -> None:
        self._request(execution_id, CancelRequested())

    def rerun(self, execution_id: str, tasks: Sequence[Mapping[str, JSON]] = ()) -> None:
        """Run a completed execution again from its failed tasks, or from ``tasks``
        (``{"task_id": name, "route": 0, "reset_items": False}`` each)."""
        self._request(execution_id, RerunRequested(tasks=[dict(t) for t in tasks]))

    def respond(
        self,
        execution_id: str,
        task: str,
        result: JSON = None,
        *,
        status: str = "succeeded",
        key: str | None = None,
        resume: bool = True,
    ) -> None:
        """Answer a pending task (``core.ask``) of ``execution_id`` named ``task``.

        Like StackStorm after an inquiry response, a workflow that paused
        because it was waiting is resumed in the same decision (``resume=False``
        leaves it paused).
        """
        waiting = [
            t for t in self.store.find_task(execution_id, task, key) if t.status == "suspended"
        ]
        if not waiting:
            self.get(execution_id)  # ExecutionNotFound first, if that is the problem
            raise OperationRefused(
                f"task {task!r} of execution {execution_id} is not waiting for an answer",
                execution_id=execution_id,
                task=task,
            )
        if status not in ("succeeded", "failed"):
            raise InputError(f"a response status is 'succeeded' or 'failed', not {status!r}")
        target = waiting[0]
        if status == "succeeded":
            _check_answer(target, result)
        error = (
            None
            if status == "succeeded"
            else {"type": "responded", "message": "failed by response"}
        )
        event = TaskCompleted(
            task_id=target.task_id,
            status=status,
            result=result,
            error=error,
            attempt=target.attempt,
        )
        self.store.finish_task(
            execution_id,
            target.task_id,
            target.attempt,
            None,
            TaskFinish("done", [event]),
            self.clock.now(),
        )
        if resume and self.get(execution_id).status == "paused":
            self.store.deliver(execution_id, [ResumeRequested()], self.clock.now())
        self.decide()

    def _request(self, execution_id: str, event: Event) -> None:
        self.store.deliver(execution_id, [event], self.clock.now())
        self._wake.set()
        self.decide()

    def last_rejection(self, execution_id: str) -> JSON:
        """The error of the newest ``RequestRejected`` in history, if the newest
        request was refused (for the CLI to report refusals)."""
        for recorded in reversed(self.history(execution_id)):
            if recorded.event.type == "RequestRejected":
                return getattr(recorded.event, "error", None)
            if recorded.event.is_input:
                return None
        return None

    # --- driving ----------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` after each committed decision (from the deciding thread)."""
        self._listeners.append(listener)

    def decide(self) -> int:
        """Decide for every execution with waiting events; return how many decisions."""
        total = 0
        while True:
            count = self._deciding(
                lambda: self.store.decide(
                    self.owner,
                    self.decision_batch,
                    self._decider,
                    self._decider.now,
                    known_definitions=self._interpreters,
                    known_states=self._decider.known_states(),
                )
            )
            total += count
            if count < self.decision_batch:
                return total

    def run_cycle(
        self, finishes: Sequence[FinishRequest], claim: ClaimRequest | None
    ) -> CycleOutcome:
        """Save ``finishes``, decide, and claim, in one store transaction."""
        return self._deciding(
            lambda: self.store.cycle(
                self.owner,
                finishes,
                self._decider,
                self.decision_batch,
                claim,
                self._decider.now,
                known_definitions=self._interpreters,
                known_states=self._decider.known_states(),
            )
        )

    def _deciding(self, call: Callable[[], T]) -> T:
        """Run a store call that decides: one decider per engine, listeners told after
        the commit, and cached states dropped if the transaction failed."""
        with self._decide_lock:
            self._decider.now = self.clock.now()
            self._decider.outcomes = []
            try:
                result = call()
            except BaseException:
                self._decider.forget_states()
                raise
            for outcome in self._decider.outcomes:
                for listener in self._listeners:
                    listener(outcome)
            return result

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
            due = self.store.next_wakeup()
            if due is None or due <= self.clock.now():
                return
            setter = getattr(self.clock, "set", None)
            if setter is None:
                raise CadenzaError("skip_time needs a clock with set(), such as FakeClock")
            setter(due)
        raise CadenzaError(f"still busy after {max_rounds} rounds")

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

    def serve(self, stop: threading.Event, *, until: Callable[[], bool] | None = None) -> None:
        """Run decisions and activities with a thread pool until ``stop`` is set
        (or ``until()`` is true). See ``cadenza.engine.loop``."""
        ServeLoop(self, stop, until).run()

    def run(
        self,
        definition: DefinitionRecord,
        input: JSON = None,
        *,
        timeout: float | None = None,
    ) -> ExecutionRecord:
        """Start an execution and serve until it completes (or pauses); return its row."""
        execution_id = self.start(definition, input)
        return self.drive(execution_id, timeout=timeout)

    def drive(self, execution_id: str, *, timeout: float | None = None) -> ExecutionRecord:
        """Serve until ``execution_id`` completes or pauses (or ``timeout`` passes)."""
        stop = threading.Event()
        deadline = None if timeout is None else self.clock.now() + timeout

        def settled() -> bool:
            status = self.get(execution_id).status
            if status in FINAL_EXECUTION_STATUSES or status == "paused":
                return True
            return deadline is not None and self.clock.now() >= deadline

        self.serve(stop, until=settled)
        return self.get(execution_id)

    def close(self) -> None:
        self.store.close()


def _check_answer(task: TaskRecord, answer: JSON) -> None:
    """An answer to a task that asked with a JSON ``schema`` must fit it; a wrong
    answer is refused with every problem, and the task keeps waiting."""
    schema = task.input.get("schema") if isinstance(task.input, Mapping) else None
    if not isinstance(schema, Mapping) or not schema:
        return
    import jsonschema  # here: costly at start-up, needed only for answers

    validator_class = jsonschema.validators.validator_for(schema, jsonschema.Draft4Validator)
    problems = sorted(
        f"{'/'.join(str(p) for p in error.absolute_path) or '(answer)'}: {error.message}"
        for error in validator_class(schema).iter_errors(answer)
    )
    if problems:
        raise InputError(
            f"the answer to task {task.name!r} does not fit its schema: " + "; ".join(problems),
            problems=problems,
        )
