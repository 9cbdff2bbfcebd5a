"""One decision of a workspace: offer events to triggers, collect the commands.

Events are offered one at a time, in order: first the batch that arrived
(deduplicated on CloudEvents ``(source, id)``), then, after each, the events
the actions emitted inside the workspace (termination events of tasks,
``ctx.emit``), first in first out. For each event, every enabled trigger
routed to its ``(subject, type)`` evaluates its condition in the order the
triggers were added; a true condition fires the trigger: a transient one is
disabled first, then its action runs.

Per event the work is a dictionary lookup for the route, a set lookup for
the duplicate check and the conditions of the triggers routed there: O(1) in
the size of the workspace and of its history. The duplicate check remembers
a bounded window of keys (the workspace's ``dedup``), trimmed before and
after each decision.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from cadenza.interpreters.triggers.builtins import (
    ACTIONS,
    CONDITIONS,
    JOIN_TARGETS,
    Action,
    Condition,
)
from cadenza.interpreters.triggers.context import TriggerContext
from cadenza.interpreters.triggers.metering import run_metered
from cadenza.interpreters.triggers.model import (
    FAILURE_TYPE,
    SUCCESS_TYPE,
    TIMEOUT_TYPE,
    Trigger,
    read_trigger,
)
from cadenza.interpreters.triggers.state import TriggerSlot, WorkspaceState
from cadenza.model.commands import (
    CancelTask,
    Command,
    CompleteExecution,
    RecordMarker,
    ScheduleTask,
    StartChild,
    StartTimer,
)
from cadenza.model.errors import CadenzaError, InputError, Problem
from cadenza.model.events import JSON

#: The type event sources give a message that is not a CloudEvent (kept with
#: the reason in ``problem``).
INVALID_TYPE = "cadenza.invalid"
#: Where events the workspace makes itself come from (never deduplicated).
INTERNAL_SOURCE = "cadenza:workspace"
#: The most events the actions of one decision may emit: a guard against a
#: trigger that keeps re-activating itself.
MAX_INTERNAL_EVENTS = 1_000_000
#: The extension attribute of internal events that says which map iterations
#: (item indexes, outermost first) an event belongs to; actions pass it on.
ITERATION = "cadenzaiteration"
#: Timer ids of trigger timeouts start with this.
TIMEOUT_TIMER = "timeout:"
_REQUIRED = ("id", "source", "type")
#: The statuses of a workspace that still takes events.
_LIVE = frozenset({"requested", "running"})


class Functions:
    """The conditions and actions a workspace's triggers can name."""

    def __init__(self, conditions: Mapping[str, Condition], actions: Mapping[str, Action]) -> None:
        self.conditions = dict(conditions)
        self.actions = dict(actions)

    def names(self) -> set[str]:
        return set(self.conditions) | set(self.actions)


