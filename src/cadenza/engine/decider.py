"""Turning inbox events into a saved decision.

The store calls ``Decider.__call__`` inside its transaction with the work it
locked. The decider folds each execution's inputs through its interpreter and
turns the commands into the rows the store saves: history records, tasks,
timers, the new status and the new snapshot. It reads no clock and does no
I/O: ``now`` comes from the caller (the engine reads its clock once per batch).

Interpreter states are cached in memory between decisions, keyed by the
decision number they belong to, so a busy execution is not re-loaded from its
snapshot at every step. The cache is only a shortcut: a miss (another process
decided, or this process restarted) loads the snapshot instead.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cadenza.engine.replay import replay_into
from cadenza.interpreters.protocol import FrontEnd, Interpreter
from cadenza.model.commands import (
    CancelTask,
    CompleteExecution,
    RejectRequest,
    ScheduleTask,
    SetStatus,
    StartTimer,
)
from cadenza.model.errors import CadenzaError
from cadenza.model.events import JSON, Event, ExecutionCompleted, TaskCompleted
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES, ExecutionStatus
from cadenza.store.records import DecisionResult, DecisionWork, DefinitionRecord, NewTask


@dataclass
class DecisionOutcome:
    """What one batch of decisions changed, for listeners (progress display)."""

    execution_id: str
    status: str
    appended: list[tuple[int, float, Event]] = field(default_factory=list)


class InterpreterCache:
    """Compiled interpreters by definition id (a definition never changes)."""

    def __init__(self, front_ends: Mapping[str, FrontEnd]) -> None:
        self._front_ends = front_ends
        self._compiled: dict[str, Interpreter] = {}

    def __contains__(self, definition_id: object) -> bool:
        return definition_id in self._compiled

    def add(self, definition_id: str, interpreter: Interpreter) -> None:
        """Keep an interpreter compiled elsewhere (at registration)."""
        self._compiled.setdefault(definition_id, interpreter)

    def get(self, definition_id: str) -> Interpreter | None:
        return self._compiled.get(definition_id)

    def compile(self, definition: DefinitionRecord) -> Interpreter:
        found = self._compiled.get(definition.id)
        if found is None:
            front_end = self._front_ends.get(definition.kind)
            if front_end is None:
                raise CadenzaError(f"no front end for definitions of kind {definition.kind!r}")
            found = front_end.compile(definition.source, origin=definition.name)
            self._compiled[definition.id] = found
        return found


class Decider:
    """The callback the store runs inside its decision transaction."""

    def __init__(
        self,
        interpreters: InterpreterCache,
        state_cache_size: int = 4096,
        snapshot_every: int = 64,
        snapshot_share: float = 0.25,
    ) -> None:
        self.interpreters = interpreters
        self.snapshot_every = snapshot_every
        self.snapshot_share = snapshot_share
        self._states: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._state_cache_size = state_cache_size
        self.now = 0.0
        self.outcomes: list[DecisionOutcome] = []
        self.on_internal_error: Callable[[str, BaseException], None] | None = None

    def known_states(self) -> Mapping[str, int]:
        """Decision numbers of the states held here (the store skips loading them)."""
        return _DecisionNumbers(self._states)

    def forget_states(self) -> None:
        """Drop cached states (after a failed transaction they may be ahead of the store)."""
        self._states.clear()

    def __call__(self, works: list[DecisionWork]) -> list[DecisionResult]:
        results = []
        for work in works:
            try:
                result, state = self._decide(work)
            except Exception as exc:
                if self.on_internal_error is not None:
                    self.on_internal_error(work.execution_id, exc)
                result, state = self._fail_internally(work, exc), None
            results.append(result)
            if state is not None:
                self._remember(work.execution_id, result.decision_no, state)
            else:
                self._states.pop(work.execution_id, None)
            self.outcomes.append(
                DecisionOutcome(work.execution_id, result.status, list(result.appended))
            )
        return results

    # ------------------------------------------------------------------------------

    def _remember(self, execution_id: str, decision_no: int, state: Any) -> None:
        self._states[execution_id] = (decision_no, state)
        self._states.move_to_end(execution_id)
        while len(self._states) > self._state_cache_size:
            self._states.popitem(last=False)

    def _interpreter(self, work: DecisionWork) -> Interpreter:
        found = self.interpreters.get(work.definition_id)
        if found is not None:
            return found
        if work.definition is None:
            raise CadenzaError(f"definition {work.definition_id!r} was not loaded")
        return self.interpreters.compile(work.definition)

    def _decide(self, work: DecisionWork) -> tuple[DecisionResult, Any]:
        interpreter = self._interpreter(work)
        cached = self._states.get(work.execution_id)
        if cached is not None and cached[0] == work.decision_no and work.history is None:
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

        fold = _Fold(work.status)
        inputs: Sequence[Event] = work.inputs
        times: Sequence[float] = work.input_times
        decision_no = work.decision_no + 1
        # The interpreter's "now" is the recorded time of the latest input, so a
        # replay of history sees exactly the times the live run saw.
        recorded_now = max(times) if times else self.now
        while True:
            # Engine notes that arrive through the inbox (a retried attempt) are
            # recorded but are not the interpreter's business.
            folded = [e for e in inputs if e.is_input]
            commands = interpreter.decide(state, folded, recorded_now) if folded else []
            fold.appended.extend((decision_no, t, e) for e, t in zip(inputs, times, strict=True))
            instant = fold.apply(decision_no, commands, self.now)
            if not instant:
                break
            decision_no += 1
            inputs = instant
            times = [self.now] * len(instant)
            recorded_now = self.now

        if fold.status == ExecutionStatus.REQUESTED:
            fold.status = ExecutionStatus.RUNNING
        # Saving the whole state costs O(state), and the state grows with the
        # run. Saving when the unsaved tail reaches a fixed share of the history
        # (at least ``snapshot_every`` events) makes that cost O(1) per event
        # amortised, while a cold decider replays at most that share.
        total = work.next_seq - 1 + len(fold.appended)
        unsaved = total - work.snapshot_seq
        threshold = max(self.snapshot_every, int(total * self.snapshot_share))
        save = unsaved >= threshold or (fold.status in FINAL_EXECUTION_STATUSES and fold.completed)
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
        )
        return result, state

    def _fail_internally(self, work: DecisionWork, exc: BaseException) -> DecisionResult:
        # The interpreter broke (a bug, not a workflow failure). Record the inputs
        # so they are not decided again forever, fail the execution, and keep the
        # last good snapshot so that a fixed version can be rerun from it.
        decision_no = work.decision_no + 1
        error = {
            "type": "error",
            "kind": "InternalError",
            "message": f"{type(exc).__name__}: {exc}",
        }
        appended: list[tuple[int, float, Event]] = [
            (decision_no, t, e) for e, t in zip(work.inputs, work.input_times, strict=True)
        ]
        appended.append(
            (decision_no, self.now, ExecutionCompleted(status="failed", errors=[error]))
        )
        return DecisionResult(
            execution_id=work.execution_id,
            decision_no=decision_no,
            consumed_inputs=len(work.inputs),
            appended=appended,
            snapshot=None,
            status=ExecutionStatus.FAILED,
            completed=True,
            errors=[error],
        )


class _Fold:
    """Accumulates the effects of one execution's commands."""

    def __init__(self, status: str) -> None:
        self.status = status
        self.completed = False
        self.output: JSON = None
        self.errors: list[JSON] = []
        self.tasks: list[NewTask] = []
        self.timers: list[tuple[str, float]] = []
        self.canceled: list[str] = []
        self.appended: list[tuple[int, float, Event]] = []

    def apply(self, decision_no: int, commands: Sequence[object], now: float) -> list[Event]:
        """Record ``commands``; return completions of steps with nothing to run."""
        instant: list[Event] = []
        for command in commands:
            record = getattr(command, "record", None)
            if record is None:
                raise CadenzaError(f"interpreter returned a non-command: {command!r}")
            self.appended.append((decision_no, now, record()))
            if isinstance(command, ScheduleTask):
                if command.action is None:
                    instant.append(
                        TaskCompleted(
                            task_id=command.task_id,
                            status="succeeded",
                            result=command.meta.get("instant_result"),
                        )
                    )
                else:
                    self.tasks.append(
                        NewTask(
                            task_id=command.task_id,
                            name=command.name,
                            action=command.action,
                            input=command.input,
                            queue=command.queue,
                            available_at=now + max(0.0, command.delay),
                            retry=command.retry,
                            timeout=command.timeout,
                            heartbeat_timeout=command.heartbeat_timeout,
                            meta=dict(command.meta),
                        )
                    )
            elif isinstance(command, SetStatus):
                self.status = command.status
            elif isinstance(command, CompleteExecution):
                self.completed = True
                self.status = command.status
                self.output = command.output
                self.errors = list(command.errors)
            elif isinstance(command, StartTimer):
                self.timers.append((command.timer_id, now + max(0.0, command.delay)))
            elif isinstance(command, CancelTask):
                self.canceled.append(command.task_id)
                # A task scheduled and withdrawn in the same decision never reaches the store.
                self.tasks = [t for t in self.tasks if t.task_id != command.task_id]
            elif isinstance(command, RejectRequest):
                pass
        return instant


class _DecisionNumbers(Mapping[str, int]):
    """A read-only view of the state cache: execution id -> decision number."""

    def __init__(self, states: Mapping[str, tuple[int, Any]]) -> None:
        self._states = states

    def __getitem__(self, key: str) -> int:
        return self._states[key][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._states)

    def __len__(self) -> int:
        return len(self._states)
