"""The saga front end (kind ``saga``): YAML/JSON text or Python code in, a
:class:`~.interpreter.SagaInterpreter` out.

* **Text**: a YAML or JSON mapping with ``saga: NAME`` and ``stages`` (see
  :mod:`cadenza.interpreters.saga.graph`); files ending ``.saga.yaml``,
  ``.saga.yml`` or ``.saga.json`` are sagas by name.
* **Code**: a ``CodeReference`` naming a built :class:`~.builder.Saga` (or a
  :class:`~.builder.SagaBuilder`, built here) at a version; the version is
  recorded with each execution.

Engine contract of the interpreter:

* ``ScheduleTask(task_id="<node path>.<do|undo>.<n>", name=<node path>,
  action=<activity>, meta={"saga": "do"|"undo", "node", "attempt"})``; the
  kernel's retry policy reruns an attempt whose worker was lost, the
  interpreter retries failures by the node's own policy (``delay`` = backoff).
* Statuses: ``running``, ``unwinding``, ``stuck`` (waits for an operator),
  final ``succeeded``, ``failed``, ``canceled``, ``abandoned``.
* ``RecordMarker("saga", {saga, version, graph, nodes})`` when an execution
  starts; ``RecordMarker("saga.operator", ...)`` for what an operator did.
* ``ExecutionStarted.context["saga_faults"]``: injected faults (tests; see
  :mod:`cadenza.interpreters.saga.faults`).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

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
    RecordedEvent,
    RerunRequested,
    TaskCompleted,
    TaskScheduled,
)

from .names import FINAL, KIND, OPERATOR_REQUESTS, WAITING

if TYPE_CHECKING:
    from .builder import Saga
    from .interpreter import SagaInterpreter

_SAGA_KEY = re.compile(r"^saga\s*:", re.MULTILINE)
_STAGES_KEY = re.compile(r"^stages\s*:", re.MULTILINE)


class SagaFrontEnd:
    """Sagas: a graph of actions, each with an undo (the ``FrontEnd`` protocol)."""

    kind = KIND
    suffixes: tuple[str, ...] = (".saga.yaml", ".saga.yml", ".saga.json")
    #: A saga's parameters may be any JSON value (``params`` names the keys an
    #: object must have, when a saga declares them).
    input_must_be_object = False
    final_statuses: frozenset[str] = FINAL
    waiting_statuses: frozenset[str] = WAITING
    operator_requests: Mapping[str, str] = OPERATOR_REQUESTS
    snapshots = SnapshotPolicy(enabled=True, every=64, share=0.25)

    def recognize(self, source: DefinitionSource) -> Recognition:
        """Sure for text with top-level ``saga:`` and ``stages:`` keys, and for a
        code reference that names a ``Saga`` or ``SagaBuilder``."""
        if isinstance(source, CodeReference):
            try:
                _import_saga(source, None)
            except Exception:  # not importable, or not a saga: not ours to judge
                return Recognition.NO
            return Recognition.YES
        if source.lstrip().startswith("{"):
            try:
                document = json.loads(source)
            except ValueError:
                # Broken JSON that looks like a saga: its author gets the JSON error.
                looks = '"saga"' in source and '"stages"' in source
                return Recognition.YES if looks else Recognition.NO
            is_saga = isinstance(document, dict) and "saga" in document and "stages" in document
            return Recognition.YES if is_saga else Recognition.NO
        if _SAGA_KEY.search(source) and _STAGES_KEY.search(source):
            return Recognition.YES
        return Recognition.NO

    def compile(self, source: DefinitionSource, *, origin: str | None = None) -> SagaInterpreter:
        """Read and check ``source``; ``DefinitionError`` lists every problem."""
        # Imported here: detection loads every front end, and a process that
        # never compiles a saga should not pay for the interpreter.
        from .graph import build_graph
        from .interpreter import SagaInterpreter

        if isinstance(source, CodeReference):
            saga = _import_saga(source, origin)
            graph = dataclasses.replace(saga.graph, version=source.version)
            return SagaInterpreter(graph)
        return SagaInterpreter(build_graph(_load_text(source, origin), origin))

    def rerun_event(self, request: RerunRequest) -> RerunRequested:
        """A saga is all-or-nothing: it is never rerun; start a new one."""
        raise InputError("a saga is not rerun: it completed or was unwound; start a new one")

    def answer(self, task: PendingTask, answer: TaskAnswer) -> TaskCompleted:
        """An answered task ends with the answer as its result (or as its failure)."""
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
        """``saga-log``: the history as a saga log (per node: started, succeeded,
        failed, undo_started, undo_finished, undo_failed)."""
        return {"saga-log": saga_log}


def saga_log(history: Sequence[RecordedEvent]) -> JSON:
    """``[{"seq", "node", "event", ...}]``: Steno's six node events, read from history.

    A retried action or undo shows as another ``started`` (or ``undo_started``)
    after its ``failed`` (or ``undo_failed``); only the last attempt decides.
    """
    sides: dict[str, tuple[str, str]] = {}
    log: list[dict[str, JSON]] = []
    for recorded in history:
        event = recorded.event
        if isinstance(event, TaskScheduled) and "saga" in event.meta:
            side, node = str(event.meta["saga"]), str(event.meta.get("node", event.name))
            sides[event.task_id] = (side, node)
            name = "started" if side == "do" else "undo_started"
            log.append({"seq": recorded.seq, "node": node, "event": name})
        elif isinstance(event, TaskCompleted) and event.task_id in sides:
            side, node = sides[event.task_id]
            ok = event.status == "succeeded"
            if side == "do":
                entry: dict[str, JSON] = {"event": "succeeded" if ok else "failed"}
                entry["output" if ok else "error"] = event.result if ok else event.error
            else:
                entry = {"event": "undo_finished" if ok else "undo_failed"}
                if not ok:
                    entry["error"] = event.error
            log.append({"seq": recorded.seq, "node": node, **entry})
    return log


def _load_text(text: str, origin: str | None) -> JSON:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            line = getattr(exc, "lineno", None)
            raise DefinitionLoadError(
                problems=[Problem("", f"not valid JSON: {exc}", line=line)], source=origin
            ) from exc
    import yaml

    from cadenza.model.yaml_documents import safe_load_bounded

    try:
        return safe_load_bounded(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise DefinitionLoadError(
            problems=[Problem("", f"not valid YAML: {exc}", line=line)], source=origin
        ) from exc


def _import_saga(reference: CodeReference, origin: str | None) -> Saga:
    # Imported here: only code references need the builder, and detection
    # loads every front end, in processes that mostly see text definitions.
    from .builder import Saga, SagaBuilder

    where = origin or str(reference)
    try:
        target: Any = importlib.import_module(reference.module)
        for part in reference.qualname.split("."):
            target = getattr(target, part)
    except Exception as exc:  # any failure of the user's module is a problem of the definition
        raise DefinitionLoadError(
            problems=[Problem("", f"cannot load {reference.target}: {type(exc).__name__}: {exc}")],
            source=where,
        ) from exc
    if isinstance(target, SagaBuilder):
        target = target.build()
    if not isinstance(target, Saga):
        raise DefinitionLoadError(
            problems=[
                Problem(
                    "",
                    f"{reference.target} is {type(target).__name__}, not a Saga "
                    "(build one with SagaBuilder)",
                )
            ],
            source=where,
        )
    return target


def create(settings: FrontEndSettings) -> SagaFrontEnd:
    """The ``cadenza.front_ends`` entry point. No setting applies to sagas."""
    return SagaFrontEnd()
