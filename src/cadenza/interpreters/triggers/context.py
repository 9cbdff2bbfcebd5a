"""``TriggerContext``: what a condition or an action is handed, and all it may do.

A condition or action gets the trigger's own context (a mutable JSON object
that persists with the workspace), the workspace's global context, and
methods that turn into commands of the current decision: emit an event
inside the workspace, run activities or child workflows, end the workspace,
and change other triggers (interception). Every change to another trigger
is recorded in history as a ``triggers.change`` marker.

Conditions and actions must be deterministic functions of (context, event):
they run again when a workspace's state is rebuilt from history. They read
no clock (``ctx.now`` is the decision's recorded time) and do no I/O; work
with effects belongs in activities (``ctx.invoke``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Protocol

from cadenza.interpreters.triggers.model import Trigger
from cadenza.interpreters.triggers.state import TriggerSlot, WorkspaceState
from cadenza.model.events import JSON


class Decision(Protocol):
    """What a trigger context asks of the decision it belongs to (implemented by
    :class:`cadenza.interpreters.triggers.decision.Decision`)."""

    state: WorkspaceState
    now: float
    iteration: list[int]

    def emit(
        self,
        subject: str,
        type: str,
        data: JSON = None,
        id: str = "",
        iteration: list[int] | None = None,
    ) -> None: ...

    def start_tasks(
        self,
        slot: TriggerSlot,
        target: tuple[str, str, str],
        input: JSON,
        items: list[JSON] | None,
        subject: str | None,
    ) -> int: ...

    def finish(self, status: str, output: JSON, errors: list[JSON]) -> None: ...

    def slot(self, trigger_id: str) -> TriggerSlot: ...

    def update_context(self, by: str, trigger_id: str, changes: Mapping[str, JSON]) -> None: ...

    def add_trigger(self, by: str, given: Trigger | Mapping[str, JSON]) -> None: ...

    def remove_trigger(self, by: str, trigger_id: str) -> None: ...

    def set_enabled(self, by: str, trigger_id: str, enabled: bool) -> None: ...


class TriggerContext:
    """The view of one trigger and its workspace during one evaluation."""

    __slots__ = ("_decision", "_slot")

    def __init__(self, decision: Decision, slot: TriggerSlot) -> None:
        self._decision = decision
        self._slot = slot

    @property
    def trigger_id(self) -> str:
        """The id of the trigger being evaluated."""
        return self._slot.spec.id

    @property
    def context(self) -> dict[str, Any]:
        """The trigger's own context: change it in place; it persists."""
        return self._slot.context

    @property
    def global_context(self) -> Mapping[str, Any]:
        """The workspace's global context (read-only by convention)."""
        return self._decision.state.global_context

    @property
    def now(self) -> float:
        """The recorded time of this decision (epoch seconds)."""
        return self._decision.now

    @property
    def iteration(self) -> list[int]:
        """The map iterations (item indexes, outermost first) the event being
        handled belongs to; empty outside any map."""
        return list(self._decision.iteration)

    def emit(
        self, subject: str, type: str, data: JSON = None, *, iteration: list[int] | None = None
    ) -> None:
        """Publish an event inside the workspace; it is processed after the
        current one, in the same decision. It belongs to the same map
        iterations as the event being handled unless ``iteration`` is given."""
        self._decision.emit(subject, type, data, iteration=iteration)

    def invoke(
        self,
        activity: str,
        input: JSON = None,
        *,
        items: list[JSON] | None = None,
        subject: str | None = None,
        queue: str = "default",
    ) -> int:
        """Run ``activity`` once (``items`` None) or once per item; raise the
        downstream joins by the number of runs and return it. Each run ends
        with a termination event whose subject is ``subject`` (default: the
        context's ``subject``, else the trigger id)."""
        return self._decision.start_tasks(
            self._slot, ("activity", activity, queue), input, items, subject
        )

    def start_workflow(
        self,
        definition: str,
        input: JSON = None,
        *,
        items: list[JSON] | None = None,
        subject: str | None = None,
    ) -> int:
        """Start executions of ``definition`` (a registered name or id, any kind)
        as tasks, like ``invoke``; their ends are termination events."""
        return self._decision.start_tasks(
            self._slot, ("workflow", definition, ""), input, items, subject
        )

    def terminate(self, output: JSON = None) -> None:
        """End the workspace as succeeded with ``output``."""
        self._decision.finish("succeeded", output, [])

    def fail(
        self, message: str, details: JSON = None, *, error_type: str = "triggers.failed"
    ) -> None:
        """End the workspace as failed with an error of ``error_type``."""
        error = {"type": error_type, "message": message, "trigger": self.trigger_id}
        if details is not None:
            error["details"] = details
        self._decision.finish("failed", None, [error])

    # --- interception --------------------------------------------------------------

    def context_of(self, trigger_id: str) -> Mapping[str, Any]:
        """A copy of another trigger's context (change it with ``update_context``)."""
        return copy.deepcopy(self._decision.slot(trigger_id).context)

    def update_context(self, trigger_id: str, changes: Mapping[str, JSON]) -> None:
        """Set keys of another trigger's context (recorded)."""
        self._decision.update_context(self.trigger_id, trigger_id, changes)

    def add_trigger(self, trigger: Trigger | Mapping[str, JSON]) -> None:
        """Add a trigger to the workspace (recorded); its id must be new."""
        self._decision.add_trigger(self.trigger_id, trigger)

    def remove_trigger(self, trigger_id: str) -> None:
        """Remove a trigger from the workspace (recorded)."""
        self._decision.remove_trigger(self.trigger_id, trigger_id)

    def set_enabled(self, trigger_id: str, enabled: bool) -> None:
        """Enable or disable a trigger (recorded)."""
        self._decision.set_enabled(self.trigger_id, trigger_id, enabled)
