"""Replaying a recorded history through today's interpreter.

``check_replay`` feeds the inputs of every recorded decision, in order, to a
fresh interpreter state and compares what it decides with what was recorded
for that decision. An empty list means the interpreter is deterministic for
this history and a state rebuilt from history alone equals the live one.
Use it in tests after changing a workflow or upgrading Cadenza.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import groupby
from typing import Any

from cadenza.interpreters.protocol import Interpreter
from cadenza.model.commands import StartChild
from cadenza.model.events import ExecutionStarted, RecordedEvent


def check_replay(interpreter: Interpreter, history: Sequence[RecordedEvent]) -> list[str]:
    """Differences between recorded decisions and a replay of their inputs."""
    problems: list[str] = []
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
        if not inputs:
            if recorded:
                problems.append(f"decision {decision}: records without inputs")
            continue
        now = max(r.time for r in inputs)
        commands = [
            c.named(execution_id, decision) if isinstance(c, StartChild) else c
            for c in interpreter.decide(state, [r.event for r in inputs], now)
        ]
        replayed = [(c.record().type, c.record().payload()) for c in commands]
        if _normal(replayed) != _normal(recorded):
            problems.append(
                f"decision {decision}: recorded {recorded!r} but the replay decided {replayed!r}"
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
    return [(kind, json.dumps(payload, sort_keys=True)) for kind, payload in items]
