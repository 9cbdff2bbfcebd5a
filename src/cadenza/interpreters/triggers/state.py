"""A workspace's state: its triggers and contexts, what it has seen, its dead letters.

The state is derived from history (the interpreter folds the recorded events
into it), so everything here is as durable as history: the deduplication
keys, the counters of the joins and the dead-letter list survive any crash.
The routing index ``(subject, type) -> trigger ids`` is rebuilt from the
triggers and never stored.

The deduplication keys are a window (:class:`SeenKeys`): the newest ones, in
the order they were consumed, each with the recorded time of the decision
that consumed it. The window is trimmed before and after each decision,
from recorded times only, so a state rebuilt from history trims exactly as
the live one did.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from cadenza.interpreters.triggers.model import DedupWindow, Trigger
from cadenza.model.events import JSON

Key = tuple[str, str]


class SeenKeys:
    """CloudEvents ``(source, id)`` keys consumed, oldest first, within a window."""

    __slots__ = ("keys", "order")

    def __init__(self) -> None:
        self.keys: set[Key] = set()
        #: ``((source, id), recorded time)``, in the order they were consumed.
        self.order: deque[tuple[Key, float]] = deque()

    def __len__(self) -> int:
        return len(self.keys)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SeenKeys) and self.order == other.order

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __contains__(self, key: object) -> bool:
        return key in self.keys

    def add(self, key: Key, now: float) -> None:
        self.keys.add(key)
        self.order.append((key, now))

    def trim(self, window: DedupWindow, now: float) -> int:
        """Forget the keys beyond ``window`` at time ``now``; how many were forgotten."""
        order, keys = self.order, self.keys
        forgotten = 0
        while len(order) > window.keys:
            keys.discard(order.popleft()[0])
            forgotten += 1
        if window.max_age is not None:
            oldest = now - window.max_age
            while order and order[0][1] < oldest:
                keys.discard(order.popleft()[0])
                forgotten += 1
        return forgotten

    def dump(self) -> list[JSON]:
        """Runs of keys with the same source and time, oldest first, as
        ``[source, time, ids]`` where ``ids`` is the JSON text of the run's ids.

        One text per run rather than one value per key: a window of 100,000
        keys is a few hundred values to store (and to size, when a snapshot
        is checked against the inline threshold), not 100,000.
        """
        runs: list[JSON] = []
        ids: list[str] = []
        current: tuple[str, float] | None = None
        for (source, event_id), time in self.order:
            if current != (source, time):
                if current is not None:
                    runs.append([current[0], current[1], json.dumps(ids)])
                current, ids = (source, time), []
            ids.append(event_id)
        if current is not None:
            runs.append([current[0], current[1], json.dumps(ids)])
        return runs

    @classmethod
    def load(cls, data: Any) -> SeenKeys:
        seen = cls()
        if isinstance(data, dict):
            # The format before the window: ``{source: [ids]}``, no times. The
            # keys count as consumed at time 0, oldest first.
            for source, ids in sorted(data.items()):
                for event_id in ids:
                    seen.add((source, event_id), 0.0)
            return seen
        for source, time, ids in data:
            moment = float(time)
            for event_id in json.loads(ids):
                seen.add((source, event_id), moment)
        return seen


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
    #: CloudEvents ``(source, id)`` keys consumed, within the workspace's dedup
    #: window: a redelivered event whose key is here is a duplicate.
    seen: SeenKeys = field(default_factory=SeenKeys)
    #: Keys that left the dedup window so far.
    forgotten: int = 0
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
            "seen": self.seen.dump(),
            "forgotten": self.forgotten,
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
            seen=SeenKeys.load(data["seen"]),
            forgotten=data.get("forgotten", 0),
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
