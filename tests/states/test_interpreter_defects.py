"""A defect inside ``decide`` is never dropped: it fails a running execution with
``States.Runtime``, and is raised otherwise (the engine records it)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cadenza.interpreters.states import interpreter
from cadenza.interpreters.states.frontend import StatesFrontEnd
from cadenza.interpreters.states.interpreter import StatesInterpreter
from cadenza.interpreters.states.runtime import Run
from cadenza.interpreters.states.state import Thread
from cadenza.model.commands import CompleteExecution
from cadenza.model.events import CancelRequested, Event, ExecutionStarted

PASS_MACHINE = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
META = {"execution_id": "exec-1", "definition_name": "m", "start_time": 100.0}


def compile_machine(definition: dict[str, Any]) -> StatesInterpreter:
    return StatesFrontEnd().compile(json.dumps(definition))


def broken_work(run: Run, th: Thread) -> None:
    raise RuntimeError("the work broke")


def test_a_defect_while_running_fails_the_execution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(interpreter._WORK, "Pass", broken_work)
    interp = compile_machine(PASS_MACHINE)
    state = interp.new_state()
    commands = interp.decide(state, [ExecutionStarted(input={}, meta=META)], 0.0)
    final = [c for c in commands if isinstance(c, CompleteExecution)]
    assert [c.status for c in final] == ["failed"]
    assert final[0].errors == [{"error": "States.Runtime", "cause": "RuntimeError: the work broke"}]
    assert (state["status"], state["error"]) == ("FAILED", "States.Runtime")


def test_a_defect_before_the_start_is_raised() -> None:
    interp = compile_machine(PASS_MACHINE)
    state = interp.new_state()
    started = ExecutionStarted(input={}, meta={**META, "start_time": "not a time"})
    with pytest.raises(ValueError):
        interp.decide(state, [started], 0.0)
    assert state["status"] == "NEW"


def test_a_defect_after_the_end_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    interp = compile_machine(PASS_MACHINE)
    state = interp.new_state()
    interp.decide(state, [ExecutionStarted(input={"a": 1}, meta=META)], 0.0)
    assert state["status"] == "SUCCEEDED"

    def broken_fold(run: Run, event: Event) -> None:
        raise KeyError("lost")

    monkeypatch.setattr(interp, "_fold", broken_fold)
    with pytest.raises(KeyError):
        interp.decide(state, [CancelRequested()], 1.0)
    assert (state["status"], state["output"]) == ("SUCCEEDED", {"a": 1})
