"""Values over the per-value ceiling: the step fails once, for good, with the size
named; a request bringing one is refused whole; nothing is half written."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.test_http_api import register, start_server
from cadenza.engine.engine import Engine
from cadenza.model.errors import PayloadTooLarge
from cadenza.model.events import TaskAttemptFailed, TaskCompleted
from cadenza.model.retry import RetryPolicy
from cadenza.store.payloads import PayloadLimits
from cadenza.workers.registry import default_registry
from kernel.steps import StepsFrontEnd, steps
from store.test_payload_blobs import open_with, raw_rows

LIMITS = PayloadLimits(inline_bytes=1024, max_value_bytes=100_000)

WORKFLOW = """\
version: 1.0
input:
  - size
tasks:
  make:
    action: test.big size=<% ctx(size) %>
output:
  - made: <% ctx(size) %>
"""


@pytest.fixture
def calls() -> list[int]:
    return []


@pytest.fixture
def engine(store_url: str, calls: list[int]) -> Iterator[Engine]:
    registry = default_registry()

    def big(size: int) -> dict[str, str]:
        calls.append(size)
        return {"data": "x" * size}

    registry.register("test.big", big)
    running = Engine(open_with(store_url, LIMITS), registry=registry)
    yield running
    running.close()


def test_a_result_over_the_ceiling_fails_its_step_once_naming_task_and_size(
    store_url: str, calls: list[int]
) -> None:
    registry = default_registry()

    def big(size: int) -> dict[str, str]:
        calls.append(size)
        return {"data": "x" * size}

    registry.register("test.big", big)
    # The task's retry policy would try three times: the failure is non-retryable.
    retry = RetryPolicy(max_attempts=3, initial_delay=0)
    engine = Engine(
        open_with(store_url, LIMITS), registry=registry, front_ends={"steps": StepsFrontEnd(retry)}
    )
    definition = engine.register(
        steps({"name": "make", "action": "test.big", "input": {"size": 200_000}}), kind="steps"
    )
    done = engine.run(definition, timeout=60)
    assert done.status == "failed"
    assert calls == [200_000]
    history = [r.event for r in engine.history(done.id)]
    assert not [e for e in history if isinstance(e, TaskAttemptFailed)]
    [completed] = [e for e in history if isinstance(e, TaskCompleted)]
    assert completed.status == "failed" and completed.result is None
    assert completed.error is not None
    assert completed.error["type"] == "payload.too_large"
    assert completed.error["non_retryable"] is True
    message = str(completed.error["message"])
    assert "'make'" in message and "200011 bytes" in message and "max_value_bytes=100000" in message
    # Nothing of the value was kept anywhere.
    [(largest,)] = raw_rows(
        store_url, "SELECT MAX(LENGTH(payload)) FROM history WHERE execution_id = ?", done.id
    )
    assert largest < 10_000
    for text in (json.dumps("x" * 200_000), json.dumps({"data": "x" * 200_000})):
        digest = hashlib.sha256(text.replace(", ", ",").replace(": ", ":").encode()).hexdigest()
        assert raw_rows(store_url, "SELECT COUNT(*) FROM blobs WHERE digest = ?", digest) == [(0,)]
    engine.close()


def test_an_orquesta_workflow_fails_with_the_size_in_its_errors(
    engine: Engine, calls: list[int]
) -> None:
    definition = engine.register(WORKFLOW, kind="orquesta")
    done = engine.run(definition, {"size": 200_000}, timeout=60)
    assert done.status == "failed" and calls == [200_000]
    assert "payload.too_large" in str(done.errors) and "200011 bytes" in str(done.errors)


def test_a_result_under_the_ceiling_still_succeeds(engine: Engine) -> None:
    definition = engine.register(WORKFLOW, kind="orquesta")
    done = engine.run(definition, {"size": 90_000}, timeout=60)
    assert done.status == "succeeded" and done.output == {"made": 90_000}


def test_an_input_over_the_ceiling_is_refused_and_nothing_is_written(
    engine: Engine, store_url: str
) -> None:
    definition = engine.register(WORKFLOW, kind="orquesta")
    with pytest.raises(PayloadTooLarge, match="execution input") as refused:
        engine.start(definition, {"size": 1, "padding": "y" * 150_000})
    assert refused.value.code == "payload.too_large"
    assert refused.value.details["limit"] == 100_000
    assert refused.value.details["size"] > 150_000
    assert engine.store.list_executions() == []
    assert raw_rows(store_url, "SELECT COUNT(*) FROM inbox") == [(0,)]


def test_a_signal_over_the_ceiling_is_refused_and_history_is_unchanged(
    engine: Engine, store_url: str
) -> None:
    waiting = "version: 1.0\ntasks:\n  wait:\n    action: core.ask\n"
    definition = engine.register(waiting, kind="orquesta")
    execution_id = engine.start(definition)
    engine.decide()
    before = engine.history(execution_id)
    with pytest.raises(PayloadTooLarge, match="signal 'poke'"):
        engine.signal(execution_id, "poke", {"blob": "z" * 150_000})
    assert engine.history(execution_id) == before
    assert raw_rows(
        store_url, "SELECT COUNT(*) FROM inbox WHERE execution_id = ?", execution_id
    ) == [(0,)]


def test_limits_come_from_the_environment_and_bad_ones_are_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CADENZA_PAYLOAD_INLINE_BYTES", "4096")
    monkeypatch.setenv("CADENZA_PAYLOAD_MAX_VALUE_BYTES", "1000000")
    found = PayloadLimits.from_environment()
    assert (found.inline_bytes, found.max_value_bytes) == (4096, 1_000_000)
    monkeypatch.setenv("CADENZA_PAYLOAD_INLINE_BYTES", "lots")
    with pytest.raises(Exception, match="CADENZA_PAYLOAD_INLINE_BYTES must be a whole number"):
        PayloadLimits.from_environment()
    with pytest.raises(Exception, match="max_value_bytes must be a positive"):
        PayloadLimits(max_value_bytes=0)


def test_the_api_answers_413_for_an_input_over_the_ceiling(store_url: str, tmp_path: Path) -> None:
    server = start_server(
        store_url, tmp_path, extra_env={"CADENZA_PAYLOAD_MAX_VALUE_BYTES": "100000"}
    )
    try:
        definition = register(server, "version: 1.0\ntasks:\n  a:\n    action: core.noop\n")
        body: dict[str, Any] = {"definition_id": definition["id"], "input": {"x": "y" * 200_000}}
        answer = server.http.post("/v1/executions", json=body)
        assert answer.status_code == 413, answer.text
        assert answer.json()["code"] == "payload.too_large"
        assert "execution input" in answer.json()["message"]
        assert server.http.get("/v1/executions").json()["executions"] == []
    finally:
        server.stop()


def test_results_adding_up_past_the_execution_ceiling_fail_the_step_that_crosses_it(
    store_url: str,
) -> None:
    registry = default_registry()
    registry.register("test.tagged", lambda size, tag: {"data": tag * size})
    limits = PayloadLimits(inline_bytes=1024, max_value_bytes=100_000, max_execution_bytes=250_000)
    engine = Engine(
        open_with(store_url, limits), registry=registry, front_ends={"steps": StepsFrontEnd()}
    )
    definition = engine.register(
        steps(
            *(
                {"name": f"s{i}", "action": "test.tagged", "input": {"size": 90_000, "tag": tag}}
                for i, tag in enumerate("abcd")
            )
        ),
        kind="steps",
    )
    done = engine.run(definition, timeout=60)
    assert done.status == "failed"
    completed = [r.event for r in engine.history(done.id) if isinstance(r.event, TaskCompleted)]
    assert [e.status for e in completed] == ["succeeded", "succeeded", "failed"]
    error = completed[-1].error
    assert error is not None and error["type"] == "payload.too_large"
    assert "'s2'" in str(error["message"]) and "max_execution_bytes=250000" in str(error["message"])
    # What is kept stays under the ceiling; the first two results are whole.
    assert engine.store.stored_payload_bytes(done.id) < 250_000
    assert [e.result for e in completed[:2]] == [{"data": "a" * 90_000}, {"data": "b" * 90_000}]
    engine.close()
