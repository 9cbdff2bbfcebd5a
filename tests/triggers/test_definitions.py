"""Reading workspaces and DAGs: what is recognised, what is refused and why."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cadenza.interpreters.protocol import Recognition
from cadenza.interpreters.triggers import Trigger, TriggerFunctions, TriggersFrontEnd, Workspace
from cadenza.model.errors import DefinitionError, RegistryError

WORKSPACE = """\
workspace: orders
global_context: {region: eu}
sources:
  - {kind: redis, stream: orders}
  - {kind: nats, stream: ORDERS, subject: orders.>}
triggers:
  - id: paid
    activation: [{subject: payment, type: paid}]
    condition: JOIN
    context: {join: 3}
    action: TERMINATE
    timeout: 60
"""

DAG = """\
dag:
  name: fan
  tasks:
    split: {action: core.echo}
    work: {action: core.echo, after: [split], map: true}
    merge: {action: core.echo, after: work}
"""


def test_workspaces_and_dags_are_recognised_and_others_are_not() -> None:
    front_end = TriggersFrontEnd()
    assert front_end.recognize(WORKSPACE) == Recognition.YES
    assert front_end.recognize(DAG) == Recognition.YES
    assert front_end.recognize('{"triggers": []}') == Recognition.YES
    assert front_end.recognize("version: 1.0\ntasks: {}\n") == Recognition.NO
    assert front_end.recognize('{"StartAt": "A", "States": {}}') == Recognition.NO


def test_a_workspace_reads_into_triggers_and_sources() -> None:
    interpreter = TriggersFrontEnd().compile(WORKSPACE)
    workspace = interpreter.workspace
    assert workspace.name == "orders"
    assert [s["name"] for s in workspace.sources] == ["redis:orders", "nats:ORDERS"]
    (paid,) = workspace.triggers
    assert paid == Trigger(
        "paid", (("payment", "paid"),), "JOIN", "TERMINATE", {"join": 3}, True, 60.0
    )


def test_every_problem_is_listed_with_its_path() -> None:
    text = """\
workspace: w
colour: blue
sources: [{kind: kafka}]
triggers:
  - id: a
    activation: [{subject: s}]
    condition: NOPE
  - id: a
    activation: [[s, t]]
    timeout: -1
  - id: b
    activation: [[s, t]]
    action: missing.module:thing
"""
    with pytest.raises(DefinitionError) as caught:
        TriggersFrontEnd().compile(text, origin="w.triggers.yaml")
    found = {(p.spec_path, p.message.split(":")[0]) for p in caught.value.problems}
    assert ("colour", "unknown key (known") in found
    assert ("sources[0].kind", "kind must be one of nats, redis") in found
    assert (
        "triggers[0].activation[0]",
        "both subject and type are required, as non-empty text",
    ) in found
    assert ("triggers[0].condition", "unknown condition 'NOPE'") in found
    assert ("triggers[1].timeout", "the timeout must be a positive number") in found
    assert ("triggers[2].action", "missing.module") in found
    assert "w.triggers.yaml" in caught.value.message


def test_a_duplicate_trigger_id_is_refused() -> None:
    text = "triggers:\n  - {id: a, activation: [[s, t]]}\n  - {id: a, activation: [[s, u]]}\n"
    with pytest.raises(DefinitionError, match="already used by triggers\\[0\\]"):
        TriggersFrontEnd().compile(text)


def test_dag_problems_name_the_task() -> None:
    text = """\
dag:
  tasks:
    a: {action: x, after: [c]}
    b: {action: x, workflow: y}
    c: {action: x, after: [a]}
    d: {action: x, after: [nobody]}
"""
    with pytest.raises(DefinitionError) as caught:
        TriggersFrontEnd().compile(text)
    messages = [str(p) for p in caught.value.problems]
    assert any("dag.tasks.b" in m and "exactly one of action" in m for m in messages)
    assert any("no task is named 'nobody'" in m for m in messages)


def test_a_dag_cycle_is_refused() -> None:
    text = "dag:\n  tasks:\n    a: {action: x, after: [b]}\n    b: {action: x, after: [a]}\n"
    with pytest.raises(DefinitionError, match="a cycle"):
        TriggersFrontEnd().compile(text)


def test_a_dag_compiles_to_one_trigger_per_task_plus_end_and_failure() -> None:
    workspace = TriggersFrontEnd().compile(DAG).workspace
    by_id = {t.id: t for t in workspace.triggers}
    assert list(by_id) == ["split", "work", "merge", "__end__", "__failure__"]
    assert by_id["split"].activation == (("__init__", "event.triggerflow.init"),)
    assert by_id["work"].condition == "DAG_TASK_JOIN"
    assert by_id["work"].context["map"] is True
    assert by_id["__end__"].activation == (("merge", "event.triggerflow.termination.success"),)


def test_the_python_api_round_trips_through_the_definition_text() -> None:
    functions = TriggerFunctions()

    @functions.condition("even")
    def even(ctx: object, event: dict[str, object]) -> bool:
        return True

    workspace = Workspace(
        "w", (Trigger("t", (("s", "t"),), "even", "PASS", {"k": 1}, transient=False),)
    )
    compiled = TriggersFrontEnd(functions).compile(workspace.to_source())
    assert compiled.workspace == workspace
    with pytest.raises(DefinitionError, match="unknown condition 'even'"):
        TriggersFrontEnd().compile(workspace.to_source())


def test_registering_a_builtin_name_or_twice_is_refused() -> None:
    functions = TriggerFunctions()
    with pytest.raises(RegistryError, match="built-in"):
        functions.condition("JOIN")
    functions.action("mine")(lambda ctx, event: None)
    with pytest.raises(RegistryError, match="already registered"):
        functions.action("mine")(lambda ctx, event: None)


@pytest.mark.parametrize(
    ("source", "where"),
    [
        ({"batch": 0}, "sources[0].batch"),
        ({"max_batch": "big"}, "sources[0].max_batch"),
        ({"claim_idle": -1}, "sources[0].claim_idle"),
    ],
)
def test_bad_batch_settings_of_a_source_are_refused_naming_where(
    source: dict[str, Any], where: str
) -> None:
    text = json.dumps(
        {
            "workspace": "w",
            "sources": [{"kind": "redis", "stream": "s", **source}],
            "triggers": [{"id": "x", "activation": [{"subject": "a", "type": "t"}]}],
        }
    )
    with pytest.raises(DefinitionError) as raised:
        TriggersFrontEnd().compile(text)
    assert where in str(raised.value)
