"""Helpers of the triggers tests: CloudEvents, compiling workspaces, deciding."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any

from cadenza.interpreters.triggers import TriggerFunctions, TriggersFrontEnd, Workspace
from cadenza.interpreters.triggers.interpreter import TriggersInterpreter
from cadenza.interpreters.triggers.state import WorkspaceState
from cadenza.model.commands import Command
from cadenza.model.events import Event, ExecutionStarted, SignalReceived

_ids = itertools.count(1)


def cloudevent(
    subject: str, type: str, data: Any = None, *, id: str | None = None, source: str = "tests"
) -> dict[str, Any]:
    """A CloudEvent as a JSON object (a fresh id unless one is given)."""
    return {
        "specversion": "1.0",
        "id": id or f"e{next(_ids)}",
        "source": source,
        "subject": subject,
        "type": type,
        "data": data,
    }


def compile_text(text: str, functions: TriggerFunctions | None = None) -> TriggersInterpreter:
    return TriggersFrontEnd(functions).compile(text)


def compile_workspace(
    workspace: Workspace, functions: TriggerFunctions | None = None
) -> TriggersInterpreter:
    return compile_text(workspace.to_source(), functions)


class Driver:
    """An interpreter and its state, fed events by hand (no engine)."""

    def __init__(self, interpreter: TriggersInterpreter, input: Any = None) -> None:
        self.interpreter = interpreter
        self.state: WorkspaceState = interpreter.new_state()
        self.commands: list[Command] = []
        self.decide([ExecutionStarted(input=input)])

    def decide(self, events: Sequence[Event], now: float = 0.0) -> list[Command]:
        out = self.interpreter.decide(self.state, events, now)
        self.commands.extend(out)
        return out

    def send(self, *events: dict[str, Any]) -> list[Command]:
        return self.decide([SignalReceived(name="cloudevents", data=list(events))])

    def reloaded(self) -> None:
        """Replace the state by its snapshot's reload (as a restarted process would)."""
        self.state = self.interpreter.load_state(self.interpreter.dump_state(self.state))


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
