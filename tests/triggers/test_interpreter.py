"""The workspace interpreter on its own: built-ins, deduplication, dead letters,
interception, timeouts, user functions, and state that survives a reload."""

from __future__ import annotations

from typing import Any

import pytest

from cadenza.interpreters.triggers import Trigger, TriggerContext, TriggerFunctions, Workspace
from cadenza.interpreters.triggers.model import FAILURE_TYPE, SUCCESS_TYPE, TIMEOUT_TYPE
from cadenza.model.commands import (
    CancelTask,
    CompleteExecution,
    RecordMarker,
    RejectRequest,
    ScheduleTask,
    StartChild,
    StartTimer,
)
from cadenza.model.events import (
    CancelRequested,
    OperatorRequested,
    PauseRequested,
    SignalReceived,
    TaskCompleted,
    TimerFired,
)

from .support import Driver, cloudevent, compile_workspace


def one(trigger: Trigger, *more: Trigger, functions: TriggerFunctions | None = None) -> Driver:
    return Driver(compile_workspace(Workspace("w", (trigger, *more)), functions))


def completions(commands: list[Any]) -> list[CompleteExecution]:
    return [c for c in commands if isinstance(c, CompleteExecution)]


def markers(commands: list[Any], kind: str) -> list[Any]:
    return [c.details for c in commands if isinstance(c, RecordMarker) and c.kind == kind]


def test_join_fires_once_when_the_count_is_reached() -> None:
    driver = one(Trigger("j", (("a", "done"),), "JOIN", "TERMINATE", {"join": 3, "result": 7}))
    assert completions(driver.send(cloudevent("a", "done"), cloudevent("a", "done"))) == []
    out = driver.send(cloudevent("a", "done"), cloudevent("a", "done"))
    assert completions(out) == [CompleteExecution("succeeded", 7, [])]
    assert driver.state.triggers["j"].context["counter"] == 3
    assert driver.state.triggers["j"].fired == 1


def test_a_redelivered_event_is_counted_once_even_after_a_reload() -> None:
    driver = one(Trigger("j", (("a", "done"),), "COUNTER_THRESHOLD", "PASS", {"threshold": 9}))
    first = cloudevent("a", "done", id="1", source="redis:orders")
    driver.send(first, cloudevent("a", "done", id="2", source="redis:orders"))
    driver.reloaded()
    # the same id from the same source is a duplicate; from another source it is not
    driver.send(first, cloudevent("a", "done", id="1", source="nats:orders"))
    assert driver.state.triggers["j"].context["counter"] == 3
    assert (driver.state.consumed, driver.state.duplicates) == (3, 1)


def test_an_unmatched_event_is_a_dead_letter_until_replayed() -> None:
    driver = one(Trigger("t", (("a", "done"),), "TRUE", "PASS", transient=False))
    stray = cloudevent("b", "done", id="x")
    out = driver.send(stray, {"id": "no-source"})
    assert [d["reason"] for d in driver.state.dead_letters] == [
        "no trigger is activated by its subject and type",
        "not a CloudEvent: source is missing or not text",
    ]
    assert len(markers(out, "triggers.dead_letter")) == 2

    refused = driver.decide([OperatorRequested("replay-dead-letters", {"subject": "nobody"})])
    assert isinstance(refused[0], RejectRequest)

    adding = {"trigger": {"id": "b", "activation": [["b", "done"]], "transient": False}}
    driver.decide([OperatorRequested("add-trigger", adding, by="ops")])
    driver.decide([OperatorRequested("replay-dead-letters", {"subject": "b"})])
    assert driver.state.triggers["b"].fired == 1
    assert [d["reason"] for d in driver.state.dead_letters] == [
        "not a CloudEvent: source is missing or not text"
    ]
    # replaying does not make the event new: a redelivery is still a duplicate
    driver.send(stray)
    assert driver.state.triggers["b"].fired == 1


