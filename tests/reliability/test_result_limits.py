"""Task results held to the ceilings of their execution's definition, on both stores.

A definition's ``max_value_bytes`` and ``max_execution_bytes`` narrow the
store's ceilings for its tasks' results: a result over them fails its step
once, for good (``payload.too_large``), while the same result of another
definition on the same engine is kept. The worker saving a result reads the
definition from the task's meta, or from the execution's row for a task queued
without it, and a worker that never registered the definition finds its
limits all the same.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping

import pytest

from cadenza.engine.engine import Engine
from cadenza.engine.payload_ceilings import (
    TASK_DEFINITION_ID,
    DefinitionLimits,
    LimitsByDefinition,
)
from cadenza.expressions.budget import ExpressionBudget
from cadenza.model.events import TaskCompleted
from cadenza.store import open_store
from cadenza.store.payloads import PayloadLimits
from cadenza.store.records import TaskRecord
from cadenza.workers.registry import ActivityRegistry, default_registry

pytestmark = pytest.mark.timeout(60)

#: ``make`` returns ``{"data": "x" * size}``: 2,000 characters is some 2,011 bytes.
WORKFLOW = """\
version: 1.0
input:
  - size
tasks:
  make:
    action: test.big size=<% ctx(size) %>
output:
  - made: <% ctx(size) %>
# {variant}
"""


def big_registry(calls: list[int]) -> ActivityRegistry:
    registry = default_registry()

    def big(size: int) -> dict[str, str]:
        calls.append(size)
        return {"data": "x" * size}

    registry.register("test.big", big)
    return registry


def engine_with(
    store_url: str, calls: list[int], limits: Mapping[str, DefinitionLimits] | None = None
) -> Engine:
    return Engine(open_store(store_url), registry=big_registry(calls), definition_limits=limits)


def test_a_definitions_value_ceiling_fails_its_big_result_only(store_url: str) -> None:
    calls: list[int] = []
    engine = engine_with(store_url, calls, {"small": DefinitionLimits(max_value_bytes=1000)})
    small = engine.register(WORKFLOW.format(variant="small"), kind="orquesta", name="small")
    other = engine.register(WORKFLOW.format(variant="other"), kind="orquesta", name="other")

    failed = engine.run(small, {"size": 2000}, timeout=30)
    assert failed.status == "failed"
    message = json.dumps(failed.errors)
    assert "payload.too_large" in message and "max_value_bytes=1000" in message
    assert "the result of task 'make'" in message and "2011 bytes" in message
    assert calls == [2000]  # never retried
    history = [r.event for r in engine.history(failed.id)]
    [completed] = [e for e in history if isinstance(e, TaskCompleted)]
    assert completed.result is None  # the big result was dropped

    done = engine.run(other, {"size": 2000}, timeout=30)
    assert done.status == "succeeded", done.errors
    assert done.output == {"made": 2000}
    # Under its ceiling, the small definition's result is kept as usual.
    assert engine.run(small, {"size": 500}, timeout=30).status == "succeeded"
    engine.close()


def test_a_definitions_execution_ceiling_holds_its_results(store_url: str) -> None:
    calls: list[int] = []
    limits = {"tight": DefinitionLimits(max_execution_bytes=4000)}
    engine = engine_with(store_url, calls, limits)
    tight = engine.register(WORKFLOW.format(variant="tight"), kind="orquesta", name="tight")
    other = engine.register(WORKFLOW.format(variant="roomy"), kind="orquesta", name="roomy")

    failed = engine.run(tight, {"size": 5000}, timeout=30)
    assert failed.status == "failed"
    message = json.dumps(failed.errors)
    assert "payload.too_large" in message and "max_execution_bytes=4000" in message
    assert engine.run(other, {"size": 5000}, timeout=30).status == "succeeded"
    engine.close()


def test_a_worker_that_did_not_register_the_definition_holds_its_results(
    store_url: str,
) -> None:
    calls: list[int] = []
    starter = engine_with(store_url, calls)
    definition = starter.register(WORKFLOW.format(variant="w"), kind="orquesta", name="small")
    execution_id = starter.start(definition, {"size": 2000})
    starter.close()

    worker = engine_with(store_url, calls, {"small": DefinitionLimits(max_value_bytes=1000)})
    failed = worker.drive(execution_id, timeout=30)
    assert failed.status == "failed"
    assert "max_value_bytes=1000" in json.dumps(failed.errors)
    assert calls == [2000]
    worker.close()


def test_a_tasks_definition_comes_from_its_meta_or_its_execution(store_url: str) -> None:
    starter = engine_with(store_url, [])
    definition = starter.register(WORKFLOW.format(variant="m"), kind="orquesta", name="small")
    starter.start(definition, {"size": 1})
    assert starter.decide() == 1
    [task] = starter.runner.claim(("default",), 1)
    assert task.meta[TASK_DEFINITION_ID] == definition.id

    store = starter.store
    assert (
        LimitsByDefinition({}, ExpressionBudget(), store.payload_limits).result_ceilings(store)
        is None
    )  # no definition limits: the runner has nothing to ask

    def ceilings_by_name(max_value_bytes: int) -> Callable[[TaskRecord], PayloadLimits]:
        """Those of a process holding limits by name that never saw the definition."""
        limits = DefinitionLimits(max_value_bytes=max_value_bytes)
        table = LimitsByDefinition({"small": limits}, ExpressionBudget(), store.payload_limits)
        ceilings = table.result_ceilings(store)
        assert ceilings is not None
        return ceilings

    found = ceilings_by_name(1000)(task)
    assert found.max_value_bytes == 1000
    assert found.max_execution_bytes == store.payload_limits.max_execution_bytes
    # A task queued before tasks named their definition: its execution's row says.
    assert ceilings_by_name(900)(dataclasses.replace(task, meta={})).max_value_bytes == 900
    # A task of a definition without limits (or unknown) keeps the store's.
    elsewhere = dataclasses.replace(task, meta={TASK_DEFINITION_ID: "no-such-definition"})
    assert ceilings_by_name(1000)(elsewhere) == store.payload_limits
    starter.close()
