"""Turning loaded work into decisions for the store to save.

The store's round calls ``Decider.__call__`` with the work it loaded, with no
transaction open. The decider folds each execution's inputs through its
interpreter and turns the commands into the rows the store saves: history
records, tasks, timers, the new status and (by the front end's snapshot
policy) the new snapshot. It reads no clock and does no I/O: ``now`` comes
from the caller (the engine reads its clock once per round).

Each execution's interpreter state is cached in memory between decisions, keyed by the
decision number they belong to, so a busy execution is not re-loaded from its
snapshot at every step. The cache is only a shortcut: a miss (another process
decided, or this process restarted) loads the snapshot instead, and a
decision the store refused drops its state.

**Termination.** ``TerminateRequested`` is applied here, without asking the
interpreter (whose code may be the very thing that is stuck): the decision
records its inputs and ends the execution ``canceled``, with an error of type
``Terminated`` giving the reason (the store withdraws its tasks and timers).
From then on the execution's interpreter is never asked again: later inputs
(a child's end, a late request) are recorded, and requests are refused.
"""

from __future__ import annotations

import logging
import traceback
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, assert_never

from cadenza.engine.engine_decisions import (
    after_termination,
    ended,
    notes_only,
    refused,
    terminated,
    was_terminated,
)
from cadenza.engine.interpreter_cache import InterpreterCache
from cadenza.engine.payload_ceilings import TASK_DEFINITION_ID
from cadenza.interpreters.protocol import Interpreter, SnapshotPolicy
from cadenza.interpreters.replay import replay_into
from cadenza.model.commands import (
    CancelTask,
    Command,
    CompleteExecution,
    RecordMarker,
    RejectRequest,
    RelayToChild,
    ScheduleTask,
    SetStatus,
    StartChild,
    StartTimer,
)
from cadenza.model.errors import InterpreterDefect, RunawayDecision
from cadenza.model.events import (
    JSON,
    Event,
    TaskCompleted,
    TerminateRequested,
)
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES, ExecutionStatus
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    NewChild,
    NewTask,
    PendingExecution,
)

log = logging.getLogger("cadenza.engine")

_DEFAULT_POLICY = SnapshotPolicy()

#: How many times one round may hand an interpreter the results of tasks that
#: complete at once (no action to run: an empty with-items, a pass-through)
#: before the execution is failed as a runaway: a loop of such tasks would
#: otherwise spin inside one decision forever, beyond the reach of cancel.
MAX_INSTANT_DECISIONS = 1_000


class _Terminated:
    """The state held for a terminated execution: its interpreter is done with."""


_TERMINATED = _Terminated()


class DecisionOutcome:
    """What one saved decision changed, for listeners (progress display)."""

    def __init__(self, result: DecisionResult) -> None:
        self.execution_id = result.execution_id
        self.status = result.status
        self.appended = list(result.appended)


