"""Regular expressions run under the expression budget.

A regular expression is one long call into C: the budget's hooks cannot stop
it. The ones the languages run for us (StackStorm's ``regex_*`` functions in
YAQL and Jinja, JSONata's regex literals) run on the ``regex`` package with a
timeout of what is left of the budget, so a catastrophic pattern fails its
evaluation with ``expression.budget_exceeded`` instead of stalling the engine,
and an execution that meets one fails alone while the next one runs on.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.expressions import Scope, evaluate
from cadenza.expressions import jsonata_language as jsonata
from cadenza.expressions.budget import ExpressionBudget, applied, bounded_pattern
from cadenza.model.errors import ExpressionBudgetExceeded
from cadenza.store import open_store

pytestmark = [pytest.mark.usefixtures("cpu_clock"), pytest.mark.timeout(60)]

#: Exponential backtracking for Python's ``re`` and for ``regex`` alike: left
#: alone it runs for hours on 40 characters.
CATASTROPHIC = "(a|aa)+$"
VICTIM = "a" * 40 + "b"
#: Catastrophic for ``re`` only: the ``regex`` package answers it at once.
NESTED = "(a+)+$"

SMALL = ExpressionBudget(cpu_seconds=0.1)


def _clock() -> jsonata.Clock:
    return jsonata.Clock(0.0, lambda n: b"\x07" * n)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<% regex_match('abc', 'ab') %>", True),
        ("<% regex_match('xabc', 'ab') %>", False),
        ("<% regex_search('xabc', 'b.') %>", True),
        ("<% regex_replace('a1b22', '[0-9]+', '#') %>", "a#b#"),
        ("<% regex_replace('ab', '(a)(b)', '\\\\2\\\\1') %>", "ba"),
        ("<% regex_substring('v1.2.3', '([0-9]+)', 1) %>", "2"),
        ("{{ 'abc' | regex_match('ab') }}", True),
        ("{{ regex_search('xabc', 'b.') }}", True),
        ("{{ 'a1b22' | regex_replace('[0-9]+', '#') }}", "a#b#"),
        ("{{ 'v1.2.3' | regex_substring('([0-9]+)', 2) }}", "3"),
    ],
)
def test_stackstorm_regex_functions_keep_their_meaning(text: str, expected: Any) -> None:
    assert evaluate(text, Scope({})) == expected


def test_jsonata_regex_literals_keep_their_meaning() -> None:
    def run(text: str) -> Any:
        return jsonata.evaluate(text, {"states": {}}, _clock())

    assert run('$match("ab12cd34", /([a-z]+)(\\d+)/)')[1] == {
        "match": "cd34",
        "index": 4,
        "groups": ["cd", "34"],
    }
    assert run('$replace("abcabc", /(b)/, "[$1]")') == "a[b]ca[b]c"
    # "$10" with one group is group 1 then "0", as JSONata reads it.
    assert run('$replace("abc", /(b)/, "$10")') == "ab0c"
    assert run('$contains("Hello", /L+/i)') is True
    assert run('$split("a1b2c", /\\d/)') == ["a", "b", "c"]


@pytest.mark.parametrize(
    "text",
    [
        f"<% regex_search('{VICTIM}', '{CATASTROPHIC}') %>",
        f"<% regex_replace('{VICTIM}', '{CATASTROPHIC}', 'x') %>",
        f"{{{{ '{VICTIM}' | regex_match('{CATASTROPHIC}') }}}}",
        f"{{{{ '{VICTIM}' | regex_substring('{CATASTROPHIC}') }}}}",
    ],
)
def test_a_catastrophic_pattern_stops_at_the_budget_in_yaql_and_jinja(text: str) -> None:
    with applied(SMALL), pytest.raises(ExpressionBudgetExceeded) as caught:
        evaluate(text, Scope({}))
    assert caught.value.details["limit"] == "cpu_seconds"
    assert caught.value.details["expression"] == text
    assert "regular expression '(a|aa)+$'" in caught.value.message
    assert "limit cpu_seconds=0.1 per evaluation" in caught.value.message


@pytest.mark.parametrize(
    "text",
    [
        f'$match("{VICTIM}", /{CATASTROPHIC}/)',
        f'$contains("{VICTIM}", /{CATASTROPHIC}/)',
        f'$replace("{VICTIM}", /{CATASTROPHIC}/, "x")',
        f'$split("{VICTIM}", /{CATASTROPHIC}/)',
    ],
)
def test_a_catastrophic_pattern_stops_at_the_budget_in_jsonata(text: str) -> None:
    with applied(SMALL), pytest.raises(ExpressionBudgetExceeded) as caught:
        jsonata.evaluate(text, {"states": {}}, _clock())
    assert caught.value.details["limit"] == "cpu_seconds"
    assert isinstance(caught.value, jsonata.JsonataError)


def test_the_nested_quantifier_of_the_issue_is_answered_at_once() -> None:
    # Python's re backtracks on this for minutes; the regex package does not.
    with applied(SMALL):
        assert evaluate(f"<% regex_match('{VICTIM}', '{NESTED}') %>", Scope({})) is False


def test_outside_an_evaluation_the_whole_budget_bounds_a_pattern() -> None:
    with applied(SMALL), pytest.raises(ExpressionBudgetExceeded):
        bounded_pattern(CATASTROPHIC).search(VICTIM)


#: ``check`` runs the pattern given in the input on the text given in the input.
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
          - found: <% regex_search(ctx(text), ctx(pattern)) %>
output:
  - found: <% ctx(found) %>
"""


def test_an_execution_with_a_catastrophic_pattern_fails_alone(store_url: str) -> None:
    engine = Engine(open_store(store_url), expression_budget=ExpressionBudget(cpu_seconds=0.2))
    definition = engine.register(WORKFLOW, kind="orquesta")
    bad = engine.start(definition, {"text": VICTIM, "pattern": CATASTROPHIC})
    good = engine.start(definition, {"text": "hello world", "pattern": "wor"})

    failed = engine.drive(bad, timeout=30)
    assert failed.status == "failed"
    message = json.dumps(failed.errors)
    assert "expression.budget_exceeded" in message and "(a|aa)+$" in message

    done = engine.drive(good, timeout=30)
    assert done.status == "succeeded", done.errors
    assert done.output == {"found": True}
    engine.close()
