"""The toml-steps front end: what Cadenza's engine, CLI and API ask of a language.

Registered under the ``cadenza.front_ends`` entry-point group as
``toml-steps = cadenza_toml_steps:create`` (see this package's
``pyproject.toml``); Cadenza names it nowhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
from cadenza.model.errors import InputError
from cadenza.model.events import (
    JSON,
    RecordedEvent,
    RerunRequested,
    TaskCanceled,
    TaskCompleted,
    TaskScheduled,
    TaskSuspended,
)

from .definition import STEPS_HEADER, read_code, read_text
from .interpreter import FINAL, KIND, TomlStepsInterpreter


class TomlStepsFrontEnd:
    """A linear list of steps written in TOML (the ``FrontEnd`` protocol)."""

    kind = KIND
    suffixes: tuple[str, ...] = (".steps.toml",)
    input_must_be_object = True
    final_statuses: frozenset[str] = FINAL
    #: Paused by an operator, or waiting for an answer to a step: either way
    #: nothing happens until someone acts (resume, respond).
    waiting_statuses: frozenset[str] = frozenset({"paused"})
    #: The state is small: save it often, so a restarted process replays little.
    snapshots = SnapshotPolicy(enabled=True, every=8, share=0.25)

    def recognize(self, source: DefinitionSource) -> Recognition:
        """Sure for text with a ``[[steps]]`` table (even broken TOML, so that its
        author gets the TOML error); a code reference carries no text to judge."""
        if isinstance(source, str) and STEPS_HEADER.search(source):
            return Recognition.YES
        return Recognition.NO

    def compile(
        self, source: DefinitionSource, *, origin: str | None = None
    ) -> TomlStepsInterpreter:
        """Read and check ``source``; ``DefinitionError`` lists every problem."""
        if isinstance(source, CodeReference):
            return TomlStepsInterpreter(read_code(source, origin))
        return TomlStepsInterpreter(read_text(source, origin))

    def rerun_event(self, request: RerunRequest) -> RerunRequested:
        """A rerun starts again from the step that failed; nothing else is offered."""
        if request.steps:
            raise InputError(
                "a toml-steps execution reruns from the step that failed; it cannot "
                f"start from named steps ({', '.join(request.steps)})"
            )
        if request.options:
            raise InputError(
                f"a toml-steps rerun takes no options (got {', '.join(sorted(request.options))})"
            )
        return RerunRequested(tasks=[])

    def answer(self, task: PendingTask, answer: TaskAnswer) -> TaskCompleted:
        """The answer to a waiting step is that step's result (or its failure)."""
        if answer.failed:
            return TaskCompleted(
                task_id=task.task_id,
                status="failed",
                result=answer.result,
                error={"type": "answer.failed", "message": f"{task.name!r} was answered: failed"},
                attempt=task.attempt,
            )
        return TaskCompleted(
            task_id=task.task_id, status="succeeded", result=answer.result, attempt=task.attempt
        )

    def history_views(self) -> Mapping[str, HistoryView]:
        """``steps``: each step run, in order, with its latest status."""
        return {"steps": steps_view}


def steps_view(history: Sequence[RecordedEvent]) -> JSON:
    """``[{"name", "status"}]`` for every task the history scheduled, in order.

    A rerun step appears once per run (``failed``, then ``succeeded``).
    """
    runs: dict[str, dict[str, str]] = {}
    for recorded in history:
        event = recorded.event
        if isinstance(event, TaskScheduled):
            runs[event.task_id] = {"name": event.name, "status": "scheduled"}
        elif isinstance(event, TaskCompleted) and event.task_id in runs:
            runs[event.task_id]["status"] = event.status
        elif isinstance(event, TaskSuspended) and event.task_id in runs:
            runs[event.task_id]["status"] = "waiting"
        elif isinstance(event, TaskCanceled) and event.task_id in runs:
            runs[event.task_id]["status"] = "canceled"
    return list(runs.values())


def create(settings: FrontEndSettings) -> TomlStepsFrontEnd:
    """The ``cadenza.front_ends`` entry point. No setting applies to this language."""
    return TomlStepsFrontEnd()