def test_transient_triggers_fire_once_and_persistent_ones_keep_firing() -> None:
    driver = one(
        Trigger("once", (("a", "t"),), "TRUE", "PASS"),
        Trigger("always", (("a", "t"),), "TRUE", "PASS", transient=False),
    )
    driver.send(cloudevent("a", "t"), cloudevent("a", "t"), cloudevent("a", "t"))
    assert driver.state.triggers["once"].fired == 1
    assert driver.state.triggers["always"].fired == 3
    assert driver.state.dead_letters == []


def test_invoke_runs_per_item_and_raises_the_downstream_join() -> None:
    driver = one(
        Trigger(
            "fan",
            (("go", "start"),),
            "TRUE",
            "INVOKE",
            {"activity": "core.echo", "map": True, "subject": "work"},
        ),
        Trigger("gather", (("work", SUCCESS_TYPE),), "FUNCTION_JOIN", "TERMINATE"),
    )
    out = driver.send(cloudevent("go", "start", [10, 20, 30]))
    tasks = [c for c in out if isinstance(c, ScheduleTask)]
    assert [(t.action, t.input, t.name) for t in tasks] == [
        ("core.echo", 10, "work"),
        ("core.echo", 20, "work"),
        ("core.echo", 30, "work"),
    ]
    assert driver.state.triggers["gather"].context["total_activations"] == 3
    assert markers(out, "triggers.change")[0]["op"] == "join"
    for task in tasks[:2]:
        assert completions(driver.decide([TaskCompleted(task.task_id, result=task.input)])) == []
    driver.decide([TaskCompleted(tasks[2].task_id, result=30)])
    assert driver.state.status == "succeeded"


def test_a_failed_task_is_a_failure_event_and_a_late_answer_is_ignored() -> None:
    driver = one(
        Trigger("run", (("go", "start"),), "TRUE", "INVOKE", {"activity": "x", "subject": "s"}),
        Trigger("bad", (("s", FAILURE_TYPE),), "TRUE", "FAIL"),
    )
    (task,) = [c for c in driver.send(cloudevent("go", "start")) if isinstance(c, ScheduleTask)]
    error = {"type": "Boom", "message": "no"}
    out = driver.decide([TaskCompleted(task.task_id, "failed", None, error)])
    (done,) = completions(out)
    assert done.status == "failed"
    assert done.errors[0]["details"]["data"]["error"] == error
    assert driver.decide([TaskCompleted(task.task_id, "succeeded")]) == []


def test_start_workflow_starts_children_that_end_as_termination_events() -> None:
    driver = one(
        Trigger("call", (("go", "start"),), "TRUE", "START_WORKFLOW", {"definition": "flow"}),
        Trigger("end", (("call", SUCCESS_TYPE),), "JOIN", "TERMINATE", {"join": -1}),
    )
    (child,) = [
        c for c in driver.send(cloudevent("go", "start", {"n": 1})) if isinstance(c, StartChild)
    ]
    assert (child.definition, child.input, child.name) == ("flow", {"n": 1}, "call")
    driver.decide([TaskCompleted(child.task_id, result={"ok": True})])
    assert driver.state.status == "succeeded"


def test_an_action_may_change_other_triggers_and_it_is_recorded() -> None:
    functions = TriggerFunctions()

    @functions.action("rewire")
    def rewire(ctx: TriggerContext, event: dict[str, Any]) -> None:
        ctx.update_context("j", {"join": 1})
        ctx.add_trigger({"id": "late", "activation": [{"subject": "z", "type": "t"}]})
        ctx.remove_trigger("gone")

    driver = one(
        Trigger("r", (("go", "t"),), "TRUE", "rewire"),
        Trigger("j", (("a", "t"),), "JOIN", "TERMINATE", {"join": 5}),
        Trigger("gone", (("a", "t"),), "TRUE", "PASS"),
        functions=functions,
    )
    out = driver.send(cloudevent("go", "t"))
    assert [c["op"] for c in markers(out, "triggers.change")] == ["context", "add", "remove"]
    assert "gone" not in driver.state.triggers
    driver.send(cloudevent("z", "t"))
    assert driver.state.triggers["late"].fired == 1
    driver.send(cloudevent("a", "t"))
    assert driver.state.status == "succeeded"


