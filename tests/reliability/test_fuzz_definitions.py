"""Fuzzing: plausible but broken definitions and inputs never crash the engine.

Hypothesis builds Orquesta workflows (YAML) and state machines (JSON) that look
like the real thing but carry wrong types, missing fields, cycles, huge
numbers, unicode, deep nesting and hostile expressions, plus inputs of the same
kind. Each goes through ``Engine.compile`` (validation), then ``register``,
``start`` and a bounded ``run_until_idle`` on a fake clock. The properties:

* nothing escapes but a ``CadenzaError``; a rejected definition lists its
  problems, each located by a path;
* the store stays readable: the execution, its history and the listing load.

The default tier runs a fixed set of examples per front end; the slow tier
(``-m slow``) runs thousands of fresh ones and reports how many in its output.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

# Imported before any example runs: jsonata-python raises the interpreter's
# recursion limit when it is imported, and Hypothesis reports a change mid-test.
import cadenza.expressions.jsonata_language  # noqa: F401
from cadenza.engine.engine import Engine
from cadenza.model.errors import CadenzaError, DefinitionError
from cadenza.testing.clock import FakeClock
from cadenza.workers.registry import ActivityRegistry

pytestmark = pytest.mark.timeout(1800)

FAST = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MANY = settings(
    max_examples=2000,
    deadline=None,
    # The same examples in every run: a CI run must not meet a new pathological
    # case by chance (explore new ones locally with derandomize off).
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- values -------------------------------------------------------------------------------

MAX_FUZZ_DEPTH = 200

HUGE_NUMBERS = st.sampled_from([10**30, -(10**30), 2**63, 1e308, -1e308, 1e-320, 0, -1])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**6)
    | HUGE_NUMBERS
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def deeply_nested(draw: st.DrawFn) -> Any:
    """A value nested up to a few hundred levels deep.

    Deeper values (thousands of levels) still crash the engine in known places;
    those cases are pinned one by one at the end of this module instead.
    """
    depth = draw(st.integers(min_value=20, max_value=MAX_FUZZ_DEPTH))
    value: Any = draw(SCALARS)
    as_list = draw(st.booleans())
    for _ in range(depth):
        value = [value] if as_list else {"k": value}
    return value


INPUTS = st.one_of(
    st.fixed_dictionaries({"x": JSON_VALUES | deeply_nested(), "items": st.lists(JSON_VALUES)}),
    st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4),
    JSON_VALUES,
    deeply_nested(),
)

ORQUESTA_EXPRESSIONS = st.sampled_from(
    [
        "<% ctx(x) %>",
        "<% ctx().x + 1 %>",
        "<% succeeded() %>",
        "<% failed() %>",
        "<% result() %>",
        "<% task(t1).result %>",
        "<% ctx( %>",
        "<% 1 / 0 %>",
        "{{ ctx('x') }}",
        "{{ ctx().x * 2 }}",
        "{{ 'x' * 300000000 }}",
        "{{ 1 / 0 }}",
        "{{ unknown }}",
        "{% for i in range(3) %}{{ i }}{% endfor %}",
        "{{ ctx('x') }} and <% ctx(x) %>",
        "<% $.x %>",
        "plain text",
    ]
)


def _mutated(base: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    """``base`` with some fields dropped or replaced by values of the wrong type."""

    @st.composite
    def mutate(draw: st.DrawFn) -> Any:
        document = draw(base)
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 3]))):
            target = _pick_mapping(draw, document)
            if not target:
                break
            key = draw(st.sampled_from(sorted(target, key=str)))
            if draw(st.booleans()):
                del target[key]
            else:
                target[key] = draw(JSON_VALUES | deeply_nested())
        return document

    return mutate()


def _pick_mapping(draw: st.DrawFn, document: Any) -> dict[str, Any] | None:
    mappings: list[dict[str, Any]] = []
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            mappings.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return draw(st.sampled_from(mappings)) if mappings else None


# --- Orquesta -----------------------------------------------------------------------------
#
# A valid workflow is built first (names, transitions and expressions that
# validation accepts); ``_mutated`` then breaks some of them (not always), so
# that both validation and runs are fuzzed.

TASKS = ("t1", "t2", "t3")
ORQUESTA_ACTIONS = st.sampled_from(["core.noop", "core.echo", "nope.missing"])
VARIABLE_NAMES = st.sampled_from(["x", "y", "ünï", "z_1"])


def _single_key(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda key, value: {key: value}, VARIABLE_NAMES, values)


@st.composite
def orquesta_task(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    task: dict[str, Any] = {"action": draw(ORQUESTA_ACTIONS)}
    if draw(st.booleans()):
        task["input"] = draw(
            st.dictionaries(
                VARIABLE_NAMES, ORQUESTA_EXPRESSIONS | JSON_VALUES, min_size=1, max_size=3
            )
        )
    if draw(st.booleans()):
        transition: dict[str, Any] = {
            "when": draw(
                st.sampled_from(["<% succeeded() %>", "<% failed() %>", "{{ succeeded() }}"])
            )
        }
        if draw(st.booleans()):
            transition["publish"] = [draw(_single_key(ORQUESTA_EXPRESSIONS | JSON_VALUES))]
        # Any task, this one included: cycles are allowed and must not loop forever.
        transition["do"] = draw(
            st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)
        )
        task["next"] = [transition]
    if draw(st.integers(0, 4)) == 0:
        task["retry"] = {"count": draw(st.integers(0, 3) | HUGE_NUMBERS.filter(lambda n: n >= 0))}
    if draw(st.integers(0, 4)) == 0:
        task["with"] = {"items": "i in <% ctx(x) %>", "concurrency": draw(st.integers(1, 3))}
    return task


@st.composite
def orquesta_definition(draw: st.DrawFn) -> dict[str, Any]:
    names = list(TASKS[: draw(st.integers(1, len(TASKS)))])
    document: dict[str, Any] = {"version": 1.0, "input": ["x"]}
    if draw(st.booleans()):
        document["vars"] = [draw(_single_key(ORQUESTA_EXPRESSIONS | JSON_VALUES))]
    document["tasks"] = {name: draw(orquesta_task(names)) for name in names}
    if draw(st.booleans()):
        document["output"] = [{"out": draw(ORQUESTA_EXPRESSIONS)}]
    return document


def orquesta_text() -> st.SearchStrategy[str]:
    as_yaml = _mutated(orquesta_definition()).map(lambda d: yaml.safe_dump(d, allow_unicode=True))
    return _mostly(as_yaml)


def _mostly(documents: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Whole documents most of the time; sometimes cut short, sometimes any text."""
    broken = st.one_of(documents.map(_truncated), st.text(max_size=60))
    return st.integers(0, 9).flatmap(lambda n: broken if n == 0 else documents)


