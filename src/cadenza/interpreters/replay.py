"""Replaying a recorded history through today's interpreter.

``check_replay`` feeds the inputs of every recorded decision, in order, to a
fresh interpreter state and compares what it decides with what was recorded
for that decision. An empty list means the interpreter is deterministic for
this history and a state rebuilt from history alone equals the live one.
Use it in tests after changing a workflow or upgrading Cadenza.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from cadenza.interpreters.protocol import Interpreter
from cadenza.model.commands import StartChild
from cadenza.model.events import ExecutionStarted, RecordedEvent


@dataclass(frozen=True)
class ReplayedDecision:
    """One recorded decision and what a replay of its inputs decided."""

    execution_id: str
    decision: int
    #: The decision's input events, as recorded.
    inputs: list[RecordedEvent]
    #: ``(type, payload)`` of the events its commands recorded.
    recorded: list[tuple[str, Any]]
    #: ``(type, payload)`` of the records of the commands the replay decided.
    replayed: list[tuple[str, Any]]
    #: The interpreter state after the replayed decision.
    state: Any

    @property
    def differs(self) -> bool:
        """Whether the replay decided other commands than were recorded."""
        return _normal(self.replayed) != _normal(self.recorded)


def replayed_decisions(
    interpreter: Interpreter, history: Sequence[RecordedEvent]
) -> Iterator[ReplayedDecision]:
    """Each recorded decision of ``history``, replayed in order through one fresh
    state: decision *k* of this pass is a cold re-run of decision *k* (a state
    that has folded decisions 1..k-1 from history alone)."""
    state = interpreter.new_state()
    execution_id = _execution_id(history)
    for decision, group in groupby(history, key=lambda r: r.decision):
        events = list(group)
        inputs = [r for r in events if r.event.is_input]
        recorded = [
            (r.event.type, r.event.payload())
            for r in events
            if not r.event.is_input and r.event.from_command
        ]
        replayed: list[tuple[str, Any]] = []
        if inputs:
            now = max(r.time for r in inputs)
            commands = [
                c.named(execution_id, decision) if isinstance(c, StartChild) else c
                for c in interpreter.decide(state, [r.event for r in inputs], now)
            ]
            replayed = [(c.record().type, c.record().payload()) for c in commands]
        yield ReplayedDecision(execution_id, decision, inputs, recorded, replayed, state)


def check_replay(interpreter: Interpreter, history: Sequence[RecordedEvent]) -> list[str]:
    """Differences between recorded decisions and a replay of their inputs."""
    problems: list[str] = []
    for step in replayed_decisions(interpreter, history):
        if not step.inputs:
            if step.recorded:
                problems.append(f"decision {step.decision}: records without inputs")
        elif step.differs:
            problems.append(
                f"decision {step.decision}: recorded {step.recorded!r} "
                f"but the replay decided {step.replayed!r}"
            )
    return problems


def _execution_id(history: Sequence[RecordedEvent]) -> str:
    for recorded in history[:1]:
        if isinstance(recorded.event, ExecutionStarted):
            return str(recorded.event.meta.get("execution_id", ""))
    return ""


def replay_state(interpreter: Interpreter, history: Sequence[RecordedEvent]) -> Any:
    """The interpreter state rebuilt from ``history`` alone (no snapshot)."""
    state = interpreter.new_state()
    replay_into(interpreter, state, history)
    return state


def replay_into(interpreter: Interpreter, state: Any, history: Sequence[RecordedEvent]) -> None:
    """Fold the inputs of every decision in ``history`` into ``state``, in order."""
    for _decision, group in groupby(history, key=lambda r: r.decision):
        inputs = [r for r in group if r.event.is_input]
        if inputs:
            interpreter.decide(state, [r.event for r in inputs], max(r.time for r in inputs))


def _normal(items: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    return [(kind, json.dumps(payload, sort_keys=True, default=str)) for kind, payload in items]
