"""The API views the console's graphs read, on every store: a definition read
as data (a state machine written in YAML, a DAG as the triggers it compiles to)
and a workspace's triggers with how many times each fired."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cadenza.api.server import ServerSettings, create_app
from cadenza.engine.engine import Engine
from cadenza.store.protocol import Store
from cadenza.testing.clock import FakeClock
from cadenza.workers.registry import default_registry

YAML_MACHINE = """\
StartAt: Measure
States:
  Measure: {Type: Pass, Result: {size: 3}, Next: "Big?"}
  Big?:
    Type: Choice
    Choices: [{Variable: $.size, NumericGreaterThan: 2, Next: Large}]
    Default: Small
  Large: {Type: Pass, End: true}
  Small: {Type: Pass, End: true}
"""

DAG = """\
dag:
  name: squares
  tasks:
    split: {action: demo.split}
    square: {action: demo.square, after: [split], map: true}
    total: {action: demo.total, after: [square]}
"""


@pytest.fixture
def engine(store: Store) -> Engine:
    registry = default_registry()
    registry.register("demo.split", lambda n: list(range(1, int(n) + 1)), whole_input=True)
    registry.register("demo.square", lambda x: x * x, whole_input=True)
    registry.register("demo.total", sum, whole_input=True)
    return Engine(store, registry=registry, clock=FakeClock())


@pytest.fixture
def http(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, ServerSettings())) as client:
        yield client


def test_a_yaml_state_machine_is_served_as_data(engine: Engine, http: TestClient) -> None:
    definition_id = engine.register(YAML_MACHINE, kind="states").id
    answer = http.get(f"/v1/definitions/{definition_id}/document")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["kind"] == "states"
    assert body["document"]["States"]["Big?"]["Default"] == "Small"
    assert body["document"]["States"]["Measure"]["Result"] == {"size": 3}
    # Its JSON form reads the same.
    as_json = engine.register(json.dumps(body["document"]), kind="states").id
    assert http.get(f"/v1/definitions/{as_json}/document").json()["document"] == body["document"]


def test_a_dag_is_served_as_the_triggers_it_compiles_to(engine: Engine, http: TestClient) -> None:
    definition_id = engine.register(DAG, kind="triggers").id
    document = http.get(f"/v1/definitions/{definition_id}/document").json()["document"]
    triggers = {t["id"]: t for t in document["triggers"]}
    assert {"split", "square", "total", "__end__", "__failure__"} <= set(triggers)
    assert triggers["total"]["activation"] == [
        {"subject": "square", "type": "event.triggerflow.termination.success"}
    ]
    assert triggers["square"]["action"] == "INVOKE"


def test_a_workspace_s_triggers_say_how_often_they_fired(engine: Engine, http: TestClient) -> None:
    execution_id = engine.start(engine.register(DAG, kind="triggers"), 3)
    before = http.get(f"/v1/executions/{execution_id}/triggers")
    assert before.status_code == 200, before.text
    assert all(t["fired"] == 0 for t in before.json())
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).output == [14]
    fired: dict[str, Any] = {
        t["id"]: t["fired"] for t in http.get(f"/v1/executions/{execution_id}/triggers").json()
    }
    assert fired == {"split": 1, "square": 1, "total": 1, "__end__": 1, "__failure__": 0}


def test_other_kinds_have_no_triggers(engine: Engine, http: TestClient) -> None:
    execution_id = engine.start(engine.register(YAML_MACHINE, kind="states"))
    answer = http.get(f"/v1/executions/{execution_id}/triggers")
    assert answer.status_code == 400
    assert answer.json()["code"] == "input.invalid"
    missing = http.get("/v1/definitions/nope/document")
    assert missing.status_code == 404
