"""Results over the store's ceilings fail their step, once and for good.

An activity that returns more than ``PayloadLimits.max_value_bytes`` would
return as much on every retry, and one whose large result would take its
execution's stored payload past ``max_execution_bytes`` (any result, small or
large) likewise; so such an
attempt becomes a non-retryable failure of type ``payload.too_large`` whose
message names the task and the size. The
oversized result itself is dropped: nothing of it reaches history, and the
workflow handles the failure like any other (its error handling, or the
execution fails).

Limits can also be narrowed for the executions of one definition
(``DefinitionLimits``, held by an engine in ``LimitsByDefinition``): a
smaller expression budget for its decisions, smaller ceilings for its input
and its tasks' results. They are the operator's, given to the engine
(``Engine(definition_limits=...)``, ``cadenza run|worker|server --limits FILE``),
not written in the definition: Orquesta's and the States language's schemas
refuse keys of their own, a definition stays valid for StackStorm and Step
Functions, and an author cannot raise what the operator set. A worker learns
which definition a task's execution runs from the task's meta
(``definition_id``, put there by the decision that scheduled it), so holding a
result to its definition's ceilings costs no read.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from cadenza.expressions import budget as expression_budget
from cadenza.expressions.budget import ExpressionBudget
from cadenza.model.errors import (
    DefinitionNotFound,
    ExecutionNotFound,
    InputError,
    PayloadTooLarge,
)
from cadenza.model.events import JSON
from cadenza.model.yaml_documents import safe_load_bounded
from cadenza.store.payloads import PayloadLimits, too_large
from cadenza.store.protocol import DecideFn, Store
from cadenza.store.records import DecisionResult, DecisionWork, DefinitionRecord, TaskRecord
from cadenza.workers.outcome import ActivityFailure, ActivityOutcome, OutcomeStatus

#: The error type of an attempt whose result was over the ceiling.
PAYLOAD_TOO_LARGE = PayloadTooLarge.code

#: The task meta key naming the definition of the task's execution.
TASK_DEFINITION_ID = "definition_id"


def bounded_outcome(
    task: TaskRecord,
    outcome: ActivityOutcome,
    limits: PayloadLimits,
    stored_bytes: Callable[[str], int],
) -> ActivityOutcome:
    """``outcome``, or a non-retryable failure when its result is over a ceiling.

    ``stored_bytes(execution_id)`` is what the execution keeps already; every
    result is checked (a store answers from the total its claim of the task
    brought, without another read).
    """
    if outcome.result is None:
        return outcome
    try:
        where = f"the result of task {task.name!r} ({task.task_id})"
        size = limits.check(outcome.result, where)
        total = stored_bytes(task.execution_id) + size
        if total > limits.max_execution_bytes:
            raise too_large(
                f"the stored payload of execution {task.execution_id} with {where}",
                total,
                limits.max_execution_bytes,
                "max_execution_bytes",
            )
    except PayloadTooLarge as exc:
        return ActivityOutcome(
            OutcomeStatus.FAILED,
            None,
            ActivityFailure(PAYLOAD_TOO_LARGE, exc.message, non_retryable=True),
        )
    return outcome


# --- limits of one definition -----------------------------------------------------

#: The fields of ``DefinitionLimits``: the expression budget's, then the ceilings'.
_BUDGET_FIELDS = ("cpu_seconds", "max_bytes", "max_items")
_PAYLOAD_FIELDS = ("max_value_bytes", "max_execution_bytes")


@dataclass(frozen=True)
class DefinitionLimits:
    """Limits for the executions of one definition, below the engine's own.

    Each field left None is the engine's. ``cpu_seconds``, ``max_bytes`` and
    ``max_items`` narrow the expression budget of every decision of those
    executions; ``max_value_bytes`` and ``max_execution_bytes`` narrow the
    store's payload ceilings (an execution's input is checked against
    ``max_value_bytes`` when it starts, each task's result against both when it
    is saved). None may be above the engine's: an engine refuses such
    limits when it is made (``input.invalid``), and a decision never uses more
    than the engine allows, whatever was configured.
    """

    cpu_seconds: float | None = None
    max_bytes: int | None = None
    max_items: int | None = None
    max_value_bytes: int | None = None
    max_execution_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in (*_BUDGET_FIELDS, *_PAYLOAD_FIELDS):
            value = getattr(self, name)
            if value is None:
                continue
            number = int | float if name == "cpu_seconds" else int
            if isinstance(value, bool) or not isinstance(value, number) or value <= 0:
                raise InputError(
                    f"the definition limit {name} must be a positive number, not {value!r}",
                    limit=name,
                )

    @classmethod
    def from_mapping(cls, value: object, where: str) -> DefinitionLimits:
        """Limits from a mapping of field names (as a limits file gives them)."""
        if not isinstance(value, Mapping):
            raise InputError(f"{where} must be a mapping of limits, not {value!r}", where=where)
        known = (*_BUDGET_FIELDS, *_PAYLOAD_FIELDS)
        unknown = sorted(str(k) for k in value if k not in known)
        if unknown:
            raise InputError(
                f"{where}: unknown limit {unknown[0]!r} (known: {', '.join(known)})", where=where
            )
        return cls(**{str(k): v for k, v in value.items()})

    def over(self, budget: ExpressionBudget, payload: PayloadLimits) -> list[str]:
        """The fields above ``budget`` or ``payload`` (the engine's), as messages."""
        found = []
        for name in _BUDGET_FIELDS:
            mine, theirs = getattr(self, name), getattr(budget, name)
            if mine is not None and mine > theirs:
                found.append(f"{name}={mine:g} is above the engine's {name}={theirs:g}")
        for name in _PAYLOAD_FIELDS:
            mine, theirs = getattr(self, name), getattr(payload, name)
            if mine is not None and mine > theirs:
                found.append(f"{name}={mine} is above the store's {name}={theirs}")
        return found

    def budget_within(self, budget: ExpressionBudget) -> ExpressionBudget:
        """``budget`` narrowed by these limits (never widened)."""
        narrowed = {
            name: min(mine, getattr(budget, name))
            for name in _BUDGET_FIELDS
            if (mine := getattr(self, name)) is not None
        }
        return replace(budget, **narrowed) if narrowed else budget

    def payload_within(self, payload: PayloadLimits) -> PayloadLimits:
        """``payload`` narrowed by these limits (never widened)."""
        narrowed = {
            name: min(mine, getattr(payload, name))
            for name in _PAYLOAD_FIELDS
            if (mine := getattr(self, name)) is not None
        }
        return replace(payload, **narrowed) if narrowed else payload


class LimitsByDefinition:
    """The ``DefinitionLimits`` an engine holds, by definition name (or id).

    Checked against the engine's own budget and the store's ceilings when made.
    Decisions find a definition's name from its record; an engine learns the
    names of the definitions it registers or starts, and asks its store for the
    record of any other (see ``known``).
    """

    def __init__(
        self,
        limits: Mapping[str, DefinitionLimits],
        budget: ExpressionBudget,
        payload: PayloadLimits,
    ) -> None:
        problems = [
            f"{name}: {problem}"
            for name, found in sorted(limits.items())
            for problem in found.over(budget, payload)
        ]
        if problems:
            raise InputError(
                "definition limits may only narrow the engine's: " + "; ".join(problems),
                problems=problems,
            )
        self._limits = dict(limits)
        self._names: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self._limits)

    def learn(self, definition: DefinitionRecord) -> None:
        """Note ``definition``'s name, to find its limits by its id."""
        if self._limits:
            self._names[definition.id] = definition.name

    def of(self, definition_id: str) -> DefinitionLimits | None:
        """The limits of the definition ``definition_id`` (by id, else by name)."""
        found = self._limits.get(definition_id)
        if found is not None:
            return found
        name = self._names.get(definition_id)
        return None if name is None else self._limits.get(name)

    def known(self, compiled: Container[str]) -> Container[str]:
        """The definitions a round need not load: compiled, and (when any limits are
        held) with a known name, so the store brings the record of the others."""
        return compiled if not self._limits else _NamedAndCompiled(compiled, self._names)

    def check_input(self, definition: DefinitionRecord, value: JSON) -> None:
        """``PayloadTooLarge`` when an execution's input is over its definition's
        ``max_value_bytes``."""
        self.learn(definition)
        found = self.of(definition.id)
        if found is not None and found.max_value_bytes is not None:
            limits = replace(PayloadLimits(), max_value_bytes=found.max_value_bytes)
            limits.check(value, f"the input of an execution of {definition.name!r}")

    def payload_limits(self, definition_id: str, store: PayloadLimits) -> PayloadLimits:
        """The ceilings the results of the definition's executions are held to: the
        store's (``store``), narrowed by the definition's limits."""
        found = self.of(definition_id)
        return store if found is None else found.payload_within(store)

    def result_ceilings(self, store: Store) -> Callable[[TaskRecord], PayloadLimits] | None:
        """What an ``AttemptRunner`` asks for the ceilings of a task's result: the
        store's, narrowed by the limits of the task's definition (None when no
        definition has limits, so the runner uses the store's as they are)."""
        if not self._limits:
            return None

        def ceilings(task: TaskRecord) -> PayloadLimits:
            definition_id = self._definition_of(task, store)
            if definition_id is not None and definition_id not in self._names:
                self._learn_from(store, definition_id)
            limits = store.payload_limits
            return limits if definition_id is None else self.payload_limits(definition_id, limits)

        return ceilings

    def _definition_of(self, task: TaskRecord, store: Store) -> str | None:
        """The id of the definition ``task``'s execution runs."""
        named = task.meta.get(TASK_DEFINITION_ID)
        if isinstance(named, str):
            return named
        # A task queued by an engine that did not name it yet: its execution's row.
        try:
            return store.load_execution(task.execution_id).definition_id
        except ExecutionNotFound:
            return None

    def _learn_from(self, store: Store, definition_id: str) -> None:
        """Learn the name of a definition this process has not seen (once)."""
        try:
            self.learn(store.load_definition(definition_id))
        except DefinitionNotFound:
            # Limits by name cannot apply; by id they still do (see ``of``).
            self._names[definition_id] = ""

    def deciding(self, decide: DecideFn, budget: ExpressionBudget) -> DecideFn:
        """``decide``, each execution's decision under its definition's budget
        (narrowed from ``budget``, the engine's)."""
        if not self._limits:
            return decide

        def decide_each(works: list[DecisionWork]) -> list[DecisionResult]:
            results: list[DecisionResult] = []
            for work in works:
                if work.definition is not None:
                    self.learn(work.definition)
                found = self.of(work.definition_id)
                if found is None:
                    results += decide([work])
                    continue
                with expression_budget.applied(found.budget_within(budget)):
                    results += decide([work])
            return results

        return decide_each


class _NamedAndCompiled:
    """Definitions compiled here whose names are known too."""

    def __init__(self, compiled: Container[str], names: Mapping[str, str]) -> None:
        self.compiled = compiled
        self.names = names

    def __contains__(self, definition_id: object) -> bool:
        return definition_id in self.names and definition_id in self.compiled


def read_definition_limits(path: str) -> dict[str, DefinitionLimits]:
    """The limits file at ``path``: YAML or JSON, definition name -> limits."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the limits file {path}: {exc}", path=path) from exc
    try:
        document = safe_load_bounded(text)
    except yaml.YAMLError as exc:
        raise InputError(f"the limits file {path} is not YAML: {exc}", path=path) from exc
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise InputError(f"the limits file {path} must map definition names to limits", path=path)
    return {
        str(name): DefinitionLimits.from_mapping(value, f"{path}: {name}")
        for name, value in document.items()
    }
