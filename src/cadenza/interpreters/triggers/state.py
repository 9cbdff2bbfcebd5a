"""A workspace's state: its triggers and contexts, what it has seen, its dead letters.

The state is derived from history (the interpreter folds the recorded events
into it), so everything here is as durable as history: the deduplication
keys, the counters of the joins and the dead-letter list survive any crash.
The routing index ``(subject, type) -> trigger ids`` is rebuilt from the
triggers and never stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cadenza.interpreters.triggers.model import Trigger
from cadenza.model.events import JSON


@dataclass
class TriggerSlot:
    """One trigger of a running workspace: its definition and its live context."""

    spec: Trigger
    context: dict[str, Any]
    enabled: bool = True
    fired: int = 0
    timed_out: bool = False

    def dump(self) -> dict[str, JSON]:
        return {
            "spec": self.spec.to_document(),
            "context": self.context,
            "enabled": self.enabled,
            "fired": self.fired,
            "timed_out": self.timed_out,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> TriggerSlot:
        spec = data["spec"]
        trigger = Trigger(
            id=spec["id"],
            activation=tuple((a["subject"], a["type"]) for a in spec["activation"]),
            condition=spec["condition"],
            action=spec["action"],
            context=spec["context"],
            transient=spec["transient"],
            timeout=spec.get("timeout"),
        )
        return cls(trigger, data["context"], data["enabled"], data["fired"], data["timed_out"])


@dataclass
class WorkspaceState:
    """Everything a workspace has folded so far (see the module docstring)."""

    status: str = "requested"
    triggers: dict[str, TriggerSlot] = field(default_factory=dict)
    #: ``(subject, type) -> ids`` of enabled triggers, in the order they were added.
    routes: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    global_context: dict[str, Any] = field(default_factory=dict)
    #: CloudEvents ``source -> ids`` consumed: a redelivered event is a duplicate.
    seen: dict[str, set[str]] = field(default_factory=dict)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    #: Outstanding tasks (activities and child workflows): ``task_id -> subject``,
    #: or ``[subject, iteration]`` for a task started within map iterations.
    tasks: dict[str, Any] = field(default_factory=dict)
    next_task: int = 0
    consumed: int = 0
    duplicates: int = 0
    #: Ids of triggers whose timeout passed before they fired.
    timeouts: list[str] = field(default_factory=list)
    output: JSON = None
    errors: list[JSON] = field(default_factory=list)

    def add(self, slot: TriggerSlot) -> None:
        """Keep ``slot`` and route its activation events to it."""
        self.triggers[slot.spec.id] = slot
        if slot.enabled:
            self.route(slot)

    def route(self, slot: TriggerSlot) -> None:
        for pair in slot.spec.activation:
            ids = self.routes.setdefault(pair, [])
            if slot.spec.id not in ids:
                ids.append(slot.spec.id)

    def unroute(self, slot: TriggerSlot) -> None:
        for pair in slot.spec.activation:
            ids = self.routes.get(pair)
            if ids and slot.spec.id in ids:
                ids.remove(slot.spec.id)
                if not ids:
                    del self.routes[pair]

    def dump(self) -> dict[str, JSON]:
        return {
            "status": self.status,
            "triggers": [slot.dump() for slot in self.triggers.values()],
            "global_context": self.global_context,
            "seen": {source: sorted(ids) for source, ids in sorted(self.seen.items())},
            "dead_letters": self.dead_letters,
            "tasks": self.tasks,
            "next_task": self.next_task,
            "consumed": self.consumed,
            "duplicates": self.duplicates,
            "timeouts": self.timeouts,
            "output": self.output,
            "errors": self.errors,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> WorkspaceState:
        # A copy through JSON: the caller's data must not alias the live state.
        data = json.loads(json.dumps(data))
        state = cls(
            status=data["status"],
            global_context=data["global_context"],
            seen={source: set(ids) for source, ids in data["seen"].items()},
            dead_letters=data["dead_letters"],
            tasks=data["tasks"],
            next_task=data["next_task"],
            consumed=data["consumed"],
            duplicates=data["duplicates"],
            timeouts=data["timeouts"],
            output=data["output"],
            errors=data["errors"],
        )
        for raw in data["triggers"]:
            state.add(TriggerSlot.load(raw))
        return state
