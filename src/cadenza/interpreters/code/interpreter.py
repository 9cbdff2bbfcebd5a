"""The decision function of code workflows: run the user's code against history.

**How history is folded.** The state of an execution is a live object
(:class:`CodeRun`): the runtime (outcomes of tasks, signals, issued task
ids), the strand holding the user's code, and the log of input batches. Each
``decide`` folds its input events once into the runtime, then advances the
strand by one step: the code runs from where it waits until it waits again
(or ends). Commands are the tasks the code issued in that step. A cold
decider (another process, a restart) gets a fresh state and the whole
history through ``decide``, decision by decision, exactly as live: snapshots
are off for this front end (running code cannot be written down). With the
``async def`` face a cold replay is O(history) once and a hot decision costs
O(new events); the plain ``def`` face reruns the code from its start at each
decision (see ``strands``), so its decisions cost O(tasks so far).

**Nondeterminism.** The interpreter sees only input events, so it checks
what they name: a ``TaskCompleted`` or ``TimerFired`` for a task id that the
code (replayed today) never issued means the code no longer does what it
did when history was recorded. (The plain ``def`` face also checks that a
run from the start reaches every task earlier runs issued.) The execution
then stops in status
``nondeterministic`` with a ``MarkerRecorded(kind="code.nondeterminism")``
holding the diff (what history has, what the code issued instead, with code
lines), issues nothing else, and starts a zero-delay timer
``code.stuck@<decision>`` so that any later replay knows from which decision
on the engine applied nothing.

**Fixing.** After fixing the code (revert, or guard the change with
``patched(...)``), the ``replay`` operator request replays the whole log
through today's code. If it agrees with history, the commands it issued from
the stuck decision on — which the engine never applied — are issued now and
the execution goes on, with a zero-delay timer ``code.unstuck@<decision>``
that tells later replays the engine applied them; otherwise the request is
refused with the new diff.

**Reruns.** ``RerunRequested`` on a failed (or succeeded) execution gives
the tasks to run again new ids (``<id>~<n>``) and starts the code afresh;
every other task's recorded outcome is reused as on any replay (see
``reruns``).

**Batching.** One decision schedules at most ``MAX_TASKS_PER_DECISION``
tasks; what the code issued beyond that stays in the runtime's pending list,
in issue order, and goes out in the next decisions (those results start, or
a zero-delay ``code.batch@`` timer started for it). Like every command, the
batches follow from the events alone, so a replay issues the same ones.

**Patches.** ``patched(id)`` is True by default. When a divergence shows up
after a patch said True, the log is replayed with that patch (then the
patches before it) forced to False; the first replay that agrees with history
is kept: the execution was recorded by the code before the patch.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Sequence

from cadenza.interpreters.code.continuation import (
    CONTINUATION_TASK,
    CONTINUED_OUTPUT,
    Continued,
    continuation_commands,
)
from cadenza.interpreters.code.futures import Future, TaskFailed
from cadenza.interpreters.code.names import BATCH_TIMER as BATCH_TIMER
from cadenza.interpreters.code.names import FINAL as FINAL
from cadenza.interpreters.code.names import KIND as KIND
from cadenza.interpreters.code.names import PAUSED as PAUSED
from cadenza.interpreters.code.names import UNSTUCK_TIMER as UNSTUCK_TIMER
from cadenza.interpreters.code.nondeterminism import (
    NONDETERMINISTIC,
    REPLAY_REQUEST,
    STUCK_TIMER,
    divergence_report,
    skipped_report,
    stuck_commands,
)
from cadenza.interpreters.code.reruns import rerun_plan
from cadenza.interpreters.code.runtime import TIMEOUT_TIMER, Issued, Runtime
from cadenza.interpreters.code.strands import (
    CoroutineStrand,
    Raised,
    RestartStrand,
    Returned,
    Strand,
    Waiting,
)
from cadenza.interpreters.code.workflow import EntryFactory, input_arguments
from cadenza.interpreters.protocol import ActionUse, ExecutionView, TaskView
from cadenza.model.commands import (
    CancelTask,
    Command,
    CompleteExecution,
    RecordMarker,
    RejectRequest,
    SetStatus,
    StartChild,
    StartTimer,
)
from cadenza.model.errors import FrontEndError
from cadenza.model.events import (
    JSON,
    CancelRequested,
    Event,
    ExecutionStarted,
    OperatorRequested,
    PauseRequested,
    RerunRequested,
    ResumeRequested,
    SignalReceived,
    TaskCompleted,
    TaskStarted,
    TimerFired,
)

#: At most this many tasks (activities, children, timers) are scheduled by one
#: decision. One decision is one store transaction: a fan-out of 10,000 tasks
#: in one would hold the store's write lock for seconds. The rest wait in the
#: interpreter state and go out, in issue order, in the next decisions.
MAX_TASKS_PER_DECISION = 1_000


class CodeRun:
    """The interpreter state of one execution (live; never written down)."""

    def __init__(self) -> None:
        self.runtime = Runtime()
        self.strand: Strand | None = None
        self.status = "requested"
        self.output: JSON = None
        self.errors: list[JSON] = []
        self.log: list[tuple[list[Event], float]] = []
        #: The commands the code itself issued at each decision (by ordinal - 1),
        #: without what a replay request re-issued.
        self.own: list[list[Command]] = []
        self.stuck: dict[str, JSON] | None = None
        self.engine_stuck_since: int | None = None
        self.waiting_on: Future | None = None
        #: The run this one continued as (continue-as-new), once it has.
        self.continued_as: str | None = None
        #: Whether a ``BATCH_TIMER`` is started and has not fired yet.
        self.batch_wake = False


class CodeInterpreter:
    """Drives one workflow (class or function) through recorded events."""

    kind = KIND

    def __init__(
        self,
        target: str,
        entry: EntryFactory,
        is_async: bool,
        max_tasks_per_decision: int = MAX_TASKS_PER_DECISION,
    ) -> None:
        self.target = target
        self._entry = entry
        self._is_async = is_async
        self.max_tasks_per_decision = max_tasks_per_decision

    # --- the protocol -------------------------------------------------------------------

    def new_state(self) -> CodeRun:
        return CodeRun()

    def decide(self, state: CodeRun, events: Sequence[Event], now: float) -> list[Command]:
        batch = list(events)
        was_stuck = state.stuck is not None
        if any(_is_replay(e) for e in batch):
            commands, own = self._replay(state, batch, now)
        else:
            commands = own = self._fold_and_run(state, batch, now)
            if not was_stuck and state.stuck is not None and state.runtime.patches:
                commands = own = self._try_old_paths(state, batch, now, commands)
        state.log.append((batch, now))
        state.own.append(own)
        return commands

    def dump_state(self, state: CodeRun) -> JSON:
        # Never used for snapshots (they are off): a summary for debugging.
        return {"status": state.status, "decisions": len(state.log), "stuck": state.stuck}

    def load_state(self, data: JSON) -> CodeRun:
        raise FrontEndError(
            "code executions keep no snapshots: their state is rebuilt by replaying history"
        )

    def describe(self, state: CodeRun) -> ExecutionView:
        runtime = state.runtime
        tasks = []
        for issued in runtime.issued.values():
            if issued.kind == "marker":
                continue
            outcome = runtime.outcomes.get(issued.task_id)
            tasks.append(
                TaskView(
                    name=issued.label,
                    status=outcome.status if outcome else "running",
                    key=issued.task_id,
                    result=outcome.result if outcome else None,
                )
            )
        if state.continued_as is not None:
            tasks.append(
                TaskView(name=CONTINUATION_TASK, status="continued", key=state.continued_as)
            )
        errors = list(state.errors) + ([state.stuck] if state.stuck else [])
        return ExecutionView(status=state.status, output=state.output, errors=errors, tasks=tasks)

    def actions(self) -> Sequence[ActionUse]:
        # Activities are named by the code as it runs, not literally up front.
        return []

    # --- folding and running ------------------------------------------------------------------

    def _fold_and_run(self, state: CodeRun, events: list[Event], now: float) -> list[Command]:
        runtime = state.runtime
        runtime.ordinal += 1
        runtime.now = now
        out: list[Command] = []
        was_stuck = state.stuck is not None
        for event in events:
            out.extend(self._fold(state, event))
        if state.status in FINAL:
            return out
        if state.stuck is not None:
            if not was_stuck:
                out += self._stuck_commands(state)
                state.status = NONDETERMINISTIC
            return out
        if state.strand is None or state.status == PAUSED:
            # Paused: outcomes are kept, the code goes on once resumed.
            return out
        before = set(runtime.issued) if isinstance(state.strand, RestartStrand) else None
        progress = state.strand.advance()
        issued_now = runtime.take_commands(self.max_tasks_per_decision)
        if progress is not None and before is not None and runtime.unvisited():
            # A restarted run skipped tasks that earlier runs issued: the code
            # changed under the execution. What it issued instead never leaves here.
            added = [runtime.issued.pop(t) for t in list(runtime.issued) if t not in before]
            self._skipped(state, runtime.unvisited(), added)
            state.status = NONDETERMINISTIC
            return [*out, *self._stuck_commands(state)]
        out.extend(issued_now)
        match progress:
            case None:
                pass
            case Waiting(future=future):
                state.waiting_on = future
            case Returned(value=value):
                out.extend(self._finish(state, "succeeded", value, []))
            case Raised(error=error):
                out.extend(self._finish(state, "failed", None, [_error_of(error)]))
            case Continued(input=new_input):
                out.extend(self._continue_as_new(state, new_input))
        if runtime.pending and state.status not in FINAL and not state.batch_wake:
            # More than the cap was issued: results arriving schedule the rest
            # too, but the code may wait for none of them, so wake up for it.
            state.batch_wake = True
            out.append(StartTimer(f"{BATCH_TIMER}{runtime.ordinal}", 0.0))
        return out

    def _fold(self, state: CodeRun, event: Event) -> list[Command]:
        runtime = state.runtime
        final = state.status in FINAL
        match event:
            case ExecutionStarted():
                runtime.input = event.input
                runtime.context = event.context
                runtime.seed = event.seed
                runtime.meta = dict(event.meta)
                state.status = "running"
                state.strand = self._strand(runtime)
            case TaskCompleted():
                if final or event.task_id in runtime.outcomes:
                    return []
                if event.task_id not in runtime.issued:
                    self._diverged(state, event, f"task {event.task_id!r} {event.status}")
                runtime.record_outcome(event)
            case TimerFired():
                if event.timer_id.startswith(STUCK_TIMER):
                    state.engine_stuck_since = int(event.timer_id[len(STUCK_TIMER) :])
                    return []
                if event.timer_id.startswith(UNSTUCK_TIMER):
                    state.engine_stuck_since = None
                    return []
                if event.timer_id.startswith(BATCH_TIMER):
                    state.batch_wake = False
                    return []
                if event.timer_id.startswith(TIMEOUT_TIMER):
                    return [] if final else runtime.timeout_fired(event.timer_id)
                if final or event.timer_id in runtime.outcomes:
                    return []
                if event.timer_id not in runtime.issued:
                    self._diverged(state, event, f"timer {event.timer_id!r} fired")
                runtime.record_outcome(TaskCompleted(task_id=event.timer_id))
            case TaskStarted():
                runtime.started.add(event.task_id)
            case SignalReceived():
                if not final:
                    runtime.record_signal(event.name, event.data)
            case CancelRequested():
                if final:
                    return [_reject("cancel", f"the execution is already {state.status}")]
                return self._finish(state, "canceled", None, [])
            case PauseRequested():
                if final or state.status != "running":
                    return [_reject("pause", f"the execution is {state.status}")]
                state.status = PAUSED
                return [SetStatus(PAUSED)]
            case ResumeRequested():
                if state.status != PAUSED:
                    return [_reject("resume", f"the execution is {state.status}, not paused")]
                state.status = "running"
                return [SetStatus("running")]
            case RerunRequested():
                return self._rerun(state, event)
            case OperatorRequested():
                return [_reject(event.request, f"unknown request {event.request!r}")]
            case _:
                pass  # TaskStarted and the like change nothing the code can see
        return []

    def _rerun(self, state: CodeRun, event: RerunRequested) -> list[Command]:
        """Run a finished execution's code again: the chosen tasks, and every task
        issued after the first of them (default: the tasks that did not succeed)
        run again; every other task's recorded result is reused. A chosen
        activity given a new input runs with it instead of the code's arguments."""
        if state.status not in ("failed", "succeeded"):
            return [
                _reject("rerun", f"only a finished execution reruns; this one is {state.status}")
            ]
        runtime = state.runtime
        plan = rerun_plan(runtime, event)
        if isinstance(plan, str):
            return [_reject("rerun", plan)]
        runtime.rerun(plan.targets, plan.new_inputs)
        runtime.begin_run()
        state.status, state.output, state.errors = "running", None, []
        state.strand = self._strand(runtime)
        state.waiting_on = None
        return [SetStatus("running")]

    def _strand(self, runtime: Runtime) -> Strand:
        args, kwargs = input_arguments(runtime.input)
        start = self._entry(runtime, args, kwargs)
        if self._is_async:
            return CoroutineStrand(runtime, start)
        return RestartStrand(runtime, start)

    def _finish(
        self, state: CodeRun, status: str, output: JSON, errors: list[JSON]
    ) -> list[Command]:
        if status == "succeeded":
            try:
                json.dumps(output)
            except (TypeError, ValueError) as exc:
                status, output = "failed", None
                errors = [{"type": "code.bad_output", "message": f"the workflow returned {exc}"}]
        state.status, state.output, state.errors = status, output, errors
        if state.strand is not None:
            state.strand.close()
        runtime = state.runtime
        # What the cap held back is dropped (it never reached the engine), but for
        # detached children: they outlive this execution once issued.
        held = runtime.held_back()
        out: list[Command] = [
            c for c in runtime.pending if isinstance(c, StartChild) and c.detached
        ]
        runtime.pending = []
        out += [
            CancelTask(issued.task_id)
            for issued in runtime.issued.values()
            if issued.kind in ("activity", "child")
            and issued.task_id not in runtime.outcomes
            and issued.task_id not in held
        ]
        out.append(CompleteExecution(status=status, output=output, errors=errors))
        return out

    def _continue_as_new(self, state: CodeRun, new_input: JSON) -> list[Command]:
        """End this run as succeeded and start the next one (see ``continuation``)."""
        runtime = state.runtime
        state.continued_as, commands = continuation_commands(
            runtime.meta, runtime.ordinal, runtime.workflow_id, new_input
        )
        ending = self._finish(state, "succeeded", {CONTINUED_OUTPUT: state.continued_as}, [])
        return [*commands, *ending]

    def _stuck_commands(self, state: CodeRun) -> list[Command]:
        assert state.stuck is not None
        return stuck_commands(state.stuck, state.runtime.ordinal)

    def _skipped(self, state: CodeRun, skipped: list[Issued], added: list[Issued]) -> None:
        state.stuck = skipped_report(state.runtime.ordinal, skipped, added)

    def _diverged(self, state: CodeRun, event: Event, what: str) -> None:
        if state.stuck is None:
            state.stuck = divergence_report(state.runtime, event.type, what, state.waiting_on)

    # --- replay requests and patches -------------------------------------------------------

    def _rebuilt(self, log: list[tuple[list[Event], float]], forced_old: frozenset[str]) -> CodeRun:
        fresh = CodeRun()
        fresh.runtime.forced_old = forced_old
        for events, now in log:
            self.decide(fresh, events, now)
        return fresh

    def _replay(
        self, state: CodeRun, batch: list[Event], now: float
    ) -> tuple[list[Command], list[Command]]:
        """Replay the whole log through today's code; go on if it agrees.

        Returns the commands, and those of them the code issued itself.
        """
        since = state.engine_stuck_since
        if since is None and state.stuck is not None:
            since = int(state.stuck.get("decision") or 0) or None
        fresh = self._rebuilt(state.log, state.runtime.forced_old)
        rest = [e for e in batch if not _is_replay(e)]
        if fresh.stuck is not None:
            _adopt(state, fresh)
            reason = "the code still disagrees with history: " + str(fresh.stuck["message"])
            own = self._fold_and_run(state, rest, now)
            marker = RecordMarker(kind="code.nondeterminism", details=fresh.stuck)
            return [_reject(REPLAY_REQUEST, reason), marker, *own], own
        out: list[Command] = []
        if since is not None:
            # What today's code issued from the stuck decision on never reached the
            # engine (the stuck code issued nothing then): issue it now.
            out.append(SetStatus("running"))
            for commands in fresh.own[since - 1 :]:
                out.extend(c for c in commands if not isinstance(c, RejectRequest | SetStatus))
        _adopt(state, fresh)
        own = self._fold_and_run(state, rest, now)
        out.extend(own)
        if since is not None and state.status not in FINAL:
            # Tells later replays that the engine applied everything up to here
            # (a replay of this request cannot know whether it was refused then).
            out.append(StartTimer(f"{UNSTUCK_TIMER}{state.runtime.ordinal}", 0.0))
        return out, own

    def _try_old_paths(
        self, state: CodeRun, batch: list[Event], now: float, commands: list[Command]
    ) -> list[Command]:
        """After a divergence: replay with the newest patches forced to the old path."""
        taken = [p for p, value in state.runtime.patches.items() if value]
        for count in range(1, len(taken) + 1):
            forced = state.runtime.forced_old | frozenset(taken[-count:])
            fresh = self._rebuilt([*state.log, (batch, now)], forced)
            if fresh.stuck is None:
                found = fresh.own.pop()
                fresh.log.pop()
                _adopt(state, fresh)
                return found
        return commands


def _adopt(state: CodeRun, fresh: CodeRun) -> None:
    if state.strand is not None and state.strand is not fresh.strand:
        state.strand.close()
    state.__dict__.update(fresh.__dict__)


def _is_replay(event: Event) -> bool:
    return isinstance(event, OperatorRequested) and event.request == REPLAY_REQUEST


def _reject(request: str, message: str) -> RejectRequest:
    return RejectRequest(request=request, error={"kind": "code.request", "message": message})


def _error_of(error: BaseException) -> JSON:
    if isinstance(error, TaskFailed):
        found: dict[str, JSON] = {
            "type": "code.task_failed",
            "message": error.message,
            "task_id": error.task_id,
            "status": error.status,
        }
        if error.error is not None:
            found["error"] = error.error
        return found
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    return {"type": type(error).__name__, "message": str(error), "where": where}
