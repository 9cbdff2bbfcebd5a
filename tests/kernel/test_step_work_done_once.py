"""Work a step used to redo each time, now done once, gives the same answers.

Each test holds a shortcut to what it replaced: the binding check kept per
call shape, the result round trip skipped for plain numbers, the shared JSON
encoders, event field names kept per class, the argument check skipped for
plain arguments, and the frames' file names kept when absolute.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import math
from typing import Any

import pytest

from cadenza.code import activity
from cadenza.interpreters.code import call_sites
from cadenza.interpreters.code.runtime import Runtime, WorkflowUsageError
from cadenza.model.events import EVENT_TYPES, Event, TaskCompleted, event_from_payload
from cadenza.store.codec import json_text
from cadenza.workers import ActivityContext, ActivityRegistry, OutcomeStatus, run_activity
from cadenza.workers.attempt import RESULT_NOT_JSON


def _context() -> ActivityContext:
    return ActivityContext(execution_id="e1", task_id="t1")


# --- binding checked once per call shape ----------------------------------------------


def _signature_error(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as exc:
        return str(exc)
    return None


def add(a: int, b: int = 0) -> int:
    return a + b


@pytest.mark.parametrize(
    "kwargs",
    [
        {"a": 1},
        {"a": 1, "b": 2},
        {},
        {"b": 2},
        {"a": 1, "c": 3},
        {"c": 3, "d": 4},
        {"d": 4, "c": 3},
    ],
)
def test_a_shape_binds_as_the_signature_says(kwargs: dict[str, Any]) -> None:
    registry = ActivityRegistry()
    registry.register("add", add)
    expected = _signature_error(add, (), kwargs)
    # Asked twice: the second answer is the kept one.
    for _ in range(2):
        outcome = run_activity(registry, "add", kwargs, _context())
        if expected is None:
            assert outcome.status == OutcomeStatus.SUCCEEDED
            assert outcome.result == add(**kwargs)
        else:
            assert outcome.status == OutcomeStatus.FAILED
            assert outcome.error is not None
            assert outcome.error.non_retryable
            assert outcome.error.message == f"invalid input for action 'add': {expected}"


def test_a_whole_input_activity_binds_by_its_one_argument() -> None:
    registry = ActivityRegistry()
    registry.register("takes_one", lambda event: event, whole_input=True)
    registry.register("takes_two", lambda event, other: event, whole_input=True)
    for _ in range(2):
        assert run_activity(registry, "takes_one", {"x": 1}, _context()).result == {"x": 1}
        outcome = run_activity(registry, "takes_two", {"x": 1}, _context())
        assert outcome.error is not None
        assert "missing a required argument: 'other'" in outcome.error.message


def test_shapes_kept_are_bounded() -> None:
    registry = ActivityRegistry()
    registry.register("any", lambda **kwargs: len(kwargs))
    for n in range(200):
        assert run_activity(registry, "any", {f"k{n}": n}, _context()).result == 1
    assert len(registry.get("any")._shape_errors) <= 64


# --- results: plain numbers skip the round trip ----------------------------------------


@pytest.mark.parametrize("value", [0, -7, 10**17, 2.5, -0.0, 1e300, 10**40, [1, (2, 3)]])
def test_a_result_reads_as_history_will_give_it_back(value: Any) -> None:
    registry = ActivityRegistry()
    registry.register("give", lambda: value)
    outcome = run_activity(registry, "give", None, _context())
    assert outcome.status == OutcomeStatus.SUCCEEDED
    assert json.dumps(outcome.result) == json.dumps(json.loads(json.dumps(value)))
    assert type(outcome.result) is type(json.loads(json.dumps(value)))


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, pytest.param(10**5000, id="huge_int")]
)
def test_a_number_json_cannot_hold_still_fails_the_attempt(value: Any) -> None:
    registry = ActivityRegistry()
    registry.register("give", lambda: value)
    outcome = run_activity(registry, "give", None, _context())
    assert outcome.status == OutcomeStatus.FAILED
    assert outcome.error is not None and outcome.error.type == RESULT_NOT_JSON


# --- the codec's shared encoder ---------------------------------------------------------


@pytest.mark.parametrize(
    "value", [None, "é ü", {"b": [1, 2.5, None], "a": {"x": "ü"}}, [], 10**20, "\u2028"]
)
def test_stored_text_is_what_json_dumps_writes(value: Any) -> None:
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    assert json_text(value) == expected


@pytest.mark.parametrize("value", [math.nan, {"x": object()}, {1j: 1}])
def test_a_value_json_cannot_hold_is_refused_when_stored(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        json_text(value)


# --- event payloads ------------------------------------------------------------------


@pytest.mark.parametrize("cls", sorted(EVENT_TYPES.values(), key=lambda c: c.type))
def test_a_payload_holds_the_fields_in_order(cls: type[Event]) -> None:
    event = cls()
    expected = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    if cls is TaskCompleted:
        del expected["meta"]  # empty, so not stored
    assert list(event.payload().items()) == list(expected.items())
    assert event_from_payload(cls.type, {**event.payload(), "added_later": 1}) == event


# --- the workflow's arguments --------------------------------------------------------


@activity(name="test.step")
def step(*args: Any, **kwargs: Any) -> None:
    """Never run here: only scheduled."""


@activity(name="test.once", idempotent=True)
def once(*args: Any, **kwargs: Any) -> None:
    """Never run here: only scheduled."""


@pytest.mark.parametrize(
    "args", [(1, "a", None, True, 2.5, math.nan), (), ([1, {"a": 2}],), ({"z": 1, "a": 2},)]
)
def test_json_arguments_are_scheduled(args: tuple[Any, ...]) -> None:
    runtime = Runtime()
    runtime.submit_activity(step, args, {"k": "v"})
    [command] = runtime.take_commands()
    assert command.input == {"args": list(args), "kwargs": {"k": "v"}}


@pytest.mark.parametrize("bad", [object(), pytest.param(10**5000, id="huge_int"), {1, 2}, b"bytes"])
def test_an_argument_json_cannot_hold_is_refused_at_the_call(bad: Any) -> None:
    runtime = Runtime()
    with pytest.raises(WorkflowUsageError, match=r"test\.step must be JSON values"):
        runtime.submit_activity(step, (1, bad), {})
    with pytest.raises(WorkflowUsageError, match=r"test\.step must be JSON values"):
        runtime.submit_activity(step, (), {"x": bad})


def test_an_idempotent_task_is_named_by_its_arguments_sorted_text() -> None:
    runtime = Runtime()
    runtime.submit_activity(once, ({"b": 1, "a": [2]},), {"k": 3})
    [command] = runtime.take_commands()
    text = json.dumps(
        {"args": [{"b": 1, "a": [2]}], "kwargs": {"k": 3}}, sort_keys=True, separators=(",", ":")
    )
    digest = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:16]
    assert command.task_id == f"test.once@{digest}"


# --- where a task was issued -----------------------------------------------------------


def test_the_issuing_line_is_the_workflows() -> None:
    runtime = Runtime()
    runtime.submit_activity(step, (), {})
    line = inspect.stack()[0].lineno - 1
    assert next(iter(runtime.issued.values())).where == f"{__file__}:{line}"


def test_relative_file_names_are_not_kept() -> None:
    code = compile("runtime.submit_activity(step, (), {})", "relative_flow.py", "exec")
    runtime = Runtime()
    exec(code, {"runtime": runtime, "step": step})
    assert next(iter(runtime.issued.values())).where == "relative_flow.py:1"
    assert "relative_flow.py" not in call_sites._INSIDE_PACKAGE
