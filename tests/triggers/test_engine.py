"""Workspaces and DAGs run by a real engine on every store backend."""

from __future__ import annotations

import json
from typing import Any

from cadenza.engine.engine import Engine
from cadenza.interpreters.triggers import TriggersFrontEnd
from cadenza.model.events import TaskScheduled
from cadenza.store.protocol import Store
from cadenza.testing.clock import FakeClock
from cadenza.testing.replay import check_replay
from cadenza.workers.registry import default_registry

from .support import cloudevent

DAG = """\
dag:
  name: squares
  timeout: 600
  tasks:
    split: {action: demo.split}
    square: {action: demo.square, after: [split], map: true}
    total: {action: demo.total, after: [square]}
"""

WORKSPACE = """\
workspace: payments
triggers:
  - id: all-paid
    activation: [{subject: payment, type: paid}]
    condition: JOIN
    context: {join: 3, result: all paid}
    action: TERMINATE
    timeout: 60
"""


def make_engine(store: Store, **kwargs: Any) -> Engine:
    registry = default_registry()
    registry.register("demo.split", lambda n: list(range(1, n + 1)), whole_input=True)
    registry.register("demo.square", lambda x: x * x, whole_input=True)
    registry.register("demo.total", lambda values: sum(values), whole_input=True)
    registry.register("demo.fail", lambda _: 1 / 0, whole_input=True)
    return Engine(
        store,
        registry=registry,
        clock=kwargs.pop("clock", None) or FakeClock(),
        front_ends={"triggers": TriggersFrontEnd()},
        **kwargs,
    )


def test_a_dag_fans_out_at_run_time_and_joins(store: Store) -> None:
    engine = make_engine(store)
    definition = engine.register(DAG)
    assert definition.kind == "triggers"
    execution_id = engine.start(definition, 4)
    engine.run_until_idle()

    record = engine.get(execution_id)
    assert record.status == "succeeded", record.errors
    assert record.output == [1 + 4 + 9 + 16]
    scheduled = [
        r.event for r in engine.history(execution_id) if isinstance(r.event, TaskScheduled)
    ]
    assert sorted(e.name for e in scheduled) == [
        "split",
        "square",
        "square",
        "square",
        "square",
        "total",
    ]
    assert check_replay(engine.compile(DAG), engine.history(execution_id)) == []


def test_a_failing_dag_task_fails_the_run(store: Store) -> None:
    engine = make_engine(store)
    text = DAG.replace("demo.square", "demo.fail")
    execution_id = engine.start(engine.register(text), 2)
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "failed"
    assert record.errors[0]["trigger"] == "__failure__"


def test_events_sent_as_signals_join_and_duplicates_count_once(store: Store) -> None:
    engine = make_engine(store)
    execution_id = engine.start(engine.register(WORKSPACE))
    engine.run_until_idle()
    first = cloudevent("payment", "paid", id="p1")
    engine.signal(execution_id, "cloudevents", [first, cloudevent("stray", "x", id="s1")])
    engine.signal(execution_id, "cloudevent", first)
    engine.signal(execution_id, "cloudevent", cloudevent("payment", "paid", id="p2"))
    engine.run_until_idle()
    view = engine.describe(execution_id)
    assert view.status == "running"
    assert view.output["consumed"] == 3
    assert view.output["duplicates"] == 1
    assert view.output["dead_letters"] == 1
    dead = engine.history_view(execution_id, "dead-letters")
    assert [d["event"]["id"] for d in dead] == ["s1"]

    engine.signal(execution_id, "cloudevent", cloudevent("payment", "paid", id="p3"))
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded"
    assert record.output == "all paid"


def test_a_join_that_never_completes_times_out_visibly(store: Store) -> None:
    clock = FakeClock()
    engine = make_engine(store, clock=clock)
    execution_id = engine.start(engine.register(WORKSPACE))
    engine.run_until_idle()
    engine.signal(execution_id, "cloudevent", cloudevent("payment", "paid"))
    engine.run_until_idle(skip_time=True)
    view = engine.describe(execution_id)
    assert view.output["timeouts"] == ["all-paid"]
    assert {t.name: t.status for t in view.tasks} == {"all-paid": "timed_out"}
    assert [m["trigger"] for m in engine.history_view(execution_id, "timeouts")] == ["all-paid"]


def test_a_trigger_added_by_an_operator_handles_dead_letters_on_replay(store: Store) -> None:
    engine = make_engine(store)
    execution_id = engine.start(engine.register(WORKSPACE))
    engine.signal(execution_id, "cloudevent", cloudevent("refund", "issued", id="r1"))
    engine.run_until_idle()
    trigger = {
        "id": "refunds",
        "activation": [{"subject": "refund", "type": "issued"}],
        "action": "TERMINATE",
        "context": {"result": "refunded"},
    }
    engine.operator_request(execution_id, "add-trigger", {"trigger": trigger}, by="ops")
    engine.operator_request(execution_id, "replay-dead-letters", {}, by="ops")
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded"
    assert record.output == "refunded"
    changes = engine.history_view(execution_id, "changes")
    assert [(c["op"], c["trigger"], c["by"]) for c in changes] == [
        ("add", "refunds", "operator:ops")
    ]


DOUBLE = "arn:aws:lambda:us-east-1:111111111111:function:double"
STATE_MACHINE = json.dumps(
    {"StartAt": "Double", "States": {"Double": {"Type": "Task", "Resource": DOUBLE, "End": True}}}
)

CALLS_A_STATE_MACHINE = """\
workspace: orders
triggers:
  - id: on-order
    activation: [{subject: order, type: placed}]
    action: START_WORKFLOW
    context: {definition: doubler, subject: doubled}
  - id: done
    activation: [{subject: doubled, type: event.triggerflow.termination.success}]
    condition: FUNCTION_JOIN
    action: TERMINATE
  - id: broken
    activation: [{subject: doubled, type: event.triggerflow.termination.failure}]
    action: FAIL
"""


def test_an_action_starts_a_state_machine_and_fires_when_it_ends(store: Store) -> None:
    from cadenza.interpreters.states.frontend import StatesFrontEnd

    registry = default_registry()
    registry.register(DOUBLE, lambda x: {"n": x["n"] * 2}, whole_input=True)
    engine = Engine(
        store,
        registry=registry,
        clock=FakeClock(),
        front_ends={"triggers": TriggersFrontEnd(), "states": StatesFrontEnd()},
    )
    engine.register(STATE_MACHINE, kind="states", name="doubler")
    execution_id = engine.start(engine.register(CALLS_A_STATE_MACHINE))
    engine.signal(execution_id, "cloudevent", cloudevent("order", "placed", {"n": 21}))
    engine.run_until_idle()

    record = engine.get(execution_id)
    assert record.status == "succeeded", record.errors
    assert record.output == {"n": 42}
    (child,) = store.list_executions(parent_id=execution_id)
    assert (child.kind, child.status) == ("states", "succeeded")
