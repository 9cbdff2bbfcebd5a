"""Focused tests of Orquesta definition loading and inspection: lines, load errors, and
one clear message per kind of problem."""

from __future__ import annotations

import pickle
import textwrap

import pytest

from cadenza.interpreters.orquesta.validation import (
    inspect_definition,
    load_definition,
    parse_definition,
    parse_inline_parameters,
    split_action,
)
from cadenza.model.errors import DefinitionError, DefinitionLoadError, Problem


def _yaml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def _problems(text: str, context_names: tuple[str, ...] = ()) -> list[Problem]:
    return inspect_definition(parse_definition(_yaml(text)), context_names=context_names)


def _only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


# Loading --------------------------------------------------------------------------------


def test_valid_definition_loads_with_typed_tasks() -> None:
    definition = load_definition(
        _yaml(
            """
            version: 1.0
            input:
              - who: world
            tasks:
              greet:
                action: core.echo message="hello <% ctx(who) %>" times=2
                next:
                  - when: <% succeeded() %>
                    publish: said=<% result() %>
                    do: done
              done:
                with: <% list(1, 2) %>
                action: core.noop
            output:
              - said: <% ctx(said) %>
            """
        ),
        origin="greet.yaml",
    )
    greet = definition.tasks["greet"]
    assert greet.action == "core.echo"
    assert greet.input == {"message": "hello <% ctx(who) %>", "times": 2}
    assert greet.next[0].publish == (("said", "<% result() %>"),)
    assert greet.next[0].do == ("done",)
    done = definition.tasks["done"]
    assert done.next == ()
    assert done.with_items is not None and done.with_items.expression == "<% list(1, 2) %>"
    # The shorthand is expanded in the stored mapping too.
    assert definition.document["tasks"]["done"]["with"] == {"items": "<% list(1, 2) %>"}
    assert definition.input == (("who", "world"),)
    assert definition.line_of("tasks.greet.next[0].do") == 10


def test_lines_are_kept_for_every_path() -> None:
    definition = parse_definition(
        _yaml(
            """
            version: 1.0
            tasks:
              t1:
                action: core.noop
                next:
                  - when: <% succeeded() %>
                    do:
                      - t2
              t2:
                action: core.noop
            """
        )
    )
    assert definition.line_of("tasks") == 2
    assert definition.line_of("tasks.t1") == 3
    assert definition.line_of("tasks.t1.next[0]") == 6
    assert definition.line_of("tasks.t1.next[0].do[0]") == 8
    assert definition.line_of("tasks.t2.action") == 10
    # An unknown path falls back to its nearest known ancestor.
    assert definition.line_of("tasks.t1.next[0].publish") == 6


def test_duplicate_keys_are_refused_with_both_lines() -> None:
    source = _yaml(
        """
        version: 1.0
        tasks:
          t1:
            action: core.noop
          t1:
            action: core.echo message=second
        """
    )
    with pytest.raises(DefinitionLoadError) as caught:
        load_definition(source, origin="dup.yaml")
    problem = _only(caught.value.problems)
    assert problem.spec_path == "tasks.t1"
    assert problem.line == 5
    assert problem.message == (
        'The key "t1" appears twice in the same mapping (first at line 3); '
        "duplicate keys are not allowed."
    )
    assert str(caught.value).startswith("dup.yaml: the definition has 1 problem")


def test_every_duplicate_key_is_listed() -> None:
    source = "a: 1\na: 2\ntasks:\n  t1: {action: x, action: y}\n"
    with pytest.raises(DefinitionLoadError) as caught:
        load_definition(source)
    assert [(p.spec_path, p.line) for p in caught.value.problems] == [
        ("a", 2),
        ("tasks.t1.action", 4),
    ]


def test_bad_yaml_names_the_line() -> None:
    source = "version: 1.0\ntasks:\n  t1:\n    action: core.noop\n   next: [\n"
    with pytest.raises(DefinitionLoadError) as caught:
        load_definition(source)
    problem = _only(caught.value.problems)
    assert problem.line == 5
    assert problem.message.startswith("The definition is not valid YAML at line 5, column 4:")
    assert "line 3, column 3" in problem.message


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("- version: 1.0\n- tasks: {}\n", "it is a list"),
        ("just words\n", "it is a string"),
        ("", "The definition is empty."),
        ("a: 1\n---\nb: 2\n", "expected a single document"),
        ("tasks:\n  1: {action: x}\n", "Keys must be strings; 1 is not"),
    ],
)
def test_unusable_documents_are_load_errors(source: str, message: str) -> None:
    with pytest.raises(DefinitionLoadError) as caught:
        load_definition(source)
    assert message in _only(caught.value.problems).message