class Decision:
    """The work of one ``decide`` call on one workspace state."""

    #: See ``MAX_INTERNAL_EVENTS``.
    max_internal_events = MAX_INTERNAL_EVENTS

    def __init__(self, functions: Functions, state: WorkspaceState, now: float) -> None:
        self.functions = functions
        self.state = state
        self.now = now
        self.out: list[Command] = []
        self._queue: deque[dict[str, Any]] = deque()
        self._emitted = 0
        #: The map iterations the event being offered belongs to (see ``ITERATION``).
        self.iteration: list[int] = []

    @property
    def final(self) -> bool:
        return self.state.status not in _LIVE

    # --- offering events -------------------------------------------------------------

    def offer_external(self, event: Any) -> None:
        """An event from a source: dropped if seen, dead-lettered if malformed or
        unmatched, else offered; then everything it caused."""
        self.offer_batch((event,))

    def offer_batch(self, events: Iterable[Any]) -> None:
        """``offer_external`` for each of ``events``, in order.

        The common case (a well-formed event) is checked inline, with the
        state's parts bound to local names: this runs once per event of
        every batch, and its cost bounds a workspace's throughput.
        """
        state = self.state
        keys = state.seen.keys
        remember = state.seen.order.append
        now = self.now
        for event in events:
            if state.status not in _LIVE:
                return
            source: Any
            event_id: Any
            if type(event) is dict:
                source, event_id, event_type = (
                    event.get("source"),
                    event.get("id"),
                    event.get("type"),
                )
                valid = (
                    type(source) is str
                    and type(event_id) is str
                    and type(event_type) is str
                    and source
                    and event_id
                    and event_type
                    and type(event.get("subject", "")) is str
                )
            else:
                valid = False
            if not valid:
                self._dead_letter(event, _malformed(event) or "not a CloudEvent")
                continue
            key = (source, event_id)
            if key in keys:
                state.duplicates += 1
                continue
            keys.add(key)
            remember((key, now))
            state.consumed += 1
            if not self._offer(event):
                if event_type == INVALID_TYPE:
                    # What a source read but could not parse: say why it is kept.
                    self._dead_letter(event, f"not a CloudEvent: {event.get('problem')}")
                else:
                    self._dead_letter(event, "no trigger is activated by its subject and type")
            if self._queue:
                self.drain()

    def replay(self, event: dict[str, Any]) -> None:
        """Offer a dead letter again (it was already counted as consumed)."""
        if not self._offer(event):
            self._dead_letter(event, "no trigger is activated by its subject and type")
        self.drain()

    def emit(
        self,
        subject: str,
        type: str,
        data: JSON = None,
        id: str = "",
        iteration: list[int] | None = None,
    ) -> None:
        """Queue an internal event (see the module docstring); it belongs to the
        same map iterations as the event being offered, unless ``iteration``
        says otherwise."""
        self._emitted += 1
        if self._emitted > self.max_internal_events:
            message = (
                f"the actions emitted more than {self.max_internal_events} events in one "
                "decision: a trigger probably re-activates itself"
            )
            self.finish("failed", None, [{"type": "triggers.runaway", "message": message}])
            return
        event = {
            "specversion": "1.0",
            "id": id or f"emit-{self._emitted}",
            "source": INTERNAL_SOURCE,
            "subject": subject,
            "type": type,
            "data": data,
        }
        iteration = self.iteration if iteration is None else iteration
        if iteration:
            event[ITERATION] = list(iteration)
        self._queue.append(event)

    def drain(self) -> None:
        """Offer the queued internal events until none is left (or the workspace ended)."""
        queue = self._queue
        while queue and not self.final:
            self._offer(queue.popleft())
        queue.clear()

    def _offer(self, event: Mapping[str, Any]) -> bool:
        """Offer ``event`` to its triggers; whether any enabled trigger was routed."""
        ids = self.state.routes.get((event.get("subject") or "", event["type"]))
        if not ids:
            return False
        iteration = event.get(ITERATION)
        self.iteration = iteration if isinstance(iteration, list) else []
        triggers = self.state.triggers
        state = self.state
        for trigger_id in tuple(ids) if len(ids) > 1 else ids:
            slot = triggers.get(trigger_id)
            if slot is None or not slot.enabled or state.status not in _LIVE:
                continue
            self._evaluate(slot, event)
        return True

    def _evaluate(self, slot: TriggerSlot, event: Mapping[str, Any]) -> None:
        ctx = TriggerContext(self, slot)
        spec = slot.spec
        condition = self.functions.conditions[spec.condition]
        try:
            if spec.condition in CONDITIONS:
                fires = bool(condition(ctx, event))
            else:
                what = f"condition {spec.condition} of trigger {spec.id}"
                fires = bool(run_metered(lambda: condition(ctx, event), what, slot.context))
        except Exception as exc:  # user code: record it on the trigger, as Triggerflow does
            self._error(slot, "condition", exc)
            return
        if not fires:
            return
        slot.fired += 1
        if spec.transient:
            slot.enabled = False
            self.state.unroute(slot)
        action = self.functions.actions[spec.action]
        try:
            if spec.action in ACTIONS:
                action(ctx, event)
            else:
                what = f"action {spec.action} of trigger {spec.id}"
                run_metered(lambda: action(ctx, event), what, slot.context)
        except Exception as exc:
            self._error(slot, "action", exc)

    def _error(self, slot: TriggerSlot, stage: str, exc: Exception) -> None:
        text = f"{type(exc).__name__}: {exc}"
        slot.context["exception"] = text
        record: dict[str, JSON] = {"trigger": slot.spec.id, "stage": stage, "error": text}
        if isinstance(exc, CadenzaError):
            record["code"] = exc.code
        self.out.append(RecordMarker("triggers.error", record))

    def _dead_letter(self, event: Any, reason: str) -> None:
        self.state.dead_letters.append({"event": event, "reason": reason})
        described = (
            event
            if not isinstance(event, dict)
            else {k: event.get(k) for k in ("source", "id", "subject", "type")}
        )
        self.out.append(
            RecordMarker("triggers.dead_letter", {"event": described, "reason": reason})
        )

    # --- what actions do -----------------------------------------------------------------

    def start_tasks(
        self,
        slot: TriggerSlot,
        target: tuple[str, str, str],
        input: JSON,
        items: list[JSON] | None,
        subject: str | None,
    ) -> int:
        """Schedule activities or start child workflows; raise downstream joins."""
        kind, name, queue = target
        subject = subject or str(slot.context.get("subject") or slot.spec.id)
        runs: list[tuple[JSON, JSON]]
        if items is None:
            runs = [(input, None)]
        else:
            runs = [(_item_input(input, item), i) for i, item in enumerate(items)]
        state = self.state
        for run_input, index in runs:
            state.next_task += 1
            task_id = f"{subject}.{state.next_task}"
            state.tasks[task_id] = [subject, self.iteration] if self.iteration else subject
            meta: dict[str, JSON] = {"trigger": slot.spec.id, "subject": subject}
            if index is not None:
                meta["item"] = index
            if kind == "activity":
                self.out.append(
                    ScheduleTask(
                        task_id, subject, name, copy.deepcopy(run_input), meta=meta, queue=queue
                    )
                )
            else:
                self.out.append(
                    StartChild(task_id, subject, name, copy.deepcopy(run_input), meta=meta)
                )
        count = len(runs)
        if count == 0:
            # Nothing to run still completes the step once, so that joins go on.
            count = 1
            self.emit(subject, SUCCESS_TYPE, [], id=f"{subject}.empty")
        self._raise_joins(slot.spec.id, subject, count)
        return count

    def _raise_joins(self, by: str, subject: str, count: int) -> None:
        for trigger_id in tuple(self.state.routes.get((subject, SUCCESS_TYPE), ())):
            target = self.state.triggers[trigger_id]
            context = target.context
            condition = target.spec.condition
            if condition == "DAG_TASK_JOIN":
                dependency = context.setdefault("dependencies", {}).setdefault(
                    subject, {"counter": 0, "join": -1}
                )
                dependency["join"] = count if dependency["join"] < 0 else dependency["join"] + count
                value = dependency["join"]
            elif condition in JOIN_TARGETS:
                key = JOIN_TARGETS[condition]
                old = context.get(key)
                value = count if not isinstance(old, int) or old < 0 else old + count
                context[key] = value
            else:
                continue
            self.out.append(
                RecordMarker(
                    "triggers.change",
                    {
                        "by": by,
                        "op": "join",
                        "trigger": trigger_id,
                        "subject": subject,
                        "expected": value,
                    },
                )
            )

    def task_ended(self, task_id: str, status: str, result: JSON, error: JSON) -> None:
        """A task of this workspace ended: its termination event, offered at once."""
        found = self.state.tasks.pop(task_id, None)
        if found is None or self.final:
            return  # not ours, or a late answer after the workspace ended
        subject, iteration = (found, []) if isinstance(found, str) else found
        if status == "succeeded":
            self.emit(subject, SUCCESS_TYPE, result, id=task_id, iteration=iteration)
        else:
            data = {"status": status, "error": error, "result": result}
            self.emit(subject, FAILURE_TYPE, data, id=task_id, iteration=iteration)
        self.drain()

    def timer_fired(self, timer_id: str) -> None:
        """A trigger's timeout passed: if it has not fired, say so with an event."""
        if not timer_id.startswith(TIMEOUT_TIMER) or self.final:
            return
        slot = self.state.triggers.get(timer_id.removeprefix(TIMEOUT_TIMER))
        if slot is None or slot.fired or not slot.enabled:
            return
        slot.timed_out = True
        self.state.timeouts.append(slot.spec.id)
        self.out.append(RecordMarker("triggers.timeout", {"trigger": slot.spec.id}))
        data = {"trigger": slot.spec.id, "context": copy.deepcopy(slot.context)}
        self.emit(slot.spec.id, TIMEOUT_TYPE, data, id=timer_id, iteration=[])
        self.drain()

    def finish(self, status: str, output: JSON, errors: list[JSON]) -> None:
        """End the workspace; outstanding tasks are withdrawn."""
        if self.final:
            return
        for task_id in self.state.tasks:
            self.out.append(CancelTask(task_id))
        self.state.tasks.clear()
        self.state.status = status
        self.state.output = copy.deepcopy(output)
        self.state.errors = list(errors)
        self.out.append(CompleteExecution(status, copy.deepcopy(output), list(errors)))

    # --- interception ---------------------------------------------------------------------

    def slot(self, trigger_id: str) -> TriggerSlot:
        found = self.state.triggers.get(trigger_id)
        if found is None:
            raise InputError(f"the workspace has no trigger {trigger_id!r}", trigger=trigger_id)
        return found

    def install(self, trigger: Trigger) -> None:
        """Add a checked trigger (and start its timeout)."""
        self.state.add(TriggerSlot(trigger, copy.deepcopy(dict(trigger.context))))
        if trigger.timeout is not None:
            self.out.append(StartTimer(f"{TIMEOUT_TIMER}{trigger.id}", trigger.timeout))

    def add_trigger(self, by: str, given: Trigger | Mapping[str, JSON]) -> None:
        trigger = self.checked(given)
        self.install(trigger)
        self._changed(by, "add", trigger.id, trigger.to_document())

    def checked(self, given: Trigger | Mapping[str, JSON]) -> Trigger:
        """``given`` as a trigger that can be added here; ``InputError`` if not."""
        document = given.to_document() if isinstance(given, Trigger) else given
        problems: list[Problem] = []
        names = self.functions.names()
        trigger = read_trigger(document, names, "trigger", problems, default_id="")
        if trigger is not None:
            for key in ("condition", "action"):
                if getattr(trigger, key) not in names:
                    problems.append(
                        Problem(
                            f"trigger.{key}",
                            f"{getattr(trigger, key)!r} is not known here "
                            "(a trigger added at run time names built-in or registered "
                            "functions, or ones the definition already uses)",
                        )
                    )
            if trigger.id in self.state.triggers:
                problems.append(Problem("trigger.id", f"the id {trigger.id!r} is already used"))
        if problems or trigger is None:
            raise InputError(
                "; ".join(str(p) for p in problems), problems=[str(p) for p in problems]
            )
        return trigger

    def remove_trigger(self, by: str, trigger_id: str) -> None:
        slot = self.slot(trigger_id)
        self.state.unroute(slot)
        del self.state.triggers[trigger_id]
        self._changed(by, "remove", trigger_id, None)

    def set_enabled(self, by: str, trigger_id: str, enabled: bool) -> None:
        slot = self.slot(trigger_id)
        slot.enabled = enabled
        if enabled:
            self.state.route(slot)
        else:
            self.state.unroute(slot)
        self._changed(by, "enable" if enabled else "disable", trigger_id, None)

    def update_context(self, by: str, trigger_id: str, changes: Mapping[str, JSON]) -> None:
        slot = self.slot(trigger_id)
        changes = copy.deepcopy(dict(changes))
        slot.context.update(changes)
        self._changed(by, "context", trigger_id, changes)

    def _changed(self, by: str, op: str, trigger_id: str, details: JSON) -> None:
        record: dict[str, JSON] = {"by": by, "op": op, "trigger": trigger_id}
        if details is not None:
            record["details"] = details
        self.out.append(RecordMarker("triggers.change", record))


def _item_input(input: JSON, item: JSON) -> JSON:
    """One run's input of a map: the item, or the item beside a fixed input object."""
    if input is None:
        return item
    if isinstance(input, dict):
        return {**input, "item": item}
    return {"input": input, "item": item}


def _malformed(event: Any) -> str | None:
    """Why ``event`` is not a usable CloudEvent (None if it is)."""
    if not isinstance(event, dict):
        return "not a CloudEvent: not a JSON object"
    for key in _REQUIRED:
        value = event.get(key)
        if not isinstance(value, str) or not value:
            return f"not a CloudEvent: {key} is missing or not text"
    subject = event.get("subject")
    if subject is not None and not isinstance(subject, str):
        return "not a CloudEvent: subject is not text"
    return None
