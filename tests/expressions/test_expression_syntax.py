"""Static checks of expressions: finding, parsing, and ctx() references."""

from __future__ import annotations

from cadenza.expressions.syntax import (
    MULTIPLE_TYPES_MESSAGE,
    find_expressions,
    referenced_variables,
    syntax_errors,
)


def test_find_expressions_in_order() -> None:
    found = find_expressions("a <% ctx(x) %> b {{ y }} {% if z %}")
    assert [(e.language, e.text, e.block) for e in found] == [
        ("yaql", "<% ctx(x) %>", False),
        ("jinja", "{{ y }}", False),
        ("jinja", "{% if z %}", True),
    ]


def test_valid_strings_have_no_errors() -> None:
    assert syntax_errors("<% ctx(a).b %>") == []
    assert syntax_errors("{{ ctx('a') }} and {% if 1 %}x{% endif %}") == []
    assert syntax_errors("no expression") == []


def test_parse_errors() -> None:
    [yaql] = syntax_errors("<% ctx(a %>")
    assert (yaql.language, yaql.expression) == ("yaql", "<% ctx(a %>")
    [jinja] = syntax_errors("{{ ctx(a }}")
    assert jinja.language == "jinja"
    [block] = syntax_errors("{% if x %}")
    assert block.expression == "{% if x %}"


def test_mixed_languages() -> None:
    [error] = syntax_errors("<% 1 %> {{ 2 }}")
    assert (error.language, error.message) == (None, MULTIPLE_TYPES_MESSAGE)


def test_referenced_variables() -> None:
    text = "<% ctx(a) + ctx('b') + ctx(\"c\") + ctx().d.e %> {{ ctx().f }}"
    assert referenced_variables(text) == ["a", "b", "c", "d", "f"]
    assert referenced_variables("ctx(outside)") == []