def test_bad_task_name_is_refused_at_its_path() -> None:
    problem = _only(_problems("tasks:\n  task-1:\n    action: core.noop\n"))
    assert (problem.category, problem.spec_path, problem.line) == ("syntax", "tasks.task-1", 2)
    assert "letters, digits and underscores" in problem.message


# Syntax ---------------------------------------------------------------------------------


def test_unknown_task_key_is_a_syntax_problem_with_schema_path() -> None:
    problem = _only(_problems("tasks:\n  t1:\n    action: core.noop\n    foo: bar\n"))
    assert problem.category == "syntax"
    assert problem.spec_path == "tasks.t1"
    assert problem.schema_path == "properties.tasks.patternProperties.^\\w+$.additionalProperties"
    assert problem.message == "Additional properties are not allowed ('foo' was unexpected)"
    assert problem.line == 2


def test_one_of_failures_say_why_each_alternative_failed() -> None:
    problem = _only(
        _problems("tasks:\n  t1:\n    action: x\n    next:\n      - do: [t2, t2]\n  t2: {}\n")
    )
    assert problem.spec_path == "tasks.t1.next[0].do"
    assert problem.line == 5
    assert "has non-unique elements" in problem.message


# Semantics ------------------------------------------------------------------------------


def test_unknown_task_in_do() -> None:
    problem = _only(
        _problems(
            """
            tasks:
              task1:
                action: core.noop
                next:
                  - do: tsak2
              task2:
                action: core.noop
                next:
                  - do: task1
            """
        )
    )
    assert problem.category == "semantics"
    assert problem.spec_path == "tasks.task1.next[0].do"
    assert problem.line == 5
    assert problem.message == 'The task "tsak2" is not defined. Did you mean "task2"?'


def test_no_start_task() -> None:
    problem = _only(_problems("tasks:\n  t1:\n    action: core.noop\n    next:\n      - do: t1\n"))
    assert (problem.category, problem.spec_path, problem.schema_path) == (
        "semantics",
        "tasks",
        "properties.tasks",
    )
    assert problem.message.startswith("Unable to identify any tasks to start the workflow.")


def test_join_behind_a_split_fed_from_outside_is_unreachable() -> None:
    problems = _problems(
        """
        tasks:
          t1:
            next:
              - do: t2, t3, t5
          t2:
            next:
              - do: t4
          t3:
            next:
              - do: t4
          t4:
            next:
              - do: t5
          t5:
            join: all
        """
    )
    problem = _only(problems)
    assert (problem.spec_path, problem.line) == ("tasks.t5", 14)
    assert problem.message.startswith('The join task "t5" is unreachable.')


def test_join_of_sibling_branches_is_fine() -> None:
    assert not _problems(
        """
        tasks:
          t1:
            next:
              - do: t2, t3
          t2:
            next:
              - do: t4
          t3:
            next:
              - do: t4
          t4:
            join: all
        """
    )


def test_with_items_without_action() -> None:
    problem = _only(_problems("tasks:\n  t1:\n    with: <% list(1) %>\n"))
    assert (problem.category, problem.spec_path) == ("semantics", "tasks.t1")
    assert problem.message == "The action property is required for with items task."


# Expressions ----------------------------------------------------------------------------


def test_yaql_syntax_error() -> None:
    problem = _only(
        _problems(
            """
            tasks:
              t1:
                action: core.noop
                next:
                  - when: <% succeeded( %>
            """
        )
    )
    assert problem.category == "expressions"
    assert problem.spec_path == "tasks.t1.next[0].when"
    assert problem.line == 5
    assert problem.expression == "<% succeeded( %>"
    assert problem.message == (
        "The YAQL expression '<% succeeded( %>' does not parse: "
        "Parse error: unexpected end of statement"
    )


def test_jinja_syntax_error_in_an_input_value_points_at_its_line() -> None:
    problem = _only(
        _problems(
            """
            tasks:
              t1:
                action: core.echo
                input:
                  other: fine
                  message: "{{ 1 + }}"
            """
        )
    )
    assert (problem.category, problem.spec_path, problem.line) == (
        "expressions",
        "tasks.t1.input",
        6,
    )
    assert problem.message.startswith("The Jinja expression '{{ 1 + }}' does not parse:")


def test_mixed_languages_in_one_string() -> None:
    problem = _only(_problems("vars:\n  - a: <% 1 %> {{ 2 }}\ntasks:\n  t1:\n    action: x\n"))
    assert (problem.spec_path, problem.line) == ("vars", 2)
    assert problem.message.startswith("Expression with multiple types is not supported.")


