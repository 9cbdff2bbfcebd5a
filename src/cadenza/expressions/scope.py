"""What an expression can see: the context variables and the facts behind the functions.

An interpreter builds one :class:`Scope` per evaluation. The scope is the only door to
the world: ``task_status()``, ``task()``, ``st2kv()``, ``random()`` and ``now()`` ask it,
and it answers from the interpreter's state, never from a clock, a store or the OS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cadenza.model.errors import ExpressionBudgetExceeded
from cadenza.model.events import JSON

UNSET_STATUS = "null"
"""Orquesta's text for "this task has not run"."""


class ExpressionFailure(Exception):
    """An expression could not be evaluated.

    ``kind`` is the Orquesta exception class name the failure is reported as
    (``YaqlEvaluationException``, ``JinjaEvaluationException``, ...); ``str(self)`` is the
    text after ``"<kind>: "``. Interpreters turn it into an error entry; it never escapes
    ``decide``.
    """

    def __init__(self, kind: str, text: str) -> None:
        # Not ``super()``: a subclass that is also a CadenzaError must keep this
        # text as ``str(self)`` and this ``message``.
        Exception.__init__(self, text)
        self.kind = kind
        self.text = text
        #: The error as Orquesta logs it: ``"<kind>: <text>"``.
        self.message = f"{kind}: {text}"


class ExpressionBudgetFailure(ExpressionFailure, ExpressionBudgetExceeded):
    """An Orquesta expression went over its budget (``expression.budget_exceeded``).

    Both an :class:`ExpressionFailure` (so the interpreters report it as they
    report any failed expression) and an ``ExpressionBudgetExceeded``.
    """

    def __init__(self, kind: str, text: str, expression: str = "", limit: str = "") -> None:
        ExpressionFailure.__init__(self, kind, text)
        self.details = {"expression": expression, "limit": limit}

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            type(self),
            (self.kind, self.text, self.details["expression"], self.details["limit"]),
        )


class FunctionFailure(Exception):
    """Raised by a built-in function; the evaluator wraps it with the expression text.

    ``kind`` is the class name shown in the message (``VariableUndefinedError``,
    ``ExpressionEvaluationException``, ``TypeError``, ...).
    """

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


class TaskFacts(Protocol):
    """The interpreter's answers to the task functions."""

    def task_status(self, name: str, route: int) -> str:
        """Status of the latest run of ``name`` on ``route`` or the routes it split from."""

    def task_record(self, name: str, route: int) -> dict[str, JSON] | None:
        """``{task_id, task_name, route, status, result}`` of that run, or None."""


class NoTaskFacts:
    """Task facts for evaluations outside any workflow (tests, inspection)."""

    def task_status(self, name: str, route: int) -> str:
        return UNSET_STATUS

    def task_record(self, name: str, route: int) -> dict[str, JSON] | None:
        return None


@dataclass
class CurrentTask:
    """The task an expression is evaluated for (``result()``, ``succeeded()``...)."""

    name: str
    route: int
    result: JSON = None


_NO_ITEM: Any = object()


@dataclass
class Scope:
    """Everything an expression may read.

    ``variables`` is the context (``ctx()``); ``item`` is the current with-items item
    (``item()``), left unset outside with-items; ``draw`` returns the next number in
    [0, 1) from the execution's seeded sequence; ``now`` is the recorded time (seconds
    since the epoch) of the decision.
    """

    variables: dict[str, JSON]
    current_task: CurrentTask | None = None
    item: JSON = _NO_ITEM
    facts: TaskFacts = field(default_factory=NoTaskFacts)
    kv: Mapping[str, JSON] = field(default_factory=dict)
    draw: Callable[[], float] = lambda: 0.5
    now: float = 0.0

    @property
    def has_item(self) -> bool:
        return self.item is not _NO_ITEM

    def with_variables(self, variables: dict[str, JSON]) -> Scope:
        """A copy seeing other variables (rolling publish/output contexts)."""
        return Scope(
            variables, self.current_task, self.item, self.facts, self.kv, self.draw, self.now
        )

    def with_item(self, item: JSON) -> Scope:
        """A copy with ``item()`` bound."""
        return Scope(
            self.variables, self.current_task, item, self.facts, self.kv, self.draw, self.now
        )
