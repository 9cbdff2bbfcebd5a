"""State machines (an ASL subset) compiled onto triggers, and their Choice rules."""

from __future__ import annotations

from typing import Any

import pytest

from cadenza.interpreters.triggers import TriggersFrontEnd
from cadenza.interpreters.triggers.choice import matches, rule_problems
from cadenza.model.errors import DefinitionError
from cadenza.store.protocol import Store
from cadenza.testing.replay import check_replay

from .test_engine import make_engine

ORDER = """\
statemachine:
  StartAt: Price
  States:
    Price: {Type: Task, Resource: demo.price, Next: Route}
    Route:
      Type: Choice
      Choices:
        - {Variable: $.total, NumericGreaterThan: 100, Next: Review}
        - And:
            - {Variable: $.total, NumericGreaterThanEquals: 0}
            - {Not: {Variable: $.country, StringEquals: XX}}
          Next: Ship
      Default: Refuse
    Review: {Type: Pass, Result: {reviewed: true}, Next: Ship}
    Ship: {Type: Task, Resource: demo.ship, End: true}
    Refuse: {Type: Fail, Error: Refused, Cause: cannot ship there}
"""


def engine_for(store: Store) -> Any:
    engine = make_engine(store)
    engine.registry.register(
        "demo.price", lambda order: {**order, "total": order["qty"] * 30}, whole_input=True
    )
    engine.registry.register("demo.ship", lambda order: {"shipped": order}, whole_input=True)
    return engine


@pytest.mark.parametrize(
    ("order", "status", "output"),
    [
        (
            {"qty": 1, "country": "FR"},
            "succeeded",
            {"shipped": {"qty": 1, "country": "FR", "total": 30}},
        ),
        ({"qty": 5, "country": "FR"}, "succeeded", {"shipped": {"reviewed": True}}),
        ({"qty": 1, "country": "XX"}, "failed", None),
    ],
)
def test_a_state_machine_runs_on_triggers(
    store: Store, order: dict[str, Any], status: str, output: Any
) -> None:
    engine = engine_for(store)
    execution_id = engine.start(engine.register(ORDER), order)
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == status, record.errors
    if status == "succeeded":
        assert record.output == output
    else:
        assert record.errors[0]["type"] == "Refused"
        assert record.errors[0]["message"] == "cannot ship there"


def test_a_choice_without_default_fails_when_no_rule_matches(store: Store) -> None:
    text = """\
statemachine:
  StartAt: Route
  States:
    Route:
      Type: Choice
      Choices: [{Variable: $.go, BooleanEquals: true, Next: Done}]
    Done: {Type: Succeed}
"""
    engine = engine_for(store)
    stopped = engine.start(engine.register(text), {"go": False})
    went = engine.start(engine.register(text), {"go": True})
    engine.run_until_idle()
    assert engine.get(stopped).errors[0]["type"] == "States.NoChoiceMatched"
    assert (engine.get(went).status, engine.get(went).output) == ("succeeded", {"go": True})


def test_a_choice_may_loop_back(store: Store) -> None:
    text = """\
statemachine:
  StartAt: Count
  States:
    Count: {Type: Task, Resource: demo.inc, Next: More}
    More:
      Type: Choice
      Choices: [{Variable: $.n, NumericLessThan: 3, Next: Count}]
      Default: Done
    Done: {Type: Succeed}
"""
    engine = engine_for(store)
    engine.registry.register("demo.inc", lambda data: {"n": data["n"] + 1}, whole_input=True)
    execution_id = engine.start(engine.register(text), {"n": 0})
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert (record.status, record.output) == ("succeeded", {"n": 3})
    names = [r.event.name for r in engine.history(execution_id) if r.event.type == "TaskScheduled"]
    assert names == ["Count", "Count", "Count"]


PARALLEL_AND_MAP = """\
statemachine:
  StartAt: Both
  States:
    Both:
      Type: Parallel
      Next: Each
      Branches:
        - StartAt: Double
          States:
            Double: {Type: Task, Resource: demo.double, End: true}
        - StartAt: Label
          States:
            Label: {Type: Pass, Result: [[1, 2], [], [3]], End: true}
    Each:
      Type: Map
      ItemsPath: $[1]
      End: true
      Iterator:
        StartAt: Inner
        States:
          Inner:
            Type: Map
            End: true
            Iterator:
              StartAt: Pair
              States:
                Pair:
                  Type: Parallel
                  End: true
                  Branches:
                    - StartAt: Sq
                      States: {Sq: {Type: Task, Resource: demo.square, End: true}}
                    - StartAt: Same
                      States: {Same: {Type: Pass, End: true}}
"""


def test_parallel_and_nested_maps_keep_their_order(store: Store) -> None:
    engine = engine_for(store)
    engine.registry.register("demo.double", lambda n: n * 2, whole_input=True, replace=True)
    execution_id = engine.start(engine.register(PARALLEL_AND_MAP), 5)
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded", record.errors
    assert record.output == [[[1, 1], [4, 2]], [], [[9, 3]]]
    assert check_replay(engine.compile(PARALLEL_AND_MAP), engine.history(execution_id)) == []


def test_a_map_over_something_that_is_not_a_list_fails_the_run(store: Store) -> None:
    text = """\
statemachine:
  StartAt: Each
  States:
    Each:
      Type: Map
      End: true
      Iterator: {StartAt: P, States: {P: {Type: Pass, End: true}}}
"""
    engine = engine_for(store)
    execution_id = engine.start(engine.register(text), {"not": "a list"})
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "failed"
    assert record.errors[0]["type"] == "States.Runtime"


def test_unsupported_states_and_bad_rules_are_listed() -> None:
    text = """\
statemachine:
  StartAt: A
  States:
    A: {Type: Wait, Seconds: 1, Next: B}
    B: {Type: Task, Resource: x, Next: Nowhere, InputPath: $.a}
    C:
      Type: Choice
      Choices: [{Variable: a.b, StringEquals: x, NumericEquals: 1, Next: B}]
"""
    with pytest.raises(DefinitionError) as caught:
        TriggersFrontEnd().compile(text)
    messages = sorted(str(p) for p in caught.value.problems)
    assert any("'Wait' states are not compiled onto triggers" in m for m in messages)
    assert any("States.B.InputPath" in m for m in messages)
    assert any("no state is named 'Nowhere'" in m for m in messages)
    assert any("exactly one comparison" in m for m in messages)
    assert any("a JSONPath starting with $" in m for m in messages)


@pytest.mark.parametrize(
    ("rule", "data", "expected"),
    [
        ({"Variable": "$.a", "StringEquals": "x"}, {"a": "x"}, True),
        ({"Variable": "$.a", "StringEquals": "x"}, {"a": 1}, False),
        ({"Variable": "$.a[1]", "NumericLessThanEquals": 2}, {"a": [9, 2]}, True),
        ({"Variable": "$['b c']", "IsPresent": True}, {"b c": None}, True),
        ({"Variable": "$.z", "IsPresent": False}, {}, True),
        ({"Variable": "$.z", "NumericEquals": 0}, {}, False),
        ({"Variable": "$.n", "IsNumeric": True}, {"n": True}, False),
        ({"Variable": "$.n", "IsNull": True}, {"n": None}, True),
        (
            {"Or": [{"Variable": "$", "BooleanEquals": True}, {"Variable": "$", "IsString": True}]},
            "s",
            True,
        ),
    ],
)
def test_choice_rules(rule: dict[str, Any], data: Any, expected: bool) -> None:
    assert rule_problems(rule, "r") == []
    assert matches(rule, data) is expected
