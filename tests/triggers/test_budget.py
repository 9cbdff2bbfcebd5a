"""User conditions and actions run under the expression budget: a runaway one
fails its trigger's firing with ``expression.budget_exceeded``, and the
workspace goes on."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.expressions.budget import ExpressionBudget, applied
from cadenza.interpreters.triggers import (
    Trigger,
    TriggerContext,
    TriggerFunctions,
    TriggersFrontEnd,
    Workspace,
)
from cadenza.model.commands import CompleteExecution, RecordMarker
from cadenza.testing.clock import FakeClock

from .support import Driver, cloudevent, compile_workspace

TIGHT = ExpressionBudget(cpu_seconds=0.05, max_bytes=10_000, max_items=1000)


def runaway_functions() -> TriggerFunctions:
    functions = TriggerFunctions()

    @functions.condition("spins")
    def spins(ctx: TriggerContext, event: Any) -> bool:
        n = 0
        while True:  # no call in the loop: only the lines it runs are seen
            n += 1

    @functions.condition("recurses")
    def recurses(ctx: TriggerContext, event: Any) -> bool:
        def down(n: int) -> int:
            return down(n + 1) + 1

        return down(0) > 0

    @functions.action("hoards")
    def hoards(ctx: TriggerContext, event: Any) -> None:
        ctx.context["hoard"] = ["x" * 100] * 1000

    @functions.condition("even")
    def even(ctx: TriggerContext, event: Any) -> bool:
        return int(event["data"]) % 2 == 0

    return functions


def errors(commands: list[Any]) -> list[dict[str, Any]]:
    return [
        c.details for c in commands if isinstance(c, RecordMarker) and c.kind == "triggers.error"
    ]


def workspace() -> Workspace:
    return Workspace(
        "w",
        (
            Trigger("spin", (("spin", "t"),), "spins", "TERMINATE"),
            Trigger("deep", (("deep", "t"),), "recurses", "TERMINATE"),
            Trigger("hoard", (("hoard", "t"),), "TRUE", "hoards", transient=False),
            Trigger("done", (("n", "t"),), "even", "TERMINATE", {"result": "done"}),
        ),
    )


def test_a_runaway_condition_fails_its_firing_and_the_workspace_goes_on() -> None:
    driver = Driver(compile_workspace(workspace(), runaway_functions()))
    with applied(TIGHT, cpu_clock=time.thread_time):
        began = time.thread_time()
        out = driver.send(cloudevent("spin", "t"))
        spent = time.thread_time() - began
        (error,) = errors(out)
        assert error["code"] == "expression.budget_exceeded"
        assert error["trigger"] == "spin" and error["stage"] == "condition"
        assert "cpu_seconds" in error["error"]
        assert spent < 30  # stopped, not run forever (a bound, not a speed figure)
        assert driver.state.triggers["spin"].fired == 0

        (error,) = errors(driver.send(cloudevent("deep", "t")))
        assert error["code"] == "expression.budget_exceeded"
        assert "max_depth" in error["error"]

        (error,) = errors(driver.send(cloudevent("hoard", "t")))
        assert (error["stage"], error["code"]) == ("action", "expression.budget_exceeded")
        assert "max_bytes" in error["error"]

        out = driver.send(cloudevent("n", "t", 3), cloudevent("n", "t", 4))
    assert errors(out) == []
    assert [c for c in out if isinstance(c, CompleteExecution)] == [
        CompleteExecution("succeeded", "done", [])
    ]


def test_built_in_conditions_and_actions_are_not_metered() -> None:
    big = Trigger("big", (("b", "t"),), "TRUE", "TERMINATE", {"result": "x" * 50})
    driver = Driver(compile_workspace(Workspace("w", (big,))))
    with applied(ExpressionBudget(max_bytes=10), cpu_clock=time.thread_time):
        out = driver.send(cloudevent("b", "t"))
    assert errors(out) == []
    assert driver.state.status == "succeeded"


def test_the_engine_applies_its_budget_to_trigger_conditions(tmp_path: Any) -> None:
    engine = Engine(
        f"sqlite:///{tmp_path / 'c.db'}",
        clock=FakeClock(),
        front_ends={"triggers": TriggersFrontEnd(functions=runaway_functions())},
        expression_budget=ExpressionBudget(cpu_seconds=0.05),
    )
    execution_id = engine.start(engine.register(workspace().to_source(), kind="triggers"))
    engine.run_until_idle()
    engine.signal(execution_id, "cloudevents", [cloudevent("spin", "t")])
    engine.run_until_idle()
    view = engine.describe(execution_id)
    assert view.status == "running"
    spin = {t.name: t for t in view.tasks}["spin"]
    assert "expression.budget_exceeded" in json.dumps(spin.result)
    engine.signal(execution_id, "cloudevents", [cloudevent("n", "t", 8)])
    engine.run_until_idle()
    assert engine.get(execution_id).output == "done"
    engine.close()


def test_without_a_cpu_clock_the_lines_run_are_counted_the_same_in_every_run() -> None:
    def tripped() -> dict[str, Any]:
        driver = Driver(compile_workspace(workspace(), runaway_functions()))
        with applied(ExpressionBudget(cpu_seconds=0.01), cpu_clock=None):
            (error,) = errors(driver.send(cloudevent("spin", "t")))
        return error

    first = tripped()
    assert first["code"] == "expression.budget_exceeded"
    assert "ran more than 50000 lines" in first["error"]
    assert tripped() == first


#: Interrupts a user condition kept past its call (see the test below).
_kept: list[BaseException] = []


def stubborn_functions() -> TriggerFunctions:
    """User code that catches the budget's interrupt and carries on (and
    ``even``, which runs normally)."""
    functions = runaway_functions()

    @functions.condition("swallows")
    def swallows(ctx: TriggerContext, event: Any) -> bool:
        while True:
            try:
                n = 0
                while True:
                    n += 1
            except:  # noqa: E722 - catching everything is the point
                pass

    @functions.condition("nested")
    def nested(ctx: TriggerContext, event: Any) -> bool:
        def spin() -> None:
            n = 0
            while True:
                n += 1

        while True:
            try:
                try:
                    spin()
                except BaseException as exc:  # noqa: F841 - released at the handler's end
                    continue
            except:  # noqa: E722
                pass

    @functions.condition("says-yes")
    def says_yes(ctx: TriggerContext, event: Any) -> bool:
        try:
            n = 0
            while True:
                n += 1
        except BaseException:
            return True

    @functions.action("covers-up")
    def covers_up(ctx: TriggerContext, event: Any) -> None:
        try:
            n = 0
            while True:
                n += 1
        except BaseException:
            raise ValueError("nothing to see") from None

    @functions.condition("keeps")
    def keeps(ctx: TriggerContext, event: Any) -> bool:
        try:
            n = 0
            while True:
                n += 1
        except BaseException as exc:
            _kept.append(exc)
        return True

    return functions


STUBBORN = Workspace(
    "w",
    (
        Trigger("swallows", (("swallows", "t"),), "swallows", "TERMINATE"),
        Trigger("nested", (("nested", "t"),), "nested", "TERMINATE"),
        Trigger("says-yes", (("says-yes", "t"),), "says-yes", "TERMINATE"),
        Trigger("covers-up", (("covers-up", "t"),), "TRUE", "covers-up"),
        Trigger("keeps", (("keeps", "t"),), "keeps", "PASS"),
        Trigger("done", (("n", "t"),), "even", "TERMINATE", {"result": "done"}),
    ),
)


def decide_in_a_thread(driver: Driver, event: dict[str, Any], clock: Any) -> list[Any]:
    """Send ``event``; a condition that is never stopped fails the test instead
    of hanging it (the thread is left spinning, as a daemon)."""
    out: list[Any] = []

    def run() -> None:
        with applied(ExpressionBudget(cpu_seconds=0.01), cpu_clock=clock):
            out.extend(driver.send(event))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), f"{event['subject']} was never stopped"
    return out


@pytest.mark.parametrize("clock", [None, time.thread_time], ids=["lines", "cpu-clock"])
@pytest.mark.parametrize(
    ("subject", "stage"),
    [("swallows", "condition"), ("nested", "condition"), ("says-yes", "condition")],
)
def test_user_code_that_catches_the_interrupt_is_stopped_and_does_not_fire(
    subject: str, stage: str, clock: Any
) -> None:
    functions = stubborn_functions()
    driver = Driver(compile_workspace(STUBBORN, functions))
    before = sys.gettrace()
    (error,) = errors(decide_in_a_thread(driver, cloudevent(subject, "t"), clock))
    assert (error["trigger"], error["stage"]) == (subject, stage)
    assert error["code"] == "expression.budget_exceeded"
    assert "cpu_seconds" in error["error"]
    assert driver.state.triggers[subject].fired == 0
    assert sys.gettrace() is before
    # The workspace goes on, and its next user condition runs normally.
    out = decide_in_a_thread(driver, cloudevent("n", "t", 2), clock)
    assert [c for c in out if isinstance(c, CompleteExecution)] == [
        CompleteExecution("succeeded", "done", [])
    ]


def test_an_action_that_turns_the_interrupt_into_its_own_error_fails_as_over_budget() -> None:
    functions = stubborn_functions()
    driver = Driver(compile_workspace(STUBBORN, functions))
    (error,) = errors(decide_in_a_thread(driver, cloudevent("covers-up", "t"), None))
    assert (error["trigger"], error["stage"]) == ("covers-up", "action")
    assert error["code"] == "expression.budget_exceeded"
    assert "nothing to see" not in error["error"]


def test_an_interrupt_kept_past_the_call_does_not_trace_the_engine_when_released() -> None:
    functions = stubborn_functions()
    driver = Driver(compile_workspace(STUBBORN, functions))
    seen: list[Any] = []

    def run() -> None:
        with applied(ExpressionBudget(cpu_seconds=0.01), cpu_clock=None):
            seen.extend(errors(driver.send(cloudevent("keeps", "t"))))
            _kept.clear()  # the interrupt is released here, outside the user's call
            seen.append(sys.gettrace())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    error, trace_after = seen
    assert error["code"] == "expression.budget_exceeded"
    assert trace_after is None
    assert driver.state.triggers["keeps"].fired == 0