def _truncated(text: str) -> str:
    return text[: max(1, len(text) * 2 // 3)]


# --- States -------------------------------------------------------------------------------
#
# Same approach: a chain of reachable states A -> B -> C (a Choice may jump
# back, making a cycle), the last one terminal, fields that fit the state's
# type and query language; then ``_mutated`` breaks some of it.

STATE_NAMES = ("A", "B", "Ünï")
LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:f"
JSONPATH_EXPRESSIONS = st.sampled_from(
    [
        "$",
        "$.x",
        "$.x[0]",
        "$..x",
        "$[*]",
        "$.x[?(@ > 1)]",
        "$$.Execution.Id",
        "$missing.value",
        "States.Format('{}', $.x)",
        "States.ArrayRange(0, 1000000000, 1)",
        "States.StringToJson($.x)",
        "States.MathAdd($.x, 1)",
        "States.Array($, $, $)",
    ]
)
JSONATA_EXPRESSIONS = st.sampled_from(
    [
        "{% $states.input %}",
        "{% $states.input.x %}",
        "{% $states.input.x * 2 %}",
        "{% $count([1..5000000]) %}",
        "{% $pad('x', 300000000) %}",
        "{% $string($states.input) & $string($states.input) %}",
        "{% $states.context.Execution.Id %}",
    ]
)


@st.composite
def state(
    draw: st.DrawFn, name: str, following: str | None, jsonata: bool, depth: int
) -> dict[str, Any]:
    kinds = ["Pass", "Pass", "Task", "Wait", "Choice"]
    if depth < 1:
        kinds += ["Parallel", "Map"]
    if following is None:
        kinds += ["Succeed", "Fail"]
    kind = draw(st.sampled_from(kinds))
    spec: dict[str, Any] = {"Type": kind}
    if kind in ("Succeed", "Fail"):
        return spec
    if kind == "Choice":
        target = following or draw(st.sampled_from(STATE_NAMES[:1]))  # possibly back: a cycle
        if jsonata:
            rule: dict[str, Any] = {"Condition": "{% $states.input.x = 1 %}", "Next": target}
        else:
            rule = {"Variable": draw(JSONPATH_EXPRESSIONS), "NumericEquals": 1, "Next": target}
        spec["Choices"] = [rule]
        if following is None:
            spec["Default"] = "Done"
        else:
            spec["Default"] = following
        return spec
    if following is None:
        spec["End"] = True
    else:
        spec["Next"] = following
    if kind == "Wait":
        spec["Seconds"] = draw(st.integers(0, 10) | HUGE_NUMBERS.filter(lambda n: n >= 0))
        return spec
    if kind == "Task":
        spec["Resource"] = LAMBDA
    if kind == "Parallel":
        spec["Branches"] = [draw(state_machine(depth + 1, jsonata))]
    if kind == "Map":
        spec["ItemProcessor"] = draw(state_machine(depth + 1, jsonata))
        if not jsonata:
            spec["ItemsPath"] = "$.items"
    if jsonata:
        if draw(st.booleans()):
            spec["Output"] = draw(JSONATA_EXPRESSIONS)
        if kind == "Task" and draw(st.booleans()):
            spec["Arguments"] = {"value": draw(JSONATA_EXPRESSIONS)}
    else:
        if draw(st.booleans()):
            spec["Parameters"] = {"x.$": draw(JSONPATH_EXPRESSIONS), "y": draw(JSON_VALUES)}
        if draw(st.integers(0, 3)) == 0:
            spec["ResultPath"] = draw(st.sampled_from(["$.r", "$", None, "$.x.y"]))
        if kind == "Pass" and draw(st.booleans()):
            spec["Result"] = draw(JSON_VALUES)
    return spec


@st.composite
def state_machine(draw: st.DrawFn, depth: int = 0, jsonata: bool | None = None) -> dict[str, Any]:
    if jsonata is None:
        jsonata = draw(st.booleans())
    names = list(STATE_NAMES[: draw(st.integers(1, len(STATE_NAMES)))])
    states: dict[str, Any] = {}
    for index, name in enumerate(names):
        following = names[index + 1] if index + 1 < len(names) else None
        states[name] = draw(state(name, following, jsonata, depth))
    if any(s.get("Default") == "Done" for s in states.values()):
        states["Done"] = {"Type": "Succeed"}
    machine: dict[str, Any] = {"StartAt": names[0], "States": states}
    if depth == 0 and jsonata:
        machine["QueryLanguage"] = "JSONata"
    if depth == 0 and draw(st.integers(0, 4)) == 0:
        machine["TimeoutSeconds"] = draw(st.integers(1, 100) | HUGE_NUMBERS)
    return machine


def states_text() -> st.SearchStrategy[str]:
    as_json = _mutated(state_machine()).map(lambda d: json.dumps(d, ensure_ascii=False))
    return _mostly(as_json)


# --- the property -------------------------------------------------------------------------


def _registry() -> ActivityRegistry:
    """Harmless activities only: a generated definition must never reach a shell."""
    registry = ActivityRegistry()
    registry.register("core.noop", lambda input: None, whole_input=True)
    registry.register("core.echo", lambda input: input, whole_input=True)
    return registry


def _assert_clean_rejection(exc: CadenzaError) -> None:
    assert exc.code and exc.message, f"{type(exc).__name__} without code or message"
    if isinstance(exc, DefinitionError):
        assert exc.problems, f"a rejected definition lists no problem: {exc.message}"
        for problem in exc.problems:
            # A document-level problem has the empty path, shown as "(document)".
            assert isinstance(problem.spec_path, str)
            assert problem.message


@contextlib.contextmanager
def _engine_logs_quiet() -> Iterator[None]:
    """Keep the engine's log of each interpreter defect (with its traceback) out of
    the test's captured output: thousands of examples would pile them up."""
    logger = logging.getLogger("cadenza")
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(before)


def _validate_and_run(kind: str, text: str, run_input: Any) -> None:
    with _engine_logs_quiet():
        _check(kind, text, run_input)


def _check(kind: str, text: str, run_input: Any) -> None:
    engine = Engine("sqlite:///:memory:", clock=FakeClock(), registry=_registry())
    try:
        try:
            engine.compile(text, kind=kind)
            definition = engine.register(text, kind=kind)
        except CadenzaError as exc:
            event(f"refused: {exc.code}")
            _assert_clean_rejection(exc)
            return
        try:
            execution_id = engine.start(definition, run_input)
        except CadenzaError as exc:
            event(f"input refused: {exc.code}")
            _assert_clean_rejection(exc)
            return
        try:
            engine.run_until_idle(skip_time=True, max_rounds=25)
        except CadenzaError as exc:
            event(f"run stopped: {exc.code}")
            _assert_clean_rejection(exc)
        record = engine.get(execution_id)
        event(f"ran: {record.status}")
        assert record.id == execution_id
        engine.history(execution_id)
        assert [r.id for r in engine.store.list_executions(limit=10)] == [execution_id]
    finally:
        engine.close()


@FAST
@given(text=orquesta_text(), run_input=INPUTS)
def test_orquesta_definitions_are_refused_or_run_cleanly(text: str, run_input: Any) -> None:
    _validate_and_run("orquesta", text, run_input)


@FAST
@given(text=states_text(), run_input=INPUTS)
def test_state_machines_are_refused_or_run_cleanly(text: str, run_input: Any) -> None:
    _validate_and_run("states", text, run_input)


@pytest.mark.slow
@MANY
@given(text=orquesta_text(), run_input=INPUTS)
def test_many_orquesta_definitions_are_refused_or_run_cleanly(text: str, run_input: Any) -> None:
    _validate_and_run("orquesta", text, run_input)


@pytest.mark.slow
@MANY
@given(text=states_text(), run_input=INPUTS)
def test_many_state_machines_are_refused_or_run_cleanly(text: str, run_input: Any) -> None:
    _validate_and_run("states", text, run_input)


# --- known crashes on deep nesting (found by this fuzzer) -----------------------------------


def _deep_text(depth: int) -> str:
    return "[" * depth + "]" * depth


def _deep_value(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


DEEP_STATES = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": %s, "End": true}}}'
DEEP_ORQUESTA = "version: 1.0\nvars:\n  - x: %s\ntasks:\n  t1:\n    action: core.noop\n"
SIMPLE_STATES = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}'


def test_a_state_machine_nested_thousands_deep_is_refused() -> None:
    with pytest.raises(DefinitionError):
        Engine("sqlite:///:memory:").compile(DEEP_STATES % _deep_text(5000), kind="states")


def test_a_workflow_nested_thousands_deep_is_refused() -> None:
    with pytest.raises(DefinitionError):
        Engine("sqlite:///:memory:").compile(DEEP_ORQUESTA % _deep_text(5000), kind="orquesta")


def test_an_input_nested_too_deep_is_refused_at_start() -> None:
    engine = Engine("sqlite:///:memory:", clock=FakeClock(), registry=_registry())
    definition = engine.register(SIMPLE_STATES, kind="states")
    with pytest.raises(CadenzaError):
        engine.start(definition, _deep_value(20_000))
