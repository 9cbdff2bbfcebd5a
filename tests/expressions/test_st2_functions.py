"""StackStorm's expression helpers behave as st2's own (regressions)."""

from __future__ import annotations

from typing import Any

import pytest

from cadenza.expressions import ExpressionFailure, Scope, evaluate


def scope(**variables: Any) -> Scope:
    return Scope(variables, kv={"k": "v", "region": "eu", "empty": None})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("<% jsonpath_query(ctx(doc), 'people[*].name') %>", ["ann", "bob"]),
        ("{{ jsonpath_query(ctx().doc, 'people[*].name') }}", ["ann", "bob"]),
        ("{{ ctx().doc | jsonpath_query('people[0].age') }}", [31]),
        ("<% jsonpath_query(ctx(doc), 'nobody[*]') %>", None),
        ("<% use_none(null) %>", "%*****__%NONE%__*****%"),
        ("{{ None | use_none }}", "%*****__%NONE%__*****%"),
        ("<% use_none(1) %>", 1),
        ("<% to_human_time_from_seconds(0) %>", "0s"),
        ("<% to_human_time_from_seconds(59) %>", "59s"),
        ("<% to_human_time_from_seconds(61) %>", "1m1s"),
        ("<% to_human_time_from_seconds(3600) %>", "1h0m0s"),
        ("<% to_human_time_from_seconds(3700) %>", "1h1m40s"),
        ("<% to_human_time_from_seconds(90061) %>", "1d1h1m1s"),
        ("<% to_human_time_from_seconds(0.5) %>", "0.5\u03bcs"),
        ("<% to_human_time_from_seconds(61.6) %>", "1m2s"),
        ("<% st2kv('nope', default => 3) %>", 3),
        ("<% st2kv('nope', default => null) %>", None),
        ("{{ st2kv('nope', default=None) }}", None),
        ("<% st2kv('nope', default => '') %>", ""),
        ("<% st2kv('system.region') %>", "eu"),
        ("{{ st2kv('system.region') }}", "eu"),
        ("<% st2kv('region') %>", "eu"),
        ("<% st2kv('empty', default => 1) %>", None),
    ],
)
def test_st2_helpers(text: str, value: Any) -> None:
    doc = {"people": [{"name": "ann", "age": 31}, {"name": "bob", "age": 40}]}
    assert evaluate(text, scope(doc=doc)) == value


def test_st2kv_without_default_still_fails() -> None:
    with pytest.raises(ExpressionFailure) as failure:
        evaluate("<% st2kv('system.nope') %>", scope())
    assert "does not exist in the StackStorm datastore" in str(failure.value)
