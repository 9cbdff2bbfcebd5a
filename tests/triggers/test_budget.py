"""User conditions and actions run under the expression budget: a runaway one
fails its trigger's firing with ``expression.budget_exceeded``, and the
workspace goes on."""

from __future__ import annotations

import json
import time
from typing import Any

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