def test_an_exception_in_user_code_is_kept_on_the_trigger() -> None:
    functions = TriggerFunctions()

    @functions.condition("picky")
    def picky(ctx: TriggerContext, event: dict[str, Any]) -> bool:
        return bool(event["data"]["ok"])

    driver = one(Trigger("p", (("a", "t"),), "picky", "TERMINATE"), functions=functions)
    out = driver.send(cloudevent("a", "t", None))
    assert driver.state.triggers["p"].context["exception"].startswith("TypeError")
    assert markers(out, "triggers.error")[0]["stage"] == "condition"
    driver.send(cloudevent("a", "t", {"ok": True}))
    assert driver.state.status == "succeeded"


def test_a_timeout_fires_only_for_a_trigger_that_has_not_fired() -> None:
    driver = one(
        Trigger("j", (("a", "t"),), "JOIN", "PASS", {"join": 2}, timeout=30),
        Trigger("late", (("j", TIMEOUT_TYPE),), "TRUE", "FAIL"),
        Trigger("k", (("b", "t"),), "TRUE", "PASS", timeout=30),
    )
    timers = [c for c in driver.commands if isinstance(c, StartTimer)]
    assert [(t.timer_id, t.delay) for t in timers] == [("timeout:j", 30.0), ("timeout:k", 30.0)]
    driver.send(cloudevent("b", "t"), cloudevent("a", "t"))
    assert driver.decide([TimerFired("timeout:k")]) == []
    out = driver.decide([TimerFired("timeout:j")])
    assert markers(out, "triggers.timeout") == [{"trigger": "j"}]
    assert completions(out)[0].status == "failed"
    assert driver.state.timeouts == ["j"]


def test_cancel_withdraws_outstanding_tasks_and_pause_is_refused() -> None:
    driver = one(Trigger("run", (("go", "t"),), "TRUE", "INVOKE", {"activity": "x"}))
    (task,) = [c for c in driver.send(cloudevent("go", "t")) if isinstance(c, ScheduleTask)]
    assert isinstance(driver.decide([PauseRequested()])[0], RejectRequest)
    out = driver.decide([CancelRequested()])
    assert out == [CancelTask(task.task_id), CompleteExecution("canceled", None, [])]


def test_an_unknown_signal_is_refused() -> None:
    driver = one(Trigger("t", (("a", "t"),)))
    (refusal,) = driver.decide([SignalReceived(name="hello", data=1)])
    assert isinstance(refusal, RejectRequest)
    assert "cloudevents" in refusal.error["message"]


@pytest.mark.parametrize("reload_between", [False, True])
def test_the_same_events_give_the_same_commands(reload_between: bool) -> None:
    def run() -> list[Any]:
        driver = one(
            Trigger("fan", (("go", "t"),), "TRUE", "INVOKE", {"activity": "a", "map": True}),
            Trigger("j", (("fan", SUCCESS_TYPE),), "FUNCTION_JOIN", "TERMINATE"),
        )
        driver.send(cloudevent("go", "t", [1, 2], id="g"))
        if reload_between:
            driver.reloaded()
        for task_id in ("fan.1", "fan.2"):
            driver.decide([TaskCompleted(task_id, result=task_id)])
        return driver.commands

    assert run() == run()
    assert completions(run())[0].status == "succeeded"


def test_a_trigger_that_keeps_reactivating_itself_fails_the_workspace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cadenza.interpreters.triggers.decision import Decision

    monkeypatch.setattr(Decision, "max_internal_events", 50)
    loop = {"subject": "spin", "type": "again"}
    driver = one(Trigger("spin", (("spin", "again"),), "TRUE", "EMIT", {"emit": loop}, False))
    (done,) = completions(driver.send(cloudevent("spin", "again")))
    assert done.status == "failed"
    assert done.errors[0]["type"] == "triggers.runaway"
    assert driver.state.triggers["spin"].fired == 51
