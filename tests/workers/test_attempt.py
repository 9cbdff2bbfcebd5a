"""run_activity / run_activity_async: one attempt, outcomes instead of exceptions."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable
from typing import Any

import pytest

from cadenza.model.errors import ActivityError
from cadenza.workers import (
    RESULT_NOT_JSON,
    ActivityContext,
    ActivityOutcome,
    ActivityRegistry,
    OutcomeStatus,
    run_activity,
    run_activity_async,
)

Runner = Callable[[ActivityRegistry, str, Any, ActivityContext], ActivityOutcome]


def _run_async(
    registry: ActivityRegistry, action: str, input: Any, context: ActivityContext
) -> ActivityOutcome:
    return asyncio.run(run_activity_async(registry, action, input, context))


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Runner:
    """Every behaviour holds for both entry points."""
    return run_activity if request.param == "sync" else _run_async


@pytest.fixture
def activities() -> ActivityRegistry:
    registry = ActivityRegistry()

    @registry.activity("add")
    def add(a: int, b: int = 0) -> int:
        return a + b

    @registry.activity("add_async")
    async def add_async(a: int, b: int = 0) -> int:
        await asyncio.sleep(0)
        return a + b

    @registry.activity("whoami")
    def whoami(context: ActivityContext) -> dict[str, Any]:
        return {
            "execution_id": context.execution_id,
            "task_id": context.task_id,
            "attempt": context.attempt,
            "key": context.idempotency_key,
        }

    @registry.activity("whoami_async")
    async def whoami_async(ctx: ActivityContext) -> str:
        return ctx.task_id

    @registry.activity("refuse")
    def refuse(permanent: bool) -> None:
        raise ActivityError(
            "card declined",
            type="billing.declined",
            non_retryable=permanent,
            details={"code": 51},
        )

    @registry.activity("explode")
    async def explode() -> None:
        raise ValueError("bad value")

    @registry.activity("silent_error")
    def silent_error() -> None:
        raise KeyError()

    @registry.activity("returns")
    def returns(kind: str) -> Any:
        values: dict[str, Any] = {
            "object": object(),
            "nan": math.nan,
            "set": {1, 2},
            "tuple": (1, [2, 3]),
            "int_keys": {1: "one"},
        }
        return values[kind]

    @registry.activity("park")
    def park(question: str) -> ActivityOutcome:
        return ActivityOutcome.pending({"question": question})

    @registry.activity("bad_outcome")
    def bad_outcome() -> ActivityOutcome:
        return ActivityOutcome.succeeded({"when": object()})

    @registry.activity("stops_when_cancelled")
    def stops_when_cancelled(context: ActivityContext) -> str:
        try:
            context.check_cancelled()
        except Exception:  # must not catch the interrupt
            return "swallowed"
        return "ran"

    @registry.activity("spread")
    def spread(**kwargs: Any) -> dict[str, Any]:
        return kwargs

    return registry


def test_sync_and_async_activities_succeed(
    run: Runner, activities: ActivityRegistry, context: ActivityContext
) -> None:
    for action in ("add", "add_async"):
        outcome = run(activities, action, {"a": 2, "b": 3}, context)
        assert outcome == ActivityOutcome.succeeded(5)
        assert outcome.status == "succeeded"
        assert outcome.to_dict() == {"status": "succeeded", "result": 5, "error": None}
    assert run(activities, "add", {"a": 2}, context).result == 2
    assert run(activities, "spread", {"x": 1, "y": [2]}, context).result == {"x": 1, "y": [2]}
    assert run(activities, "spread", None, context).result == {}


def test_context_is_injected(
    run: Runner, activities: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run(activities, "whoami", {}, context)
    assert outcome.result == {
        "execution_id": "exec-1",
        "task_id": "task-1",
        "attempt": 1,
        "key": context.idempotency_key,
    }
    assert run(activities, "whoami_async", None, context).result == "task-1"


def test_activity_error_keeps_type_flag_and_details(
    run: Runner, activities: ActivityRegistry, context: ActivityContext
) -> None:
    for permanent in (True, False):
        outcome = run(activities, "refuse", {"permanent": permanent}, context)
        assert outcome.status == OutcomeStatus.FAILED
        assert outcome.result == {"code": 51}
        assert outcome.error is not None
        assert outcome.error.to_dict() == {
            "type": "billing.declined",
            "message": "card declined",
            "non_retryable": permanent,
        }


def test_exceptions_become_failures_named_by_class(
    run: Runner, activities: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run(activities, "explode", {}, context)
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert (outcome.error.type, outcome.error.message) == ("ValueError", "bad value")
    assert not outcome.error.non_retryable
    assert outcome.error.traceback is not None and "bad value" in outcome.error.traceback
    empty = run(activities, "silent_error", {}, context).error
    assert empty is not None and empty.type == "KeyError" and "KeyError" in empty.message


@pytest.mark.parametrize("kind", ["object", "nan", "set"])
def test_non_json_result_is_a_clear_failure(
    run: Runner, activities: ActivityRegistry, context: ActivityContext, kind: str
) -> None:
    outcome = run(activities, "returns", {"kind": kind}, context)
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.type == RESULT_NOT_JSON
    assert outcome.error.non_retryable
    assert "cannot be recorded" in outcome.error.message
    bad = run(activities, "bad_outcome", {}, context)
    assert bad.error is not None and bad.error.type == RESULT_NOT_JSON


def test_result_is_normalised_to_what_history_reads_back(
    run: Runner, activities: ActivityRegistry, context: ActivityContext
) -> None:
    assert run(activities, "returns", {"kind": "tuple"}, context).result == [1, [2, 3]]
    assert run(activities, "returns", {"kind": "int_keys"}, context).result == {"1": "one"}


def test_activity_may_choose_its_outcome(
    run: Runner, activities: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run(activities, "park", {"question": "ship it?"}, context)
    assert outcome == ActivityOutcome.pending({"question": "ship it?"})


def test_input_problems_are_non_retryable_failures(
    run: Runner, activities: ActivityRegistry, context: ActivityContext
) -> None:
    cases = [
        ("add", {"b": 1}, "missing a required argument: 'a'"),
        ("add", {"a": 1, "c": 2}, "unexpected keyword argument 'c'"),
        ("add", [1, 2], "must be a mapping"),
        ("whoami", {"context": "forged"}, "reserved for the activity context"),
    ]
    for action, input, fragment in cases:
        outcome = run(activities, action, input, context)
        assert outcome.status == "failed"
        assert outcome.error is not None
        assert outcome.error.type == "input.invalid"
        assert outcome.error.non_retryable
        assert fragment in outcome.error.message


def test_unknown_action_is_a_failure_not_an_exception(
    run: Runner, activities: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run(activities, "ad", {}, context)
    assert outcome.error is not None
    assert outcome.error.type == "action.not_found"
    assert "did you mean 'add'" in outcome.error.message


def test_cancellation_interrupt_is_not_swallowed(
    run: Runner, activities: ActivityRegistry, context: ActivityContext
) -> None:
    assert run(activities, "stops_when_cancelled", {}, context).result == "ran"
    context.cancel()
    outcome = run(activities, "stops_when_cancelled", {}, context)
    assert outcome.status == "canceled"
    assert outcome.error is not None and outcome.error.type == "task.canceled"


def test_sync_entry_point_works_inside_a_running_loop(
    activities: ActivityRegistry, context: ActivityContext
) -> None:
    async def main() -> ActivityOutcome:
        return run_activity(activities, "add_async", {"a": 1, "b": 1}, context)

    assert asyncio.run(main()).result == 2


def test_async_entry_point_keeps_the_loop_free_for_sync_activities(
    context: ActivityContext,
) -> None:
    """A blocking sync activity runs in a thread: the loop can release it meanwhile."""
    registry = ActivityRegistry()
    release = threading.Event()

    @registry.activity("block")
    def block() -> bool:
        return release.wait(timeout=10)

    async def main() -> ActivityOutcome:
        task = asyncio.ensure_future(run_activity_async(registry, "block", {}, context))
        await asyncio.sleep(0)
        release.set()
        return await task

    assert asyncio.run(main()).result is True


def test_outcome_requires_an_error_exactly_when_it_did_not_succeed() -> None:
    with pytest.raises(ValueError, match="needs an error"):
        ActivityOutcome(OutcomeStatus.FAILED)
    with pytest.raises(ValueError, match="must not have an error"):
        ActivityOutcome(OutcomeStatus.SUCCEEDED, error=ActivityOutcome.failed("x", "y").error)
    timeout = ActivityOutcome.timeout("slow")
    assert timeout.status is OutcomeStatus.TIMEOUT
    assert timeout.error is not None and timeout.error.type == "task.timeout"
