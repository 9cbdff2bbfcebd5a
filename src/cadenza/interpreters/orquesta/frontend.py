"""The Orquesta front end: definition text in, :class:`OrquestaInterpreter` out.

``OrquestaFrontEnd().compile(source)`` loads and inspects the definition with
:mod:`cadenza.interpreters.orquesta.validation` (raising ``DefinitionError`` with every
problem) and returns an interpreter over the typed definition.

Engine contract of the interpreter (see :mod:`.interpreter` for details):

* task ids are ``"<task>.<route>.<run>[.<item>]"``; ``ScheduleTask.meta`` carries
  ``route``, ``run`` and, for with-items tasks, ``item_id``, ``items_count`` and
  ``concurrency``;
* an action-less task is scheduled with ``action=None``; a with-items task over an empty
  list is scheduled once with ``action=None`` and ``meta["items_count"] == 0``; the
  engine answers both with ``TaskCompleted(status="succeeded")`` (the interpreter uses
  ``[]`` as the empty with-items result);
* responding to a pending task is a ``TaskCompleted`` for its task id.

``context_names`` are the keys of the parent context executions will get (inspection
treats them as assigned, and ``st2`` always); ``datastore`` answers ``st2kv()`` before
the values the engine recorded from its store (:mod:`.datastore_reads`);
``secret_key`` decrypts encrypted ones; ``actions`` is the metadata
of actions workflows call (StackStorm packs, see :mod:`.actions`): their parameters are
checked at inspection and defaulted when scheduled, and workflow actions run as child
executions (``StartChild``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from cadenza.interpreters.orquesta.actions import ActionCatalog, ActionSpec
from cadenza.interpreters.orquesta.inquiry import (
    ANSWERED_FAILURE,
    INQUIRY_META,
    answered,
    problems,
    question,
)
from cadenza.interpreters.protocol import (
    ActionUse,
    Decrypter,
    FrontEndSettings,
    HistoryView,
    PendingTask,
    Recognition,
    RerunRequest,
    SnapshotPolicy,
    TaskAnswer,
)
from cadenza.model.definitions import CodeReference, DefinitionSource
from cadenza.model.errors import DefinitionError, InputError
from cadenza.model.events import JSON, RerunRequested, TaskCompleted
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES, ExecutionStatus

if TYPE_CHECKING:
    from cadenza.interpreters.orquesta.interpreter import OrquestaInterpreter
    from cadenza.interpreters.orquesta.validation import OrquestaDefinition

#: A top-level key only an Orquesta workflow has at the start of a line.
_ORQUESTA_KEYS = re.compile(r"^(tasks|version)\s*:", re.MULTILINE)

#: Rerun options this front end understands.
_RERUN_OPTIONS = frozenset({"reset_items"})


class OrquestaFrontEnd:
    """Compiles Orquesta YAML into interpreters (``FrontEnd`` protocol)."""

    kind = "orquesta"
    suffixes: tuple[str, ...] = ()
    input_must_be_object = True
    final_statuses: frozenset[str] = FINAL_EXECUTION_STATUSES
    #: A paused workflow waits for ``resume`` (or for an answer to ``core.ask``).
    waiting_statuses: frozenset[str] = frozenset({ExecutionStatus.PAUSED})
    snapshots = SnapshotPolicy()

    def __init__(
        self,
        context_names: Iterable[str] = (),
        datastore: Mapping[str, Any] | None = None,
        actions: Iterable[ActionSpec] = (),
        secret_key: Decrypter | None = None,
    ) -> None:
        self.context_names = tuple(context_names)
        self.datastore = dict(datastore or {})
        #: Decrypts encrypted datastore values for ``st2kv(key, decrypt=true)``.
        self.secret_key = secret_key
        self.catalog = ActionCatalog()
        self.catalog.add(*actions)

    def add_actions(self, *specs: ActionSpec) -> None:
        """Know the metadata ``specs`` in definitions compiled from now on."""
        self.catalog.add(*specs)

    def recognize(self, source: DefinitionSource) -> Recognition:
        """Sure for YAML with a top-level ``tasks:`` or ``version:``; otherwise any
        text may be Orquesta YAML with a mistake in it."""
        if isinstance(source, CodeReference):
            return Recognition.NO
        if _ORQUESTA_KEYS.search(source):
            return Recognition.YES
        return Recognition.POSSIBLY

    def compile(
        self, source: DefinitionSource, *, origin: str | None = None
    ) -> OrquestaInterpreter:
        """Load, check and compile ``source``; raises ``DefinitionError`` if invalid."""
        if isinstance(source, CodeReference):
            raise InputError(
                f"an Orquesta workflow is YAML text, not Python code ({source})", kind=self.kind
            )
        # Imported here: detection loads every front end, and a process that
        # never compiles a workflow should not pay for YAQL and Jinja.
        from cadenza.interpreters.orquesta.validation import (
            inspect_definition,
            parse_definition,
        )
        from cadenza.interpreters.orquesta.validation.action_inputs import (
            action_input_problems,
        )

        definition = parse_definition(source, origin=origin)
        # StackStorm gives every workflow its context as ``ctx().st2``.
        names = (*self.context_names, *(() if "st2" in self.context_names else ("st2",)))
        problems = inspect_definition(definition, context_names=names)
        problems += [
            p if p.line is not None else replace(p, line=definition.line_of(p.spec_path))
            for p in action_input_problems(definition, self.catalog)
        ]
        if problems:
            raise DefinitionError(problems=sorted(problems), source=origin)
        return self._interpreter(definition)

    def compile_checked(
        self, source: DefinitionSource, *, origin: str | None = None
    ) -> OrquestaInterpreter:
        """Compile a definition that ``compile`` checked when it was registered,
        without checking it again (no schema, semantic or expression checks)."""
        from cadenza.interpreters.orquesta.validation import parse_definition

        if isinstance(source, CodeReference):
            return self.compile(source, origin=origin)
        return self._interpreter(parse_definition(source, origin=origin))

    def _interpreter(self, definition: OrquestaDefinition) -> OrquestaInterpreter:
        from cadenza.expressions.syntax import has_expressions
        from cadenza.interpreters.orquesta.interpreter import OrquestaInterpreter

        uses = [
            ActionUse(
                task.action, f"tasks.{name}.action", definition.line_of(f"tasks.{name}.action")
            )
            for name, task in definition.tasks.items()
            if task.action is not None
            and not has_expressions(task.action)
            # A workflow action runs as a child execution: no worker provides it.
            and not _runs_child(self.catalog.get(task.action))
        ]
        decrypt = self.secret_key.decrypt if self.secret_key is not None else None
        return OrquestaInterpreter(definition, self.datastore, uses, self.catalog, decrypt)

    def rerun_event(self, request: RerunRequest) -> RerunRequested:
        """Rerun from the failed tasks, or from ``steps`` (task names);
        ``options["reset_items"]`` reruns every item of with-items tasks."""
        unknown = sorted(set(request.options) - _RERUN_OPTIONS)
        if unknown:
            raise InputError(
                f"unknown rerun option(s) for an Orquesta workflow: {', '.join(unknown)} "
                f"(known: {', '.join(sorted(_RERUN_OPTIONS))})"
            )
        reset_items = bool(request.options.get("reset_items", False))
        return RerunRequested(
            tasks=[
                {"task_id": step, "route": 0, "reset_items": reset_items} for step in request.steps
            ]
        )

    def answer(self, task: PendingTask, answer: TaskAnswer) -> TaskCompleted:
        """An answer to a ``core.ask`` task must fit the JSON ``schema`` it asked with
        (StackStorm's default question when none), and the task's result becomes
        StackStorm's: the question's fields with the answer under ``response``."""
        inquiry = bool(task.meta.get(INQUIRY_META))
        if answer.failed:
            return TaskCompleted(
                task_id=task.task_id,
                status="failed",
                result=answer.result,
                error={"type": ANSWERED_FAILURE, "message": "failed by response"},
                attempt=task.attempt,
            )
        _check_answer(task, answer.result, inquiry)
        result = answered(task.input, answer.result) if inquiry else answer.result
        return TaskCompleted(
            task_id=task.task_id, status="succeeded", result=result, attempt=task.attempt
        )

    def history_views(self) -> Mapping[str, HistoryView]:
        """Orquesta offers no view beyond the history itself."""
        return {}


def create(settings: FrontEndSettings) -> OrquestaFrontEnd:
    """The ``cadenza.front_ends`` entry point."""
    return OrquestaFrontEnd(secret_key=settings.secret_key)


def _runs_child(spec: ActionSpec | None) -> bool:
    return spec is not None and spec.runs_child


def _check_answer(task: PendingTask, answer: JSON, inquiry: bool) -> None:
    """A wrong answer is refused with every problem, and the task keeps waiting."""
    schema = task.input.get("schema") if isinstance(task.input, Mapping) else None
    if inquiry:
        schema = question(task.input)["schema"]
    if not isinstance(schema, Mapping) or not schema:
        return
    found = problems(schema, answer)
    if found:
        raise InputError(
            f"the answer to task {task.name!r} does not fit its schema: " + "; ".join(found),
            problems=found,
        )
