"""JSONPath, intrinsic functions and JSONata as the States language uses them."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from cadenza.expressions import intrinsics, jsonata_language, jsonpath
from cadenza.expressions.jsonata_language import UNDEFINED, Clock, JsonataError


def _entropy(n: int) -> bytes:
    return hashlib.sha256(b"seed").digest()[:n]


# --- JSONPath ------------------------------------------------------------------------------

DATA = {"a": {"b": [10, 20, 30]}, "items": [{"x": 1}, {"x": 5}], "k-1": None}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DATA),
        ("$.a.b[1]", 20),
        ("$['a']['b'][-1]", 30),
        ("$.k-1", None),
        ("$.items[*].x", [1, 5]),
        ("$.items[0:1]", [{"x": 1}]),
        ("$..x", [1, 5]),
        ("$.items[?(@.x > 1)]", [{"x": 5}]),
        ("$.missing[*]", []),
    ],
)
def test_select(path: str, expected: Any) -> None:
    assert jsonpath.select(path, DATA) == expected


def test_definite_path_that_matches_nothing_fails_with_aws_wording() -> None:
    with pytest.raises(jsonpath.PathNotFound, match=r"No results for path: \$\['nope'\]"):
        jsonpath.select("$.nope", DATA)
    with pytest.raises(jsonpath.PathNotFound, match=r"Missing property in path \$\['no'\]"):
        jsonpath.select("$.no.such.path", DATA)


def test_put_creates_objects_and_copies() -> None:
    original = {"a": 1}
    assert jsonpath.put(original, "$.b.c", 2) == {"a": 1, "b": {"c": 2}}
    assert original == {"a": 1}
    assert jsonpath.put(original, "$", 5) == 5
    with pytest.raises(jsonpath.PathNotFound):
        jsonpath.put("text", "$.a", 1)


def test_split_root() -> None:
    assert jsonpath.split_root("$$.Execution.Id") == ("context", None, "$.Execution.Id")
    assert jsonpath.split_root("$var.a[0]") == ("variable", "var", "$.a[0]")
    assert jsonpath.split_root("$.a") == ("input", None, "$.a")
    assert jsonpath.canonical("$.a[0].b") == "$['a'][0]['b']"


# --- intrinsic functions ----------------------------------------------------------------------


def run(text: str, data: Any = None) -> Any:
    call = intrinsics.parse_call(text)
    return intrinsics.evaluate(call, lambda p: jsonpath.select(p, data), _entropy)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Format('a={} b={}', $.a, $.b)", "a=1 b={x=[1, 2]}"),
        ("States.Format('\\{\\} {}', 1)", "{} 1"),
        ("States.Format('it\\'s {}', 'me')", "it's me"),
        ("States.StringToJson('{\"k\": [1]}')", {"k": [1]}),
        ("States.JsonToString($.b)", '{"x":[1,2]}'),
        ("States.Array(1, 'two', null, true)", [1, "two", None, True]),
        ("States.ArrayPartition(States.Array(1,2,3,4,5), 2)", [[1, 2], [3, 4], [5]]),
        ("States.ArrayContains($.b.x, 2)", True),
        ("States.ArrayRange(1, 9, 3)", [1, 4, 7]),
        ("States.ArrayGetItem($.b.x, 1)", 2),
        ("States.ArrayLength($.b.x)", 2),
        ("States.ArrayUnique(States.Array(1, 1, 'a', 'a', 2))", [1, "a", 2]),
        ("States.Base64Encode('Data to encode')", "RGF0YSB0byBlbmNvZGU="),
        ("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", "Data to encode"),
        ("States.Hash('input', 'MD5')", "a43c1b0aa53a0c908810c06ab1ff3967"),
        ("States.JsonMerge($.b, States.StringToJson('{\"y\": 1}'), false)", {"x": [1, 2], "y": 1}),
        ("States.MathAdd(10, -3)", 7),
        ("States.StringSplit('a,b;;c', ',;')", ["a", "b", "c"]),
    ],
)
def test_intrinsics(text: str, expected: Any) -> None:
    assert run(text, {"a": 1, "b": {"x": [1, 2]}}) == expected


def test_random_and_uuid_come_from_the_entropy_source() -> None:
    first = run("States.MathRandom(1, 100)")
    assert 1 <= first < 100
    assert run("States.MathRandom(1, 100)") == first
    assert run("States.MathRandom(1, 100, 7)") == run("States.MathRandom(1, 100, 7)")
    uuid = run("States.UUID()")
    assert len(uuid) == 36 and uuid[14] == "4"


@pytest.mark.parametrize(
    "text",
    [
        "States.ArrayGetItem(States.Array(1), 5)",
        "States.ArrayPartition(States.Array(1), 0)",
        "States.Format('{} {}', 1)",
        "States.Hash('x', 'SHA-3')",
        "States.StringToJson('{nope')",
        "States.JsonMerge(1, 2, false)",
    ],
)
def test_intrinsic_failures(text: str) -> None:
    with pytest.raises(intrinsics.IntrinsicError):
        run(text)


def test_malformed_calls_are_syntax_errors() -> None:
    for text in ("States.Nope(1)", "States.Array(1", "States.Array('x) "):
        with pytest.raises(intrinsics.IntrinsicSyntaxError):
            intrinsics.parse_call(text)


# --- JSONata --------------------------------------------------------------------------------------


def evaluate(text: str, **bindings: Any) -> Any:
    return jsonata_language.evaluate(text, bindings, Clock(1_700_000_000.0, _entropy))


def test_jsonata_bindings_nulls_and_undefined() -> None:
    states = {"input": {"a": None, "b": [1, 2]}}
    assert evaluate("$states.input.a", states=states) is None
    assert evaluate("$states.input.nothing", states=states) is UNDEFINED
    assert evaluate("$count($states.input.b) + $x", states=states, x=1) == 3
    assert evaluate("{'k': $states.input.nothing, 'n': null}", states=states) == {"n": None}


def test_aws_functions() -> None:
    assert evaluate("$partition([1,2,3], 2)") == [[1, 2], [3]]
    assert evaluate("$range(0, 10, 5)") == [0, 5, 10]
    assert evaluate("$hash('input', 'MD5')") == "a43c1b0aa53a0c908810c06ab1ff3967"
    assert evaluate("$parse('{\"a\": [1]}')") == {"a": [1]}
    assert 0 <= evaluate("$random()") < 1
    assert len(evaluate("$uuid()")) == 36
    assert evaluate("$now()") == "2023-11-14T22:13:20.000Z"


def test_jsonata_errors() -> None:
    with pytest.raises(JsonataError):
        evaluate("1 + 'a'")
    with pytest.raises(JsonataError):
        evaluate("(")
    assert jsonata_language.is_expression("{% 1 %}")
    assert not jsonata_language.is_expression(" {% 1 %}")
