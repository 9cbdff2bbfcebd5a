"""Replaying every recorded decision of a history, with a readable diff.

:func:`decision_mismatches` feeds the inputs of each recorded decision, in
order, to one fresh interpreter state and compares the commands it decides
with what the live run recorded for that decision. Decision *k* of that
single pass is exactly a cold re-run of decision *k* from history (a fresh
state that has folded decisions 1..k-1), so one pass checks every decision
cold, in time linear in history.

Code that reads the wall clock, draws random numbers, keeps state in module
globals or otherwise behaves differently when run again passes a live run
(nothing compares) and fails here: the first decision whose replay differs is
reported with what history has, what the replayed code issued instead and,
for code workflows, the line of workflow code that issued it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cadenza.interpreters.protocol import Interpreter
from cadenza.interpreters.replay import replayed_decisions
from cadenza.model.events import RecordedEvent

#: How many characters of one event's payload a diff line shows.
_SHOWN = 300


@dataclass(frozen=True)
class DecisionMismatch:
    """One decision whose replay did not give what history recorded."""

    execution_id: str
    decision: int
    #: The input events of the decision, one line each.
    inputs: tuple[str, ...]
    #: What history recorded for the decision, one line per event.
    expected: tuple[str, ...]
    #: What the replayed code decided, one line per command.
    got: tuple[str, ...]

    def __str__(self) -> str:
        lines = [
            f"execution {self.execution_id}, decision {self.decision}: the replay of the "
            "workflow code differs from history",
            "  inputs of the decision:",
            *(f"    {line}" for line in self.inputs),
        ]
        lines += _diff(list(self.expected), list(self.got))
        return "\n".join(lines)


def decision_mismatches(
    interpreter: Interpreter, history: Sequence[RecordedEvent], *, first_only: bool = True
) -> list[DecisionMismatch]:
    """The decisions of ``history`` whose cold replay through ``interpreter``
    differs from what was recorded (only the first, unless ``first_only`` is
    False: after one difference the replayed state is no longer the recorded one)."""
    found: list[DecisionMismatch] = []
    for step in replayed_decisions(interpreter, history):
        if not step.inputs or not step.differs:
            continue
        where = _issuing_lines(step.state)
        found.append(
            DecisionMismatch(
                execution_id=step.execution_id,
                decision=step.decision,
                inputs=tuple(_line(r.event.type, r.event.payload()) for r in step.inputs),
                expected=tuple(_line(kind, payload) for kind, payload in step.recorded),
                got=tuple(_line(kind, payload, where) for kind, payload in step.replayed),
            )
        )
        if first_only:
            break
    return found


def _issuing_lines(state: Any) -> dict[str, str]:
    """Task id -> ``file:line`` of the workflow code that issued it (code workflows)."""
    runtime = getattr(state, "runtime", None)
    issued = getattr(runtime, "issued", None)
    if not isinstance(issued, dict):
        return {}
    return {task_id: str(getattr(i, "where", "?")) for task_id, i in issued.items()}


def _line(kind: str, payload: Any, where: dict[str, str] | None = None) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    if len(text) > _SHOWN:
        text = text[:_SHOWN] + "..."
    line = f"{kind} {text}"
    key = _task_key(payload)
    if where and key in where:
        line += f"  (issued at {where[key]})"
    return line


def _task_key(payload: Any) -> str | None:
    if isinstance(payload, dict):
        for field in ("task_id", "timer_id"):
            value = payload.get(field)
            if isinstance(value, str):
                return value
    return None


def _diff(expected: list[str], got: list[str]) -> list[str]:
    """Side by side in order: equal lines once, differing ones as recorded/replayed."""
    out = ["  recorded (-) against replayed (+):"]
    for index in range(max(len(expected), len(got))):
        left = expected[index] if index < len(expected) else None
        right = got[index] if index < len(got) else None
        if left is not None and right is not None and _same(left, right):
            out.append(f"      {left}")
            continue
        if left is not None:
            out.append(f"    - {left}")
        if right is not None:
            out.append(f"    + {right}")
    if not expected:
        out.append("    - (history recorded nothing for this decision)")
    if not got:
        out.append("    + (the replay decided nothing)")
    return out


def _same(recorded: str, replayed: str) -> bool:
    # A replayed line may carry "(issued at ...)": compare what was decided.
    return replayed.split("  (issued at ", 1)[0] == recorded
