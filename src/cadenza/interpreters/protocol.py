"""The seam between the engine and every front end.

A front end compiles a definition's source into an ``Interpreter``. An
interpreter is a pure fold: ``decide(state, events, now)`` folds a batch of
input events into ``state`` and returns the commands that follow. It does no
I/O, reads no clock (``now`` is the recorded time of the batch) and draws no
random numbers except from the seed recorded in ``ExecutionStarted``.

``decide`` may mutate ``state`` in place and must not raise for anything a
workflow can do: failures of expressions or actions are reported as
``CompleteExecution(status="failed", errors=[...])`` or front-end errors, not
as exceptions. Every collection in its output is in a deterministic order, so
the same events give the same commands, byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cadenza.model.commands import Command
from cadenza.model.events import JSON, Event


@dataclass
class TaskView:
    """One task occurrence as a person sees it."""

    name: str
    status: str
    key: str = ""  # front-end qualifier, e.g. an Orquesta route "0"
    result: JSON = None


@dataclass
class ExecutionView:
    """What an interpreter's state says about the execution."""

    status: str
    output: JSON = None
    errors: list[JSON] = field(default_factory=list)
    tasks: list[TaskView] = field(default_factory=list)


@dataclass(frozen=True)
class ActionUse:
    """An action a definition names literally, and where (for up-front checks)."""

    ref: str
    spec_path: str
    line: int | None = None
    #: Whether a missing handler makes the definition invalid (Orquesta), or only
    #: fails the step when it runs (Step Functions, as AWS does for a function).
    must_exist: bool = True


class Interpreter(Protocol):
    """One compiled definition's decision function."""

    kind: str

    def new_state(self) -> Any:
        """The state before any event."""

    def decide(self, state: Any, events: Sequence[Event], now: float) -> list[Command]:
        """Fold input ``events`` into ``state`` (in place) and return the commands."""

    def dump_state(self, state: Any) -> JSON:
        """The state as a JSON value (for snapshots)."""

    def load_state(self, data: JSON) -> Any:
        """The inverse of ``dump_state``."""

    def describe(self, state: Any) -> ExecutionView:
        """The execution as the CLI and API show it."""


class FrontEnd(Protocol):
    """Turns a definition's source text into an interpreter."""

    kind: str

    def compile(self, source: str, *, origin: str | None = None) -> Interpreter:
        """Parse and validate ``source``; raise ``DefinitionError`` listing every problem.

        ``origin`` names where the source came from (a file path) for messages.
        """
