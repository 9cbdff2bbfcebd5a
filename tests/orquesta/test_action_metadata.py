"""Action metadata at inspection and scheduling: parameters checked and defaulted."""

from __future__ import annotations

import pytest

from cadenza.interpreters.orquesta.actions import ActionParameter, ActionSpec
from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
from cadenza.model.commands import ScheduleTask
from cadenza.model.errors import DefinitionError
from cadenza.model.events import ExecutionStarted

GREET = ActionSpec(
    ref="demo.greet",
    runner_type="python-script",
    parameters=(
        ActionParameter("name", type="string", required=True),
        ActionParameter("times", type="integer", has_default=True, default=1),
        ActionParameter("loud", type="boolean"),
        ActionParameter("style", type="string", has_default=True, default="plain", immutable=True),
        ActionParameter("token", type="string", has_default=True, default="s3cret", secret=True),
    ),
)


def _problems(source: str) -> list[tuple[str, str, str]]:
    with pytest.raises(DefinitionError) as refused:
        OrquestaFrontEnd(actions=[GREET]).compile(source)
    return [(p.category, p.spec_path, p.message) for p in refused.value.problems]


def test_missing_required_and_unexpected_inputs_are_refused_with_every_problem() -> None:
    source = """
version: 1.0
tasks:
  t1:
    action: demo.greet
    input:
      nmae: ann
  t2:
    action: demo.greet times=3
"""
    assert _problems(source) == [
        ("actions", "tasks.t1.input", 'Action "demo.greet" is missing required input "name".'),
        ("actions", "tasks.t1.input.nmae", 'Action "demo.greet" has unexpected input "nmae".'),
        ("actions", "tasks.t2.action", 'Action "demo.greet" is missing required input "name".'),
    ]


def test_literal_values_of_the_wrong_type_and_immutable_parameters_are_refused() -> None:
    source = """
version: 1.0
tasks:
  t1:
    action: demo.greet
    input:
      name: ann
      times: "three"
      style: fancy
"""
    [(_, path1, wrong_type), (_, path2, immutable)] = _problems(source)
    assert (path1, path2) == ("tasks.t1.input.style", "tasks.t1.input.times")
    assert "immutable" in wrong_type and "'plain'" in wrong_type
    assert immutable == (
        'The parameter "times" of action "demo.greet" must be of type integer, not string.'
    )


def test_a_secret_immutable_default_is_not_shown_in_the_message() -> None:
    key = ActionParameter("key", has_default=True, default="s3cret", secret=True, immutable=True)
    spec = ActionSpec(ref="demo.vault", runner_type="python-script", parameters=(key,))
    source = 'version: 1.0\ntasks:\n  t:\n    action: demo.vault key="x"\n'
    with pytest.raises(DefinitionError) as refused:
        OrquestaFrontEnd(actions=[spec]).compile(source)
    [message] = [p.message for p in refused.value.problems]
    assert "s3cret" not in message and "***" in message


def test_expressions_are_checked_only_for_their_names() -> None:
    source = """
version: 1.0
input:
  - n
tasks:
  t1:
    action: demo.greet
    input:
      name: <% ctx(n) %>
      times: <% ctx(n) %>
  t2:
    action: demo.greet
    input: <% dict(anything => 1) %>
"""
    OrquestaFrontEnd(actions=[GREET]).compile(source)


def test_defaults_and_immutable_values_are_in_the_scheduled_input() -> None:
    source = """
version: 1.0
tasks:
  t1:
    action: demo.greet
    input:
      name: ann
      loud: true
"""
    interpreter = OrquestaFrontEnd(actions=[GREET]).compile(source)
    commands = interpreter.decide(interpreter.new_state(), [ExecutionStarted(input={})], 0.0)
    [task] = [c for c in commands if isinstance(c, ScheduleTask)]
    assert task.action == "demo.greet"
    assert task.input == {
        "name": "ann",
        "times": 1,
        "loud": True,
        "style": "plain",
        "token": "s3cret",
    }


def test_an_action_without_metadata_is_not_checked() -> None:
    source = "version: 1.0\ntasks:\n  t:\n    action: other.thing\n    input:\n      x: 1\n"
    interpreter = OrquestaFrontEnd(actions=[GREET]).compile(source)
    assert [u.ref for u in interpreter.actions()] == ["other.thing"]