class Decider:
    """The decision function a store round calls (``DecideFn``)."""

    def __init__(self, interpreters: InterpreterCache, state_cache_size: int = 4096) -> None:
        self.interpreters = interpreters
        self._held: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._state_cache_size = state_cache_size
        #: The rows of executions as the rounds that saved their last decisions
        #: left them (``RoundRequest.known``), as many as states are held.
        self._rows: OrderedDict[str, PendingExecution] = OrderedDict()
        self.now = 0.0

    def held(self) -> Mapping[str, int]:
        """Decision numbers of the interpreter state held here for each execution
        (the store skips loading them)."""
        return _DecisionNumbers(self._held)

    def known_rows(self) -> Mapping[str, PendingExecution]:
        """The rows saved by this process's rounds (see ``saved``)."""
        return self._rows

    def saved(self, rows: Mapping[str, PendingExecution]) -> None:
        """Remember the rows a round saved; an execution that ended is dropped
        (what reopens it, such as a rerun, comes through the store)."""
        for execution_id, row in rows.items():
            if row.status in FINAL_EXECUTION_STATUSES:
                self._rows.pop(execution_id, None)
                continue
            self._rows[execution_id] = row
            self._rows.move_to_end(execution_id)
        while len(self._rows) > self._state_cache_size:
            self._rows.popitem(last=False)

    def forget(self, execution_ids: Iterable[str] | None = None) -> None:
        """Drop cached interpreter state and rows (of every execution when None):
        after a refused decision or a failed round they may be ahead of the store."""
        if execution_ids is None:
            self._held.clear()
            self._rows.clear()
            return
        for execution_id in execution_ids:
            self._held.pop(execution_id, None)
            self._rows.pop(execution_id, None)

    def __call__(self, works: list[DecisionWork]) -> list[DecisionResult]:
        results = []
        for work in works:
            try:
                result, state = self._decide(work)
            except Exception as exc:
                # An interpreter must never raise (its protocol says so): this is
                # a defect. Say so loudly, and record it with the traceback.
                log.exception(
                    "interpreter defect in execution %s (definition %s); failing it",
                    work.execution_id,
                    work.definition_id,
                )
                result, state = self._fail_for_defect(work, exc), None
            results.append(result)
            # The state of an execution that ended is not kept: its final
            # snapshot has it, should anything reopen it (a rerun), and
            # thousands of ended states would make every full pass of the
            # garbage collector longer. The mark of a terminated one is kept.
            if state is not None and (
                state is _TERMINATED or result.status not in FINAL_EXECUTION_STATUSES
            ):
                self._remember(work.execution_id, result.decision_no, state)
            else:
                self._held.pop(work.execution_id, None)
        return results

    # ------------------------------------------------------------------------------

    def _remember(self, execution_id: str, decision_no: int, state: Any) -> None:
        self._held[execution_id] = (decision_no, state)
        self._held.move_to_end(execution_id)
        while len(self._held) > self._state_cache_size:
            self._held.popitem(last=False)

    def _interpreter(self, work: DecisionWork) -> Interpreter:
        found = self.interpreters.get(work.definition_id)
        if found is not None:
            return found
        if work.definition is None:
            raise InterpreterDefect(
                f"definition {work.definition_id!r} was neither compiled nor loaded",
                definition_id=work.definition_id,
            )
        return self.interpreters.compile(work.definition)

    def _policy(self, work: DecisionWork) -> SnapshotPolicy:
        front_end = self.interpreters.front_end_of(work.definition_id)
        return _DEFAULT_POLICY if front_end is None else front_end.snapshots

    def _decide(self, work: DecisionWork) -> tuple[DecisionResult, Any]:
        cached = self._held.get(work.execution_id)
        held = cached is not None and cached[0] == work.decision_no and work.history is None
        if (held and cached is not None and cached[1] is _TERMINATED) or (
            not held and was_terminated(work.history or [])
        ):
            return after_termination(work, self.now), _TERMINATED
        forced = next((e for e in work.inputs if isinstance(e, TerminateRequested)), None)
        if forced is not None and work.status not in FINAL_EXECUTION_STATUSES:
            return terminated(work, forced, self.now), _TERMINATED
        if work.status != ExecutionStatus.REQUESTED and not any(e.is_input for e in work.inputs):
            # Only engine notes (an attempt lost and tried again): recorded, and
            # none of the interpreter's business, so its state is not rebuilt
            # for them (a process that just took over a run would compile the
            # definition and replay the history before its first step).
            return notes_only(work), cached[1] if held and cached is not None else None
        interpreter = self._interpreter(work)
        if held and cached is not None:
            state = cached[1]
        else:
            # Not held here (another process decided, or this one restarted):
            # the saved snapshot plus what history recorded after it.
            state = (
                interpreter.new_state()
                if work.snapshot is None
                else interpreter.load_state(work.snapshot)
            )
            if work.history:
                replay_into(interpreter, state, work.history)

        fold = _Fold(work.execution_id, work.status, work.definition_id)
        inputs: Sequence[Event] = work.inputs
        times: Sequence[float] = work.input_times
        decision_no = work.decision_no + 1
        # The interpreter's "now" is the recorded time of the latest input, so a
        # replay of history sees exactly the times the live run saw.
        recorded_now = max(times) if times else self.now
        while True:
            # Engine notes that arrive through the inbox (a retried attempt) are
            # recorded but are not the interpreter's business; nor is a request to
            # terminate an execution that has ended (it is refused here).
            folded = [e for e in inputs if e.is_input and not isinstance(e, TerminateRequested)]
            commands = interpreter.decide(state, folded, recorded_now) if folded else []
            fold.appended.extend((decision_no, t, e) for e, t in zip(inputs, times, strict=True))
            fold.appended.extend(
                (decision_no, self.now, refused(e, f"the execution is {work.status}"))
                for e in inputs
                if isinstance(e, TerminateRequested)
            )
            instant = fold.apply(decision_no, commands, self.now)
            if not instant:
                break
            if decision_no - work.decision_no >= MAX_INSTANT_DECISIONS:
                return self._fail_as_runaway(work), state
            decision_no += 1
            inputs = instant
            times = [self.now] * len(instant)
            recorded_now = self.now

        if fold.status == ExecutionStatus.REQUESTED:
            fold.status = ExecutionStatus.RUNNING
        policy = self._policy(work)
        total = work.next_seq - 1 + len(fold.appended)
        unsaved = total - work.snapshot_seq
        threshold = max(policy.every, int(total * policy.share))
        save = policy.enabled and (unsaved >= threshold or fold.completed)
        result = DecisionResult(
            execution_id=work.execution_id,
            decision_no=decision_no,
            consumed_inputs=len(work.inputs),
            appended=fold.appended,
            snapshot=interpreter.dump_state(state) if save else None,
            status=fold.status,
            completed=fold.completed,
            output=fold.output,
            errors=fold.errors,
            tasks=fold.tasks,
            timers=fold.timers,
            canceled_tasks=fold.canceled,
            children=fold.children,
            relayed=fold.relayed,
        )
        return result, state

    def _fail_as_runaway(self, work: DecisionWork) -> DecisionResult:
        # Nothing of the runaway chain is kept: its inputs are recorded, the
        # execution fails, and the last good snapshot stays.
        error: dict[str, JSON] = {
            "type": "error",
            "kind": "RunawayDecision",
            "code": RunawayDecision.code,
            "message": (
                f"more than {MAX_INSTANT_DECISIONS} tasks completed at once, one after "
                "another, without an action to run: the workflow loops through tasks "
                "that do nothing (an empty with-items or a task without an action "
                "leading back to itself)"
            ),
        }
        return ended(work, ExecutionStatus.FAILED, error, self.now)

    def _fail_for_defect(self, work: DecisionWork, exc: BaseException) -> DecisionResult:
        # Record the inputs so they are not decided again forever, fail the
        # execution, and keep the last good snapshot so that a fixed version can
        # rerun it.
        error: dict[str, JSON] = {
            "type": "error",
            "kind": "InterpreterDefect",
            "code": InterpreterDefect.code,
            "message": f"{type(exc).__name__}: {exc}",
            "traceback": "".join(traceback.format_exception(exc)),
        }
        return ended(work, ExecutionStatus.FAILED, error, self.now)


