"""The workflow runtime: what workflow code calls, turned into commands.

One :class:`Runtime` lives in each execution's interpreter state. Workflow
code reaches it through ``Workflow``/``WorkflowContext`` methods; it

* gives each submitted task a **stable id**: ``<name>#<n>`` where ``n``
  counts submissions of that name in this run, or ``<name>@<hash>`` (hash of
  the arguments) for idempotent activities, so that the same code replayed
  against the same history names the same tasks;
* issues a command only for a task id it has not issued before, and returns
  a future that history resolves;
* keeps what history said about every task (its outcome) and the signals
  received, so that a run started from the beginning (a cold replay, or the
  restarting face) finds every finished task finished;
* serves the workflow-safe values: ``now()`` is the recorded time of the
  decision, ``random()``/``uuid4()`` are drawn from the seed the engine
  recorded in ``ExecutionStarted``, so a replay sees the same values.

It imports no clock and no random module: purity is the point.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from cadenza.interpreters.code.activities import ActivityDefinition
from cadenza.interpreters.code.call_sites import workflow_call_site
from cadenza.interpreters.code.continuation import ContinueAsNew
from cadenza.interpreters.code.futures import Future, TaskFailed
from cadenza.interpreters.code.names import TIMEOUT_TIMER as TIMEOUT_TIMER
from cadenza.model.commands import (
    CancelTask,
    Command,
    RecordMarker,
    ScheduleTask,
    StartChild,
    StartTimer,
)
from cadenza.model.errors import CadenzaError
from cadenza.model.events import JSON, TaskCompleted
from cadenza.model.ids import abandoned_child_id

SCHEDULE_TO_START = "schedule_to_start"
SCHEDULE_TO_CLOSE = "schedule_to_close"

#: What happens to a child execution when its parent ends (SWF's child policies).
REQUEST_CANCEL = "request_cancel"
TERMINATE = "terminate"
ABANDON = "abandon"
CHILD_POLICIES = (REQUEST_CANCEL, TERMINATE, ABANDON)

_VERB = {SCHEDULE_TO_START: "start", SCHEDULE_TO_CLOSE: "finish"}


class WorkflowUsageError(CadenzaError):
    """Workflow code used the workflow API in a way it cannot work."""

    code = "code.usage"


@dataclass(frozen=True)
class Issued:
    """A command the workflow code issued, kept for nondeterminism reports."""

    task_id: str
    kind: str  # activity, timer, child
    label: str  # what it runs (activity name, child definition, timer delay)
    where: str  # file:line of the workflow code that issued it
    ordinal: int  # which decision issued it (1 = the first)

    def describe(self) -> str:
        return f"{self.kind} {self.label!r} as task {self.task_id!r} at {self.where}"


class Runtime:
    """The execution's side of the workflow API. See the module docstring."""

    def __init__(self) -> None:
        self.input: JSON = None
        self.seed = 0
        self.meta: dict[str, JSON] = {}
        self.context: JSON = None
        #: Tasks a worker took (``TaskStarted``): schedule-to-start is met.
        self.started: set[str] = set()
        self.now = 0.0
        self.ordinal = 0
        #: Task id -> the outcome history recorded for it.
        self.outcomes: dict[str, TaskCompleted] = {}
        #: Signal name -> payloads received, in order.
        self.signals: dict[str, list[JSON]] = {}
        #: Task id -> the command issued for it (in issue order).
        self.issued: dict[str, Issued] = {}
        #: Task id -> its future (kept across restarts of the code).
        self.futures: dict[str, Future] = {}
        #: Patch id -> whether this execution takes the patched path.
        self.patches: dict[str, bool] = {}
        #: Patch ids forced to the old path (found by replay; see the interpreter).
        self.forced_old: frozenset[str] = frozenset()
        #: Commands issued since the interpreter last collected them.
        self.pending: list[Command] = []
        #: Rerun tasks: first id -> the id it runs under now; ids no longer used.
        self.aliases: dict[str, str] = {}
        self.superseded: set[str] = set()
        #: Rerun task id -> the activity input (``{"args", "kwargs"}``) a rerun
        #: gave it, used instead of the arguments the code passes.
        self.new_inputs: dict[str, JSON] = {}
        self._base_of: dict[str, str] = {}
        self._reruns: dict[str, int] = {}
        self.suspend: Callable[[Future], None] = _cannot_suspend
        self._counters: dict[str, int] = {}
        self._signal_reads: dict[str, int] = {}
        self._draws = 0
        #: Task ids this run of the code reached (issued now or before).
        self.visited: set[str] = set()
        #: Values ``now()`` returned, by call; kept so that a run restarted from
        #: the beginning reads the times its first run read.
        self._times: list[float] = []
        self._time_reads = 0

    # --- the run ---------------------------------------------------------------------

    def begin_run(self) -> None:
        """Reset what a run of the code counts, before running it from the start."""
        self._counters.clear()
        self._signal_reads.clear()
        self._draws = 0
        self._time_reads = 0
        self.visited.clear()

    def unvisited(self) -> list[Issued]:
        """What earlier runs issued and this run of the code did not reach."""
        return [
            i
            for i in self.issued.values()
            if i.task_id not in self.visited and i.task_id not in self.superseded
        ]

    def rerun(self, task_ids: list[str], new_inputs: dict[str, JSON] | None = None) -> None:
        """Give these tasks new ids (``<id>~<n>``), so that the next run of the
        code issues them again instead of reading their recorded outcomes;
        ``new_inputs`` (by old id) replace the input of those activities."""
        for task_id in task_ids:
            base = self._base_of.get(task_id, task_id)
            count = self._reruns.get(base, 0) + 1
            self._reruns[base] = count
            renamed = f"{base}~{count}"
            self.aliases[base] = renamed
            self._base_of[renamed] = base
            self.superseded.add(task_id)
            if new_inputs and task_id in new_inputs:
                self.new_inputs[renamed] = new_inputs[task_id]

    def take_commands(self, limit: int | None = None) -> list[Command]:
        """The commands issued since the last call, in order; with ``limit``, only
        as many as start at most ``limit`` tasks (activities, children, timers):
        the rest stay pending for the next call (see ``BATCH_TIMER``)."""
        cut = len(self.pending)
        if limit is not None:
            # Only up to the cut is looked at: a decision costs O(limit), not
            # O(what is held back).
            count = 0
            for index, command in enumerate(self.pending):
                if _starts_work(command):
                    if count == limit:
                        cut = index
                        break
                    count += 1
        taken, self.pending = self.pending[:cut], self.pending[cut:]
        return taken

    def held_back(self) -> set[str]:
        """Ids of the tasks issued but still pending (never sent to the engine)."""
        return {_work_id(c) for c in self.pending if _starts_work(c)}

    def record_outcome(self, event: TaskCompleted) -> None:
        """Keep a task's outcome and finish its future."""
        self.outcomes[event.task_id] = event
        future = self.futures.get(event.task_id)
        if future is not None and not future.done:
            _settle(future, event)

    def record_signal(self, name: str, payload: JSON) -> None:
        """Keep a signal and finish the first future waiting for it."""
        received = self.signals.setdefault(name, [])
        received.append(payload)
        future = self.futures.get(_signal_id(name, len(received)))
        if future is not None and not future.done:
            future.set_result(payload)

    # --- the workflow API --------------------------------------------------------------

    def submit_activity(
        self, declared: ActivityDefinition, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Future:
        """Schedule ``declared`` with these arguments (once per task id)."""
        plain_args, plain_kwargs = _resolved(args, kwargs)
        task_id = "" if declared.idempotent else self._current(self._next_id(declared.name))
        known = self.futures.get(task_id)
        if known is not None and task_id in self.issued:
            # A restarted run reaching a task it issued before: nothing to build.
            self.visited.add(task_id)
            return known
        data = {"args": plain_args, "kwargs": plain_kwargs}
        if declared.idempotent:
            text = _json_text(data, declared.name)
            task_id = self._current(f"{declared.name}@{_digest(text)}")
        elif not _plain(plain_args, plain_kwargs):
            _json_text(data, declared.name)
        if task_id in self.new_inputs:
            data = self.new_inputs[task_id]
        meta: dict[str, JSON] = {"code": "activity", "version": declared.version}
        timers: list[Command] = []
        for which, value in (
            (SCHEDULE_TO_START, declared.schedule_to_start_timeout),
            (SCHEDULE_TO_CLOSE, declared.schedule_to_close_timeout),
        ):
            if value is None:
                continue
            # The engine's workers record their take (TaskStarted) for a task
            # whose meta has this key, as outside workers' takes are recorded.
            meta[f"{which}_timeout"] = value
            timers.append(StartTimer(f"{TIMEOUT_TIMER}{which}:{task_id}", float(value)))
        if declared.priority:
            meta["priority"] = declared.priority
        command = ScheduleTask(
            task_id=task_id,
            name=declared.name,
            action=declared.name,
            input=data,
            meta=meta,
            queue=declared.task_list,
            retry=declared.retry,
            timeout=declared.start_to_close_timeout,
            heartbeat_timeout=declared.heartbeat_timeout,
            external=declared.external,
            priority=declared.priority,
        )
        fresh = task_id not in self.issued and task_id not in self.outcomes
        future = self._issue(task_id, "activity", declared.name, command)
        if fresh:
            self.pending.extend(timers)
        return future

    def timeout_fired(self, timer_id: str) -> list[Command]:
        """A timeout timer fired: time the activity out (and withdraw it) unless it
        already ended, or, for schedule-to-start, a worker took it."""
        which, _, task_id = timer_id[len(TIMEOUT_TIMER) :].partition(":")
        if task_id in self.outcomes or task_id not in self.issued:
            return []
        if which == SCHEDULE_TO_START and task_id in self.started:
            return []
        label = which.replace("_", "-")
        self.record_outcome(
            TaskCompleted(
                task_id=task_id,
                status="timeout",
                error={
                    "type": f"code.{which}_timeout",
                    "message": f"the activity did not {_VERB[which]} in time ({label} timeout)",
                },
            )
        )
        return [CancelTask(task_id)]

    def start_timer(self, seconds: float) -> Future:
        """A future finished ``seconds`` after this decision (a durable timer)."""
        if seconds < 0:
            raise WorkflowUsageError(f"a timer cannot last {seconds} seconds")
        task_id = self._current(self._next_id("timer"))
        return self._issue(task_id, "timer", f"{seconds:g}s", StartTimer(task_id, float(seconds)))

    def start_child(
        self,
        definition: str,
        input: JSON,
        name: str | None = None,
        policy: str = REQUEST_CANCEL,
    ) -> Future:
        """Start an execution of ``definition`` (a registered name or id) as a task.

        ``policy`` says what happens to the child when this execution ends:
        ``request_cancel`` asks it to cancel (its code may clean up),
        ``terminate`` ends it by force (``TerminateRequested``, its code is not
        asked), ``abandon`` lets it run on: it is started detached, and its
        future finishes at once with ``{"execution_id": ...}``.
        """
        if policy not in CHILD_POLICIES:
            raise WorkflowUsageError(
                f"child policy {policy!r} is not one of {', '.join(CHILD_POLICIES)}"
            )
        label = name or definition
        task_id = self._current(self._next_id(f"child:{label}"))
        if policy != ABANDON:
            # The engine reads the policy when this execution ends (terminate or
            # request cancel); recorded only for terminate, so the histories
            # of request-cancel children stay as they were.
            meta: dict[str, JSON] = {"child_policy": TERMINATE} if policy == TERMINATE else {}
            command = StartChild(
                task_id=task_id, name=label, definition=definition, input=input, meta=meta
            )
            return self._issue(task_id, "child", definition, command)
        child_id = abandoned_child_id(str(self.meta.get("execution_id", "")), task_id)
        command = StartChild(
            task_id=task_id,
            name=label,
            definition=definition,
            input=input,
            execution_id=child_id,
            detached=True,
        )
        future = self._issue(task_id, "child", definition, command)
        if task_id not in self.outcomes:
            # Its end is never reported back: it is known started once issued.
            self.record_outcome(TaskCompleted(task_id=task_id, result={"execution_id": child_id}))
        return future

    def continue_as_new(self, input: JSON) -> NoReturn:
        """End this run's code now; the interpreter starts the next run."""
        _json_text(input, "continue_as_new")
        raise ContinueAsNew(input)

    @property
    def workflow_id(self) -> str | None:
        """The workflow id this run was started under (kept along continue-as-new)."""
        if isinstance(self.context, dict) and isinstance(self.context.get("workflow_id"), str):
            return str(self.context["workflow_id"])
        parent = self.meta.get("parent")
        if isinstance(parent, dict) and isinstance(parent.get("workflow_id"), str):
            return str(parent["workflow_id"])
        return None

    def wait_signal(self, name: str) -> Future:
        """A future finished by the next signal ``name`` this run has not read yet."""
        count = self._signal_reads.get(name, 0) + 1
        self._signal_reads[name] = count
        task_id = _signal_id(name, count)
        future = self.futures.get(task_id)
        if future is None:
            future = self.futures[task_id] = Future(task_id, self._suspend)
            received = self.signals.get(name, [])
            if len(received) >= count:
                future.set_result(received[count - 1])
        return future

    def record_marker(self, name: str, details: JSON = None) -> None:
        """Keep ``details`` in history under ``name`` (for people; changes nothing).

        A replay does not record it again: the run counts markers like tasks.
        """
        marker_id = self._next_id(f"marker:{name}")
        self.visited.add(marker_id)
        if marker_id not in self.issued:
            self.issued[marker_id] = Issued(
                marker_id, "marker", name, workflow_call_site(), self.ordinal
            )
            self.pending.append(RecordMarker(kind="code.marker", details={name: details}))

    def patched(self, patch_id: str) -> bool:
        """Whether this execution takes the code path added by patch ``patch_id``.

        New executions (and those that reach the patch after it was deployed)
        take it; an execution whose history was recorded by the old code does
        not: the interpreter finds out by replay (see the interpreter module).
        """
        found = self.patches.get(patch_id)
        if found is None:
            found = self.patches[patch_id] = patch_id not in self.forced_old
            self.pending.append(
                RecordMarker(kind="code.patch", details={"patch": patch_id, "patched": found})
            )
        return found

    def current_time(self) -> float:
        """The time of the decision in which the run first reached this call."""
        self._time_reads += 1
        if self._time_reads > len(self._times):
            self._times.append(self.now)
        return self._times[self._time_reads - 1]

    def random(self) -> float:
        """A float in [0, 1) drawn from the recorded seed (the same on replay)."""
        return int.from_bytes(self._draw()[:7], "big") / float(1 << 56)

    def uuid4(self) -> str:
        """A version-4 UUID as text, drawn from the recorded seed (the same on replay)."""
        raw = bytearray(self._draw()[:16])
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        text = raw.hex()
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    # --- internals -------------------------------------------------------------------------

    def _suspend(self, future: Future) -> None:
        self.suspend(future)

    def _draw(self) -> bytes:
        self._draws += 1
        return hashlib.sha256(f"{self.seed}:{self._draws}".encode()).digest()

    def _current(self, task_id: str) -> str:
        return self.aliases.get(task_id, task_id)

    def _next_id(self, name: str) -> str:
        count = self._counters.get(name, 0) + 1
        self._counters[name] = count
        return f"{name}#{count}"

    def _issue(self, task_id: str, kind: str, label: str, command: Command) -> Future:
        self.visited.add(task_id)
        future = self.futures.get(task_id)
        if future is None:
            future = self.futures[task_id] = Future(task_id, self._suspend)
            outcome = self.outcomes.get(task_id)
            if outcome is not None:
                _settle(future, outcome)
        if task_id not in self.issued:
            self.issued[task_id] = Issued(task_id, kind, label, workflow_call_site(), self.ordinal)
            if task_id not in self.outcomes:
                self.pending.append(command)
        return future


def _starts_work(command: Command) -> bool:
    """Whether ``command`` makes the engine start a task, a child or a timer of the
    workflow's own (a timeout timer travels with its task and is not counted)."""
    if isinstance(command, StartTimer):
        return not command.timer_id.startswith(TIMEOUT_TIMER)
    return isinstance(command, ScheduleTask | StartChild)


def _work_id(command: Command) -> str:
    return command.timer_id if isinstance(command, StartTimer) else getattr(command, "task_id", "")


def _settle(future: Future, event: TaskCompleted) -> None:
    if event.status == "succeeded":
        future.set_result(event.result)
    else:
        future.set_exception(TaskFailed(event.task_id, event.status, event.error))


def _signal_id(name: str, count: int) -> str:
    return f"signal:{name}#{count}"


def _resolved(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    # A future passed as an argument stands for its result: wait for it first.
    return (
        [a.result if isinstance(a, Future) else a for a in args],
        {k: v.result if isinstance(v, Future) else v for k, v in kwargs.items()},
    )


#: ``json.dumps``'s encoder for these options, made once rather than per task.
_SORTED_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"))

#: Ints within this size are written by ``json`` whatever their value (longer
#: ones may pass Python's limit on int-to-text conversion).
_SMALL_INT = 10**18


def _plain(args: list[Any], kwargs: dict[str, Any]) -> bool:
    """Whether every argument is a string, a bool, None, a float or a small int:
    then they are JSON values for sure, and need not be written out to be checked."""
    for value in (*args, *kwargs.values()):
        kind = type(value)
        if kind is int:
            if not -_SMALL_INT < value < _SMALL_INT:
                return False
        elif kind is not str and kind is not float and kind is not bool and value is not None:
            return False
    return True


def _json_text(data: JSON, where: str) -> str:
    # Checked here, in the workflow, so the error names the call: the store
    # would only fail later, far from it.
    try:
        return _SORTED_COMPACT.encode(data)
    except (TypeError, ValueError) as exc:
        raise WorkflowUsageError(
            f"the arguments of {where} must be JSON values (they go into history): {exc}"
        ) from exc


def _digest(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:16]


def _cannot_suspend(future: Future) -> None:
    raise WorkflowUsageError(f"{future!r} cannot be waited for outside a workflow run")
