"""The decision function of one trigger workspace (the ``Interpreter`` protocol).

A workspace is one long-running execution. Its input events:

``ExecutionStarted``
    installs the definition's triggers (starting their timeouts) and offers
    ``{subject: "__init__", type: "event.triggerflow.init", data: input}``
    inside the workspace (what starts a compiled DAG).
``SignalReceived("cloudevents", data=[event, ...])`` / ``("cloudevent", event)``
    CloudEvents from outside, as JSON objects (an event source delivers a
    whole batch as one signal, so a batch is one history entry). Each is
    deduplicated on ``(source, id)``, offered to its triggers, or kept as a
    dead letter.
``TaskCompleted``
    an activity or child workflow that an action started ended: offered as
    ``event.triggerflow.termination.success`` (data: the result) or
    ``.failure`` (data: ``{status, error, result}``), subject = the task's
    subject.
``TimerFired("timeout:<trigger>")``
    a trigger's timeout: ``event.triggerflow.timeout`` with the trigger id as
    subject, if the trigger has not fired.
``OperatorRequested``
    ``replay-dead-letters`` (args ``subject``, ``type`` to select),
    ``add-trigger`` (args ``trigger``), ``remove-trigger`` (args ``id``).
``CancelRequested``
    ends the workspace as canceled. Pause and rerun are refused.

Commands: ``ScheduleTask``/``StartChild`` (invoke actions), ``CancelTask``,
``StartTimer``, ``CompleteExecution`` (``TERMINATE``/``FAIL``), and
``RecordMarker`` of kinds ``triggers.change`` (interception),
``triggers.dead_letter``, ``triggers.timeout`` and ``triggers.error``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cadenza.interpreters.protocol import ActionUse, ExecutionView, TaskView
from cadenza.interpreters.triggers.decision import Decision, Functions
from cadenza.interpreters.triggers.model import INIT_SUBJECT, INIT_TYPE, Workspace
from cadenza.interpreters.triggers.names import KIND as KIND
from cadenza.interpreters.triggers.state import WorkspaceState
from cadenza.model.commands import Command, RecordMarker, RejectRequest, SetStatus
from cadenza.model.errors import CadenzaError
from cadenza.model.events import (
    JSON,
    CancelRequested,
    Event,
    ExecutionStarted,
    OperatorRequested,
    PauseRequested,
    RerunRequested,
    ResumeRequested,
    SignalReceived,
    TaskCompleted,
    TimerFired,
)

#: Signal names that carry CloudEvents into a workspace.
BATCH_SIGNAL = "cloudevents"
EVENT_SIGNAL = "cloudevent"


class TriggersInterpreter:
    """Runs one workspace (see the module docstring)."""

    kind = KIND

    def __init__(self, workspace: Workspace, functions: Functions) -> None:
        self.workspace = workspace
        self.functions = functions

    # --- the protocol --------------------------------------------------------------------

    def new_state(self) -> WorkspaceState:
        return WorkspaceState()

    def decide(self, state: WorkspaceState, events: Sequence[Event], now: float) -> list[Command]:
        decision = Decision(self.functions, state, now)
        # Before and after the decision, from its recorded time only, so that a
        # replay forgets the same keys: before, so that a key past max_age now
        # counts again; after, so that the window stays its size between decisions.
        window = self.workspace.dedup
        state.forgotten += state.seen.trim(window, now)
        for event in events:
            if isinstance(event, SignalReceived):
                self._signal(decision, event)
            elif isinstance(event, TaskCompleted):
                decision.task_ended(event.task_id, event.status, event.result, event.error)
            elif isinstance(event, TimerFired):
                decision.timer_fired(event.timer_id)
            elif isinstance(event, ExecutionStarted):
                self._start(decision, event)
            elif isinstance(event, OperatorRequested):
                self._operator(decision, event)
            elif isinstance(event, CancelRequested):
                if decision.final:
                    decision.out.append(_refusal("cancel", "the workspace has already ended"))
                else:
                    decision.finish("canceled", None, [])
            elif isinstance(event, PauseRequested | ResumeRequested | RerunRequested):
                request = event.type.removesuffix("Requested").lower()
                message = f"a trigger workspace cannot {request}; cancel it or change triggers"
                decision.out.append(_refusal(request, message))
        state.forgotten += state.seen.trim(window, now)
        return decision.out

    def dump_state(self, state: WorkspaceState) -> JSON:
        # Through JSON: a snapshot must not alias the live state.
        return json.loads(json.dumps(state.dump()))

    def load_state(self, data: JSON) -> WorkspaceState:
        return WorkspaceState.load(data)

    def document(self) -> JSON:
        """The workspace this definition compiles to, as a document (``DrawnInterpreter``)."""
        return self.workspace.to_document()

    def drawn_state(self, state: WorkspaceState) -> JSON:
        """Each trigger as ``state`` holds it: its document plus ``enabled``,
        ``fired`` (how many times) and ``timed_out``; triggers added while it ran
        (interception) too. Before the start: the triggers it will install."""
        if not state.triggers:
            return [
                {**trigger.to_document(), "enabled": True, "fired": 0, "timed_out": False}
                for trigger in self.workspace.triggers
            ]
        return [
            {
                **slot.spec.to_document(),
                "enabled": slot.enabled,
                "fired": slot.fired,
                "timed_out": slot.timed_out,
            }
            for slot in state.triggers.values()
        ]

    def describe(self, state: WorkspaceState) -> ExecutionView:
        tasks = [
            TaskView(name=slot.spec.id, status=_trigger_status(slot), result=slot.context)
            for slot in state.triggers.values()
        ]
        final = state.status not in ("requested", "running")
        output = (
            state.output
            if final
            else {
                "consumed": state.consumed,
                "duplicates": state.duplicates,
                "dedup_keys": len(state.seen),
                "dedup_forgotten": state.forgotten,
                "dead_letters": len(state.dead_letters),
                "timeouts": list(state.timeouts),
                "outstanding_tasks": len(state.tasks),
            }
        )
        return ExecutionView(state.status, output, list(state.errors), tasks)

    def actions(self) -> list[ActionUse]:
        return [
            ActionUse(str(trigger.context["activity"]), f"triggers.{trigger.id}.context.activity")
            for trigger in self.workspace.triggers
            if trigger.action == "INVOKE" and isinstance(trigger.context.get("activity"), str)
        ]

    # --- events --------------------------------------------------------------------------

    def _start(self, decision: Decision, event: ExecutionStarted) -> None:
        state = decision.state
        if state.status != "requested":
            return
        state.status = "running"
        decision.out.append(SetStatus("running"))
        state.global_context = json.loads(json.dumps(dict(self.workspace.global_context)))
        for trigger in self.workspace.triggers:
            decision.install(trigger)
        decision.emit(INIT_SUBJECT, INIT_TYPE, event.input, id="init")
        decision.drain()

    def _signal(self, decision: Decision, event: SignalReceived) -> None:
        if event.name == BATCH_SIGNAL and isinstance(event.data, list):
            decision.offer_batch(event.data)
        elif event.name == EVENT_SIGNAL:
            decision.offer_external(event.data)
        else:
            message = (
                f"a trigger workspace takes the signals {EVENT_SIGNAL!r} (one CloudEvent) "
                f"and {BATCH_SIGNAL!r} (a list of them), not {event.name!r}"
            )
            decision.out.append(_refusal("signal", message))

    def _operator(self, decision: Decision, event: OperatorRequested) -> None:
        if decision.final:
            decision.out.append(_refusal(event.request, "the workspace has already ended"))
            return
        args = event.args
        try:
            if event.request == "replay-dead-letters":
                self._replay(decision, args)
            elif event.request == "add-trigger":
                decision.add_trigger(f"operator:{event.by}", args.get("trigger") or {})
            elif event.request == "remove-trigger":
                decision.remove_trigger(f"operator:{event.by}", str(args.get("id")))
            else:
                decision.out.append(_refusal(event.request, "not a request of trigger workspaces"))
        except CadenzaError as exc:
            decision.out.append(_refusal(event.request, exc.message))

    def _replay(self, decision: Decision, args: dict[str, Any]) -> None:
        state = decision.state
        subject, type_ = args.get("subject"), args.get("type")

        def chosen(letter: dict[str, Any]) -> bool:
            event = letter["event"]
            if not isinstance(event, dict) or "type" not in event:
                return False  # a malformed event never becomes deliverable
            return (subject is None or event.get("subject") == subject) and (
                type_ is None or event.get("type") == type_
            )

        picked = [letter for letter in state.dead_letters if chosen(letter)]
        if not picked:
            decision.out.append(_refusal("replay-dead-letters", "no dead letter matches"))
            return
        state.dead_letters = [letter for letter in state.dead_letters if not chosen(letter)]
        decision.out.append(RecordMarker("triggers.replayed", {"count": len(picked)}))
        for letter in picked:
            decision.replay(letter["event"])


def _trigger_status(slot: Any) -> str:
    if slot.timed_out and not slot.fired:
        return "timed_out"
    if slot.enabled:
        return "waiting" if not slot.fired else "active"
    return "fired" if slot.fired else "disabled"


def _refusal(request: str, message: str) -> RejectRequest:
    return RejectRequest(request, {"kind": "operation.refused", "message": message})