class _Fold:
    """Accumulates the effects of one execution's commands."""

    def __init__(self, execution_id: str, status: str, definition_id: str = "") -> None:
        self.execution_id = execution_id
        self.definition_id = definition_id
        self.status = status
        self.completed = False
        self.output: JSON = None
        self.errors: list[JSON] = []
        self.tasks: list[NewTask] = []
        self.timers: list[tuple[str, float]] = []
        self.canceled: list[str] = []
        self.children: list[NewChild] = []
        self.relayed: list[tuple[str, str]] = []
        self.appended: list[tuple[int, float, Event]] = []

    def apply(self, decision_no: int, commands: Sequence[Command], now: float) -> list[Event]:
        """Record ``commands``; return completions of steps with nothing to run."""
        instant: list[Event] = []
        for command in commands:
            if isinstance(command, StartChild):
                command = command.named(self.execution_id, decision_no)
            self.appended.append((decision_no, now, command.record()))
            match command:
                case ScheduleTask():
                    if command.action is None:
                        instant.append(TaskCompleted(task_id=command.task_id, status="succeeded"))
                    else:
                        self.tasks.append(_new_task(command, now, self.definition_id))
                case SetStatus():
                    self.status = command.status
                case CompleteExecution():
                    self.completed = True
                    self.status = command.status
                    self.output = command.output
                    self.errors = list(command.errors)
                case StartChild():
                    self.children.append(
                        NewChild(
                            execution_id=command.execution_id,
                            task_id=command.task_id,
                            name=command.name,
                            definition=command.definition,
                            input=command.input,
                            meta=dict(command.meta),
                            detached=command.detached,
                        )
                    )
                case RelayToChild():
                    self.relayed.append((command.task_id, command.request))
                case StartTimer():
                    self.timers.append((command.timer_id, now + max(0.0, command.delay)))
                case CancelTask():
                    self.canceled.append(command.task_id)
                    # A task scheduled and withdrawn in one decision never reaches the store.
                    self.tasks = [t for t in self.tasks if t.task_id != command.task_id]
                case RecordMarker() | RejectRequest():
                    pass  # history is all they change
                case _:
                    assert_never(command)
        return instant


def _new_task(command: ScheduleTask, now: float, definition_id: str) -> NewTask:
    assert command.action is not None
    # The worker saving the result holds it to its definition's ceilings.
    meta = {**command.meta, TASK_DEFINITION_ID: definition_id}
    return NewTask(
        task_id=command.task_id,
        name=command.name,
        action=command.action,
        input=command.input,
        queue=command.queue,
        available_at=now + max(0.0, command.delay),
        retry=command.retry,
        timeout=command.timeout,
        heartbeat_timeout=command.heartbeat_timeout,
        meta=meta,
        external=command.external,
        priority=command.priority,
    )


class _DecisionNumbers(Mapping[str, int]):
    """A read-only view of the state cache: execution id -> decision number."""

    def __init__(self, held: Mapping[str, tuple[int, Any]]) -> None:
        self._held = held

    def __getitem__(self, key: str) -> int:
        return self._held[key][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._held)

    def __len__(self) -> int:
        return len(self._held)
