"""Rendering entries in order (publish, vars, output) never changes the context read."""

from __future__ import annotations

from typing import Any

from cadenza.expressions import Scope
from cadenza.interpreters.orquesta.rendering import render_rolling


def variables() -> dict[str, Any]:
    return {"l": [1], "d": {"a": 1}, "v": 3}


def test_a_jinja_entry_that_changes_a_list_leaves_the_context_alone() -> None:
    context = variables()
    rolling, rendered, failures = render_rolling(
        [("x", "{{ ctx().l.append(2) }}"), ("y", "{{ ctx().l }}")], Scope(context)
    )
    assert not failures
    # The later entry sees the change; the context it was read from does not.
    assert rendered["y"] == [1, 2]
    assert context == variables()
    assert rolling["l"] == [1, 2]


def test_a_jinja_entry_inside_a_mapping_gets_the_same_protection() -> None:
    context = variables()
    render_rolling([("x", {"k": "{{ ctx().d.update(b=2) }}"})], Scope(context))
    assert context == variables()


def test_yaql_entries_see_the_earlier_ones_and_leave_the_context_alone() -> None:
    context = variables()
    rolling, rendered, failures = render_rolling(
        [("x", "<% ctx().v + 1 %>"), ("y", "<% ctx().x %>"), ("l", "<% ctx().l %>")],
        Scope(context),
    )
    assert not failures
    assert rendered == {"x": 4, "y": 4, "l": [1]}
    assert rolling == {**variables(), "x": 4, "y": 4, "l": [1]}
    assert context == variables()


def test_entries_given_as_an_iterator_are_all_rendered() -> None:
    entries = iter([("x", "<% ctx().v %>"), ("y", "{{ ctx().v }}")])
    _, rendered, failures = render_rolling(entries, Scope(variables()))
    assert not failures
    assert rendered == {"x": 3, "y": 3}
