"""Inline parameters of actions and publishes (spec §3)."""

from __future__ import annotations

from cadenza.interpreters.orquesta.parameters import parse_publish, split_action


def test_value_forms() -> None:
    ref, params = split_action(
        "core.echo s=\"hi there\" q='x' i=3 f=1.5 b=True n=null l=[1,2] y=<% ctx(a) %> j={{ x }}"
    )
    assert ref == "core.echo"
    assert params == {
        "s": "hi there",
        "q": "x",
        "i": 3,
        "f": 1.5,
        "b": True,
        "n": None,
        "l": [1, 2],
        "y": "<% ctx(a) %>",
        "j": "{{ x }}",
    }


def test_bare_words_are_dropped() -> None:
    assert split_action("core.echo message=inline") == ("core.echo message=inline", {})
    assert parse_publish("note=giving-up") == []


def test_separators_and_order() -> None:
    assert parse_publish("a=1, b='x'; c=null") == [{"a": 1}, {"b": "x"}, {"c": None}]


def test_quoted_json_object_is_parsed() -> None:
    assert split_action("core.echo d='{\"a\": 1}'")[1] == {"d": {"a": 1}}
