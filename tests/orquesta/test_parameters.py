"""Inline parameters of actions and publishes (spec §3), as the conductor relies on them."""

from __future__ import annotations

from cadenza.interpreters.orquesta.validation import parse_inline_parameters, split_action


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
    assert split_action("core.echo message=inline") == ("core.echo message=inline", None)
    assert parse_inline_parameters("note=giving-up") == []


def test_separators_and_order() -> None:
    assert parse_inline_parameters("a=1, b='x'; c=null") == [("a", 1), ("b", "x"), ("c", None)]


def test_quoted_json_object_is_parsed() -> None:
    assert split_action("core.echo d='{\"a\": 1}'")[1] == {"d": {"a": 1}}


def test_pairs_without_a_ref_keep_the_whole_text_as_ref() -> None:
    # No space: the text before the first space is the whole text (no ValueError).
    assert split_action("x=1") == ("x=1", {"x": 1})
