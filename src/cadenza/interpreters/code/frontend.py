"""The ``code`` front end: workflows written as Python, found by reference.

A definition is a :class:`~cadenza.model.definitions.CodeReference`
(``package.module:Name`` at a version): ``Name`` is a ``Workflow`` subclass
or a function taking a ``WorkflowContext`` first (``def`` or ``async def``).
The module is imported when the definition is compiled (at registration, and
once per process that decides for it). Snapshots are off: running code
cannot be written down, so a cold decider replays the history (see the
interpreter module for why that stays linear).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cadenza.interpreters.code.names import (
    BATCH_TIMER,
    FINAL,
    KIND,
    NEW_INPUT,
    NONDETERMINISTIC,
    PAUSED,
    REPLAY_REQUEST,
    STUCK_TIMER,
    TIMEOUT_TIMER,
    UNSTUCK_TIMER,
)
from cadenza.interpreters.protocol import (
    FrontEndSettings,
    HistoryView,
    PendingTask,
    Recognition,
    RerunRequest,
    SnapshotPolicy,
    TaskAnswer,
)
from cadenza.model.definitions import CodeReference, DefinitionSource
from cadenza.model.errors import DefinitionLoadError, InputError, Problem
from cadenza.model.events import (
    JSON,
    ChildStarted,
    RecordedEvent,
    RerunRequested,
    TaskCanceled,
    TaskCompleted,
    TaskScheduled,
    TimerFired,
    TimerStarted,
)

if TYPE_CHECKING:
    from cadenza.interpreters.code.interpreter import CodeInterpreter


class CodeFrontEnd:
    """Python workflows replayed from history (the ``FrontEnd`` protocol)."""

    kind = KIND
    suffixes: tuple[str, ...] = ()
    input_must_be_object = False
    final_statuses: frozenset[str] = FINAL
    #: Paused by an operator, or stopped because the code no longer matches
    #: history (an operator fixes the code and sends the ``replay`` request).
    waiting_statuses: frozenset[str] = frozenset({PAUSED, NONDETERMINISTIC})
    snapshots = SnapshotPolicy(enabled=False)
    operator_requests: Mapping[str, str] = {
        REPLAY_REQUEST: (
            "replay the history through the workflow code as it is now and go on if it "
            "agrees (after fixing a nondeterministic execution)"
        ),
    }

    def recognize(self, source: DefinitionSource) -> Recognition:
        """Sure for an importable reference to a ``Workflow`` subclass or a
        function; text is never this language."""
        if not isinstance(source, CodeReference):
            return Recognition.NO
        try:
            target = _resolve(source)
        except Exception:
            # Not importable here: it may be another language's reference (or a
            # typo, which ``compile`` explains once the kind is named).
            return Recognition.NO
        if inspect.isfunction(target):
            return Recognition.YES
        if isinstance(target, type):
            # Imported here: detection loads every front end, and most sources
            # it is asked about are not code references to a class.
            from cadenza.interpreters.code.workflow import Workflow

            return Recognition.YES if issubclass(target, Workflow) else Recognition.NO
        return Recognition.NO

    def compile(self, source: DefinitionSource, *, origin: str | None = None) -> CodeInterpreter:
        """Import the referenced workflow; ``DefinitionLoadError`` says what is wrong."""
        # Imported here: detection loads every front end, and a process that
        # never compiles a code workflow should not pay for the interpreter.
        from cadenza.interpreters.code.interpreter import CodeInterpreter
        from cadenza.interpreters.code.workflow import Workflow, workflow_entry

        where = origin or str(source)
        if not isinstance(source, CodeReference):
            raise DefinitionLoadError(
                problems=[
                    Problem(
                        "",
                        "a code workflow is registered by reference "
                        "(CodeReference('package.module:Class', version)), not as text",
                    )
                ],
                source=where,
            )
        try:
            target = _resolve(source)
        except Exception as exc:  # the user's module failing to import is a definition problem
            raise DefinitionLoadError(
                problems=[
                    Problem("", f"cannot load {source.target!r}: {type(exc).__name__}: {exc}")
                ],
                source=where,
            ) from exc
        if isinstance(target, type) and issubclass(target, Workflow):
            run = getattr(target, "run", None)
            if run is None or run is Workflow.run:
                raise DefinitionLoadError(
                    problems=[Problem("", f"{source.target} does not define run()")], source=where
                )
            return CodeInterpreter(
                source.target,
                workflow_entry(target, is_class=True),
                inspect.iscoroutinefunction(run),
            )
        if inspect.isfunction(target):
            return CodeInterpreter(
                source.target,
                workflow_entry(target, is_class=False),
                inspect.iscoroutinefunction(target),
            )
        raise DefinitionLoadError(
            problems=[
                Problem(
                    "",
                    f"{source.target} is {type(target).__name__}: expected a Workflow subclass "
                    "or a function taking a WorkflowContext",
                )
            ],
            source=where,
        )

    def rerun_event(self, request: RerunRequest) -> RerunRequested:
        """Rerun a finished execution: ``steps`` are task ids (``pkg.mod.act#2``);
        each runs again with every task issued after it. Without steps, the
        tasks that did not succeed run again. Other results are reused.

        ``options["input"]`` (with exactly one step, an activity) is that
        activity's new input, read as an execution input is: a JSON object
        gives keyword arguments, a list positional ones, another value one."""
        unknown = sorted(set(request.options) - {NEW_INPUT})
        if unknown:
            raise InputError(
                f"unknown rerun option(s) for a code workflow: {', '.join(unknown)} "
                f"(known: {NEW_INPUT})"
            )
        tasks: list[dict[str, JSON]] = [{"task_id": step} for step in request.steps]
        if NEW_INPUT in request.options:
            if len(tasks) != 1:
                raise InputError(
                    "a code rerun with a new input names exactly one task, the activity "
                    f"that takes it (got {len(tasks)})"
                )
            tasks[0][NEW_INPUT] = request.options[NEW_INPUT]
        return RerunRequested(tasks=tasks)

    def answer(self, task: PendingTask, answer: TaskAnswer) -> TaskCompleted:
        """Code workflow tasks never wait for a person's answer."""
        raise InputError(f"task {task.task_id!r} of a code workflow does not wait for an answer")

    def history_views(self) -> Mapping[str, HistoryView]:
        """``tasks``: each task the workflow issued (activity, timer, child) with its
        latest status and result."""
        return {"tasks": tasks_view}


def tasks_view(history: Sequence[RecordedEvent]) -> JSON:
    """``[{"task_id", "kind", "name", "status", "result"}]`` in the order issued."""
    tasks: dict[str, dict[str, JSON]] = {}
    for recorded in history:
        event = recorded.event
        if isinstance(event, TaskScheduled):
            tasks[event.task_id] = _row(event.task_id, "activity", event.name)
        elif isinstance(event, ChildStarted):
            tasks[event.task_id] = _row(event.task_id, "child", event.definition)
        elif isinstance(event, TimerStarted) and not event.timer_id.startswith(_OWN_TIMERS):
            tasks[event.timer_id] = _row(event.timer_id, "timer", f"{event.delay:g}s")
        elif isinstance(event, TaskCompleted) and event.task_id in tasks:
            tasks[event.task_id].update(status=event.status, result=event.result)
        elif isinstance(event, TimerFired) and event.timer_id in tasks:
            tasks[event.timer_id]["status"] = "fired"
        elif isinstance(event, TaskCanceled) and event.task_id in tasks:
            tasks[event.task_id]["status"] = "canceled"
    return list(tasks.values())


#: Timers the interpreter starts for itself, not tasks of the workflow.
_OWN_TIMERS = (STUCK_TIMER, UNSTUCK_TIMER, TIMEOUT_TIMER, BATCH_TIMER)


def _row(task_id: str, kind: str, name: str) -> dict[str, JSON]:
    return {"task_id": task_id, "kind": kind, "name": name, "status": "scheduled", "result": None}


def _resolve(reference: CodeReference) -> Any:
    target: Any = importlib.import_module(reference.module)
    for part in reference.qualname.split("."):
        target = getattr(target, part)
    return target


def create(settings: FrontEndSettings) -> CodeFrontEnd:
    """The ``cadenza.front_ends`` entry point; no setting applies to this language."""
    return CodeFrontEnd()
