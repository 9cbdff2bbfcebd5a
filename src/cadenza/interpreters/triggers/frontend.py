"""The triggers front end: workspaces, DAGs and state machines in, interpreters out.

Registered under the ``cadenza.front_ends`` entry-point group as ``triggers``.
A definition is YAML or JSON: a workspace (top-level ``triggers:``, see
:mod:`cadenza.interpreters.triggers.model`), a DAG (top-level ``dag:``, see
:mod:`cadenza.interpreters.triggers.dag`) or a state machine (top-level
``statemachine:``, see :mod:`cadenza.interpreters.triggers.statemachine`).
A workspace runs until an action ends it (``TERMINATE``/``FAIL``) or it is
canceled; events reach it from the event sources of :mod:`cadenza.triggers`
or from ``Engine.signal``.
"""

from __future__ import annotations

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
from cadenza.interpreters.triggers.functions import TriggerFunctions, import_function
from cadenza.interpreters.triggers.names import KIND
from cadenza.model.definitions import CodeReference, DefinitionSource
from cadenza.model.errors import DefinitionLoadError, InputError, Problem
from cadenza.model.events import JSON, RecordedEvent, RerunRequested, TaskCompleted
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES

if TYPE_CHECKING:
    from cadenza.interpreters.triggers.interpreter import TriggersInterpreter

__all__ = ["TriggersFrontEnd", "create"]

_TOP_LEVEL = re.compile(r"^(triggers|dag|workspace|statemachine)\s*:", re.MULTILINE)

#: Operator requests a workspace takes (``Engine.operator_request``).
OPERATOR_REQUESTS: Mapping[str, str] = {
    "replay-dead-letters": "offer the dead letters again (args: subject, type to select some)",
    "add-trigger": "add a trigger to the running workspace (args: trigger)",
    "remove-trigger": "remove a trigger from the running workspace (args: id)",
}


class TriggersFrontEnd:
    """Trigger workspaces and DAGs compiled onto triggers (the ``FrontEnd`` protocol)."""

    kind = KIND
    suffixes: tuple[str, ...] = (
        ".triggers.yaml",
        ".triggers.yml",
        ".triggers.json",
        ".dag.yaml",
        ".sm.yaml",
    )
    #: The input becomes the data of the ``__init__`` event: any JSON value.
    input_must_be_object = False
    final_statuses: frozenset[str] = FINAL_EXECUTION_STATUSES
    waiting_statuses: frozenset[str] = frozenset()
    #: A workspace's history grows by one entry per delivered batch; its state
    #: (deduplication keys included) can be large, so save it rarely.
    snapshots = SnapshotPolicy(enabled=True, every=256, share=0.5)
    operator_requests = OPERATOR_REQUESTS

    def __init__(self, functions: TriggerFunctions | None = None) -> None:
        self.functions = functions or TriggerFunctions()

    def recognize(self, source: DefinitionSource) -> Recognition:
        """Sure for text with a top-level ``triggers:``, ``dag:``, ``statemachine:``
        or ``workspace:`` (YAML), or a JSON object with one of those keys."""
        if isinstance(source, CodeReference):
            return Recognition.NO
        text = source.lstrip()
        if text.startswith("{"):
            try:
                document = json.loads(text)
            except ValueError:
                return Recognition.NO
            keys = {"triggers", "dag", "statemachine"}
            found = isinstance(document, dict) and bool(keys & set(document))
            return Recognition.YES if found else Recognition.NO
        return Recognition.YES if _TOP_LEVEL.search(source) else Recognition.NO

    def compile(
        self, source: DefinitionSource, *, origin: str | None = None
    ) -> TriggersInterpreter:
        """Read and check ``source``; ``DefinitionError`` lists every problem."""
        # Imported here: detection loads every front end, and a process that
        # never compiles a workspace should not pay for the interpreter.
        import yaml

        from cadenza.interpreters.triggers.builtins import ACTIONS, CONDITIONS
        from cadenza.interpreters.triggers.dag import read_dag
        from cadenza.interpreters.triggers.decision import Functions
        from cadenza.interpreters.triggers.interpreter import TriggersInterpreter
        from cadenza.interpreters.triggers.model import raise_if, read_document
        from cadenza.interpreters.triggers.statemachine import read_statemachine
        from cadenza.model.yaml_documents import safe_load_bounded

        if isinstance(source, CodeReference):
            raise InputError(f"a trigger workspace is YAML or JSON text, not code ({source})")
        try:
            # JSON is YAML, but a large generated workspace parses far faster as JSON.
            document = json.loads(source) if source.lstrip().startswith("{") else None
        except ValueError:
            document = None
        try:
            if document is None:
                document = safe_load_bounded(source)
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            problem = Problem("", f"not valid YAML: {exc}", line=None if line is None else line + 1)
            raise DefinitionLoadError(problems=[problem], source=origin) from exc
        known = set(CONDITIONS) | set(ACTIONS)
        known |= set(self.functions.conditions) | set(self.functions.actions)
        imported: dict[str, Any] = {}

        def load(reference: str) -> str | None:
            try:
                imported[reference] = import_function(reference)
            except Exception as exc:  # any failure of the user's module is the definition's
                return f"cannot load it: {type(exc).__name__}: {exc}"
            return None

        if isinstance(document, Mapping) and "dag" in document:
            workspace, problems = read_dag(document)
        elif isinstance(document, Mapping) and "statemachine" in document:
            workspace, problems = read_statemachine(document)
        else:
            workspace, problems = read_document(document, known, load=load)
        conditions = {**CONDITIONS, **self.functions.conditions, **imported}
        actions = {**ACTIONS, **self.functions.actions, **imported}
        raise_if(problems, origin)
        return TriggersInterpreter(workspace, Functions(conditions, actions))

    def rerun_event(self, request: RerunRequest) -> RerunRequested:
        """A workspace is not rerun: replay its dead letters or start a new one."""
        raise InputError(
            "a trigger workspace cannot be rerun: replay its dead letters "
            "(operator request replay-dead-letters) or start a new workspace"
        )

    def answer(self, task: PendingTask, answer: TaskAnswer) -> TaskCompleted:
        """A waiting task ends with the answer as its result (or as its failure)."""
        if answer.failed:
            error = {"type": "triggers.answered_failed", "message": "failed by response"}
            return TaskCompleted(task.task_id, "failed", answer.result, error, task.attempt)
        return TaskCompleted(task.task_id, "succeeded", answer.result, None, task.attempt)

    def history_views(self) -> Mapping[str, HistoryView]:
        """``changes`` (interception), ``dead-letters``, ``timeouts``, ``errors``:
        the workspace's markers of that kind, in order."""
        return {
            "changes": _markers("triggers.change"),
            "dead-letters": _markers("triggers.dead_letter"),
            "timeouts": _markers("triggers.timeout"),
            "errors": _markers("triggers.error"),
        }


def _markers(kind: str) -> HistoryView:
    def view(history: Sequence[RecordedEvent]) -> JSON:
        out: list[dict[str, Any]] = []
        for recorded in history:
            event = recorded.event
            if event.type == "MarkerRecorded" and getattr(event, "kind", None) == kind:
                out.append(
                    {"seq": recorded.seq, "time": recorded.time, **event.payload()["details"]}
                )
        return out

    return view


def create(settings: FrontEndSettings) -> TriggersFrontEnd:
    """The ``cadenza.front_ends`` entry point."""
    return TriggersFrontEnd()