# Context --------------------------------------------------------------------------------


def test_variable_published_on_one_path_only() -> None:
    problem = _only(
        _problems(
            """
            tasks:
              t1:
                action: core.noop
                next:
                  - when: <% failed() %>
                    publish: msg="oops"
                    do: t2
                  - when: <% succeeded() %>
                    do: t2
              t2:
                action: core.echo message=<% ctx(msg) %>
            """
        )
    )
    assert (problem.category, problem.spec_path, problem.line) == (
        "context",
        "tasks.t2.input",
        11,
    )
    assert problem.message == 'Variable "msg" is referenced before assignment.'
    assert problem.expression == "<% ctx(msg) %>"


def test_loops_joins_parent_context_and_output_are_understood() -> None:
    assert not _problems(
        """
        input:
          - n: 0
        tasks:
          start:
            next:
              - publish: [{i: <% ctx(n) %>}]
                do: loop
          loop:
            action: core.echo message=<% ctx(i) %> host=<% ctx(st2).host %>
            next:
              - when: <% ctx(i) < 3 %>
                publish: i=<% ctx(i) + 1 %> last=<% ctx(i) %>
                do: loop
              - when: <% ctx(i) >= 3 %>
                publish: a=1
                do: left, right
          left:
            next:
              - publish: l=<% ctx(a) %>
                do: meet
          right:
            next:
              - publish: r=2
                do: meet
          meet:
            join: all
            action: core.echo message="<% ctx(l) %><% ctx(r) %>"
        output:
          - last: <% ctx(last) %>
          - both: <% ctx(last) %>
        """,
        context_names=("st2",),
    )


def test_private_variable() -> None:
    problems = _problems("tasks:\n  t1:\n    action: core.echo message={{ ctx('__state') }}\n")
    messages = {p.message for p in problems if p.category == "context"}
    assert (
        'Variable "__state" that is prefixed with double underscores is considered a private '
        "variable and cannot be referenced." in messages
    )


# The error as a whole -------------------------------------------------------------------


def test_every_problem_of_every_category_is_listed_once_and_sorted() -> None:
    source = _yaml(
        """
        version: 1.0
        vars:
          - x: <% ctx(nope) %>
        tasks:
          fail:
            action: core.noop
            next:
              - do: ghost
          t2:
            with: <% list(1) %>
            action: core.echo message=<% item( %>
            foo: bar
        """
    )
    with pytest.raises(DefinitionError) as caught:
        load_definition(source, origin="many.yaml")
    error = caught.value
    assert not isinstance(error, DefinitionLoadError)
    assert {p.category for p in error.problems} == {
        "syntax",
        "semantics",
        "expressions",
        "context",
    }
    assert error.problems == sorted(error.problems)
    assert len(set(error.problems)) == len(error.problems)
    assert all(p.line is not None for p in error.problems)
    assert "many.yaml: the definition has 5 problems" in str(error)
    restored = pickle.loads(pickle.dumps(error))
    assert restored.problems == error.problems
    assert error.to_dict()["code"] == "definition.invalid"


# Inline parameters ----------------------------------------------------------------------


def test_inline_parameters_follow_orquesta_grammar() -> None:
    pairs = parse_inline_parameters(
        'a=1 b=1.5, c="x y"; d=\'{"k": 1}\' e=[1, 2] f=TRUE g=null h=<% 1 %> i=word'
    )
    assert pairs == [
        ("a", 1),
        ("b", 1.5),
        ("c", "x y"),
        ("d", {"k": 1}),
        ("e", [1, 2]),
        ("f", True),
        ("g", None),
        ("h", "<% 1 %>"),
    ]
    assert split_action("core.noop") == ("core.noop", None)
    assert split_action("core.echo message=<% ctx(m) %>") == (
        "core.echo",
        {"message": "<% ctx(m) %>"},
    )


def test_input_block_wins_over_inline_parameters_and_keeps_the_action_whole() -> None:
    definition = load_definition(
        "tasks:\n  t1:\n    action: core.echo message=inline\n    input:\n      other: block\n"
    )
    task = definition.tasks["t1"]
    assert task.action == "core.echo message=inline"
    assert task.inline_input is None
    assert task.input == {"other": "block"}


def test_a_control_character_is_a_load_error_not_a_crash() -> None:
    from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
    from cadenza.model.errors import DefinitionLoadError

    with pytest.raises(DefinitionLoadError) as caught:
        OrquestaFrontEnd().compile("version: 1.0\x0b\ntasks: {}\n")
    assert "not valid YAML" in caught.value.problems[0].message
