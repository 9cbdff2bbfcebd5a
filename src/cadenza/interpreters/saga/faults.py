"""Fault injection for saga tests, as Steno's ``inject_error``, ``inject_error_undo``
and ``inject_repeat``, made durable.

Faults are part of an execution's recorded start (``ExecutionStarted.context``
under ``"saga_faults"``), so a replay or a resumed process sees the same ones::

    from cadenza.interpreters.saga.faults import Faults, register_fault_activities

    register_fault_activities(engine.registry)
    faults = Faults().action_error("create_disk").undo_error("allocate_ip")
    engine.start(definition, params, context=faults.context())

An injected error replaces the node's activity by ``saga.injected_error``,
which fails (without retries): the failure is scheduled, run, recorded and
handled exactly like a real one. A repeat runs the node's action (or undo)
that many times in a row, keeping the last output: a direct test that it is
idempotent. Nodes are named by their path (``attach/create_nic`` inside the
subsaga ``attach``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cadenza.model.errors import ActivityError
from cadenza.model.events import JSON

#: The activity an injected error runs instead of the node's own.
INJECTED_ERROR = "saga.injected_error"
#: The key of ``ExecutionStarted.context`` that holds the faults.
CONTEXT_KEY = "saga_faults"


def injected_error(_input: JSON = None) -> None:
    """Fail, as a fault injected into a saga test asks (never retried)."""
    raise ActivityError("injected error", type=INJECTED_ERROR, non_retryable=True)


def register_fault_activities(registry: Any) -> None:
    """Register ``saga.injected_error`` in an ``ActivityRegistry`` (every process
    that runs the saga's tasks needs it)."""
    registry.register(INJECTED_ERROR, injected_error, replace=True, whole_input=True)


@dataclass
class Faults:
    """The faults of one execution, by node path."""

    nodes: dict[str, dict[str, JSON]] = field(default_factory=dict)

    def action_error(self, node: str) -> Faults:
        """The node's action fails instead of running."""
        self.nodes.setdefault(node, {})["action_error"] = True
        return self

    def undo_error(self, node: str) -> Faults:
        """The node's undo fails instead of running (the saga gets stuck there)."""
        self.nodes.setdefault(node, {})["undo_error"] = True
        return self

    def repeat(self, node: str, *, action: int = 1, undo: int = 1) -> Faults:
        """Run the node's action ``action`` times and its undo ``undo`` times."""
        if action < 1 or undo < 1:
            raise ValueError("a repeat runs at least once")
        entry = self.nodes.setdefault(node, {})
        entry["action_repeat"], entry["undo_repeat"] = action, undo
        return self

    def context(self) -> dict[str, JSON]:
        """The ``context`` to start the execution with."""
        return {CONTEXT_KEY: {node: dict(entry) for node, entry in sorted(self.nodes.items())}}


def faults_from_context(context: JSON) -> dict[str, dict[str, JSON]]:
    """The faults recorded in an execution's start context (none if absent or malformed)."""
    if not isinstance(context, Mapping):
        return {}
    found = context.get(CONTEXT_KEY)
    if not isinstance(found, Mapping):
        return {}
    return {str(k): dict(v) for k, v in found.items() if isinstance(v, Mapping)}
