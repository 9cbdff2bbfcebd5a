"""YAQL's own regular-expression functions run under the expression budget.

``regex()``, ``=~``, ``!~``, ``matches``, ``search``, ``searchAll``, ``split``,
``replace`` and ``replaceBy`` of YAQL's standard library would run their
patterns on ``re``, which no budget can interrupt. Cadenza registers them on
bounded patterns: a catastrophic pattern fails its evaluation with
``expression.budget_exceeded``, an execution meeting one fails alone, and
everything else reads as in YAQL.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.expressions import Scope, evaluate
from cadenza.expressions.budget import ExpressionBudget, applied
from cadenza.model.errors import ExpressionBudgetExceeded
from cadenza.store import open_store

pytestmark = [pytest.mark.usefixtures("cpu_clock"), pytest.mark.timeout(60)]

#: Exponential backtracking for ``re`` and ``regex`` alike: hours on 40 characters.
CATASTROPHIC = "(a|aa)+$"
VICTIM = "a" * 40 + "b"

SMALL = ExpressionBudget(cpu_seconds=0.1)


def yaql(expression: str, **variables: Any) -> Any:
    return evaluate(f"<% {expression} %>", Scope(variables))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # What YAQL's own functions answer (checked against yaql 3 with ``re``).
        ("regex('a.c').matches('abc')", True),
        ("regex('A.c').matches('abc')", False),
        ("regex('A.c', ignoreCase => true).matches('abc')", True),
        ("regex('^b', multiLine => true).matches('a\\nb')", True),
        ("regex('^b').matches('a\\nb')", False),
        ("regex('a.b', dotAll => true).matches('a\\nb')", True),
        ("'abc'.matches('a.c')", True),
        ("'abc' =~ 'a.c'", True),
        ("'abc' =~ regex('a.c')", True),
        ("'acb' !~ regex('a.c')", True),
        ("'abc' !~ 'a.c'", False),
        ("regex('a.c').search('abcabc')", "abc"),
        ("regex('z').search('abc')", None),
        ("regex('a.c').search('cabc', $)", {"value": "abc", "start": 1, "end": 4}),
        (
            "regex('(a)(.)c').search('xabc', [$1.value, $2, $3.value])",
            ["abc", {"value": "a", "start": 1, "end": 2}, "b"],
        ),
        ("regex('a.c').searchAll('abcadc')", ["abc", "adc"]),
        ("regex('a.c').searchAll('abcadc', $.start)", [0, 3]),
        ("regex('a.').split('abcadc')", ["", "c", "c"]),
        ("'abcadc'.split(regex('a.'), maxSplit => 1)", ["", "cadc"]),
        ("regex('a.').replace('abcadc', 'xx')", "xxcxxc"),
        ("regex('a.').replace('abcadc', 'xx', count => 1)", "xxcadc"),
        ("'abcadc'.replace(regex('a.'), 'xx')", "xxcxxc"),
        ("regex('(a)(.)').replace('abcadc', '\\\\2\\\\1')", "bacdac"),
        ("regex('a.c').replaceBy('abcadc', switch($.value = 'abc' => xx, true => yy))", "xxyy"),
        ("'abcadc'.replaceBy(regex('a.c'), $.value.toUpper(), count => 1)", "ABCadc"),
        ("escapeRegex('a.')", "a\\."),
        ("isRegex(regex('a.c'))", True),
        ("isRegex('a.c')", False),
        # The string library's replace and split are untouched.
        ("'abc'.replace('b', 'x')", "axc"),
        ("'a b'.split(' ')", ["a", "b"]),
        # Named groups reach a selector by name (YAQL's own code fails on them).
        ("regex('(?P<k>[a-z]+)=(?P<v>[0-9]+)').search('x ab=12', [$k.value, $v.start])", ["ab", 5]),
    ],
)
def test_yaql_regex_functions_keep_their_meaning(expression: str, expected: Any) -> None:
    assert yaql(expression) == expected


def test_a_bad_pattern_fails_as_an_expression_error() -> None:
    with pytest.raises(Exception, match="missing \\)") as caught:
        yaql("regex('(').matches('x')")
    assert not isinstance(caught.value, ExpressionBudgetExceeded)


@pytest.mark.parametrize(
    "expression",
    [
        f"'{VICTIM}' =~ '{CATASTROPHIC}'",
        f"'{VICTIM}' !~ regex('{CATASTROPHIC}')",
        f"'{VICTIM}'.matches('{CATASTROPHIC}')",
        f"regex('{CATASTROPHIC}').search('{VICTIM}')",
        f"regex('{CATASTROPHIC}').searchAll('{VICTIM}')",
        f"regex('{CATASTROPHIC}').replace('{VICTIM}', 'x')",
        f"regex('{CATASTROPHIC}').replaceBy('{VICTIM}', 'x')",
        f"regex('{CATASTROPHIC}').split('{VICTIM}')",
    ],
)
def test_a_catastrophic_pattern_stops_at_the_budget(expression: str) -> None:
    text = f"<% {expression} %>"
    with applied(SMALL), pytest.raises(ExpressionBudgetExceeded) as caught:
        evaluate(text, Scope({}))
    assert caught.value.details["limit"] == "cpu_seconds"
    assert caught.value.details["expression"] == text
    assert "regular expression '(a|aa)+$'" in caught.value.message
    assert "limit cpu_seconds=0.1 per evaluation" in caught.value.message


def test_a_pattern_from_the_context_is_bounded_too() -> None:
    with applied(SMALL), pytest.raises(ExpressionBudgetExceeded):
        yaql("regex(ctx(pattern)).search(ctx(text))", pattern=CATASTROPHIC, text=VICTIM)


#: ``check`` matches the input's text against the input's pattern with ``=~``.
WORKFLOW = """\
version: 1.0
input:
  - text
  - pattern
tasks:
  check:
    action: core.noop
    next:
      - publish:
          - found: <% ctx(text) =~ ctx(pattern) %>
          - first: <% regex(ctx(pattern)).search(ctx(text)) %>
output:
  - found: <% ctx(found) %>
  - first: <% ctx(first) %>
"""


def test_an_execution_with_a_catastrophic_pattern_fails_alone(store_url: str) -> None:
    engine = Engine(open_store(store_url), expression_budget=ExpressionBudget(cpu_seconds=0.2))
    definition = engine.register(WORKFLOW, kind="orquesta")
    bad = engine.start(definition, {"text": VICTIM, "pattern": CATASTROPHIC})
    good = engine.start(definition, {"text": "hello world", "pattern": "w.r"})

    failed = engine.drive(bad, timeout=30)
    assert failed.status == "failed"
    message = json.dumps(failed.errors)
    assert "expression.budget_exceeded" in message and "(a|aa)+$" in message

    done = engine.drive(good, timeout=30)
    assert done.status == "succeeded", done.errors
    assert done.output == {"found": True, "first": "wor"}
    engine.close()
