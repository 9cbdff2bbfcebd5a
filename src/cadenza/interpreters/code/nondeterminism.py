"""Reports of nondeterminism: what history says, what the code did instead.

When replayed workflow code disagrees with history, the execution stops in
status ``nondeterministic`` and these reports go into history
(``MarkerRecorded(kind="code.nondeterminism")``) for people to read: the
decision, the event, what was expected and what the code issued instead,
each with the line of code that issued it, and what to do.
"""

from __future__ import annotations

from cadenza.interpreters.code.futures import Future
from cadenza.interpreters.code.names import NONDETERMINISTIC as NONDETERMINISTIC
from cadenza.interpreters.code.names import REPLAY_REQUEST as REPLAY_REQUEST
from cadenza.interpreters.code.names import STUCK_TIMER as STUCK_TIMER
from cadenza.interpreters.code.runtime import Issued, Runtime
from cadenza.model.commands import Command, RecordMarker, SetStatus, StartTimer
from cadenza.model.events import JSON

_HINT = (
    "fix the code so that it issues the same tasks in the same order as when this "
    "history was recorded (or guard the change with patched('...')), then send the "
    f"{REPLAY_REQUEST!r} operator request"
)

#: How many tasks a report lists on each side.
_SHOWN = 5


def divergence_report(
    runtime: Runtime, event_type: str, what: str, waiting: Future | None
) -> dict[str, JSON]:
    """History names a task (``what``) that the replayed code never issued."""
    open_items = [
        i
        for i in runtime.issued.values()
        if i.task_id not in runtime.outcomes and i.kind != "marker"
    ]
    got = [i.describe() for i in open_items[-_SHOWN:]]
    return {
        "type": "code.nondeterminism",
        "message": (
            f"nondeterminism at decision {runtime.ordinal}: history says {what}, "
            "but the workflow code replayed today never issued that task"
        ),
        "decision": runtime.ordinal,
        "event": event_type,
        "expected": what,
        "got": got or ["nothing (the code issued no task that is still open)"],
        "waiting_at": waiting.task_id if waiting is not None else None,
        "hint": _HINT,
    }


def skipped_report(ordinal: int, skipped: list[Issued], added: list[Issued]) -> dict[str, JSON]:
    """A run of the code from the start no longer reached tasks earlier runs issued."""
    expected = [i.describe() for i in skipped[:_SHOWN]]
    return {
        "type": "code.nondeterminism",
        "message": (
            f"nondeterminism at decision {ordinal}: the workflow code, run again, no "
            f"longer issues {expected[0]}"
        ),
        "decision": ordinal,
        "event": "rerun of the code",
        "expected": expected,
        "got": [i.describe() for i in added[:_SHOWN]] or ["nothing new"],
        "waiting_at": None,
        "hint": _HINT,
    }


def stuck_commands(report: dict[str, JSON], ordinal: int) -> list[Command]:
    """Stop the execution: the status, the report, and the timer that marks the decision."""
    return [
        SetStatus(NONDETERMINISTIC),
        RecordMarker(kind="code.nondeterminism", details=report),
        StartTimer(f"{STUCK_TIMER}{ordinal}", 0.0),
    ]
