"""Which datastore entries a definition reads, as its text tells (no store needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadenza.interpreters.orquesta.actions import ActionParameter, ActionSpec, workflow_action
from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
from cadenza.interpreters.protocol import DatastoreKeys, datastore_keys_of


def _keys(body: str, *actions: ActionSpec) -> DatastoreKeys:
    source = f"version: 1.0\n{body}"
    return datastore_keys_of(OrquestaFrontEnd(actions=actions).compile(source))


def test_literal_keys_are_read_one_by_one() -> None:
    keys = _keys(
        """output:
  - a: <% st2kv('system.api_url') %>
  - b: "{{ st2kv('token', decrypt=true) }}"
  - c: "{{ st2kv.system.region }}"
  - d: "{{ st2kv.user.colour }}"
tasks:
  t1:
    action: core.noop
"""
    )
    assert keys == DatastoreKeys(
        system=frozenset({"api_url", "region"}),
        user=frozenset({"token", "colour"}),
        user_context=True,
    )


@pytest.mark.parametrize(
    ("expression", "whole"),
    [
        ("<% st2kv(ctx().name) %>", {"system", "user"}),
        ("<% st2kv('system.' + ctx().name) %>", {"system", "user"}),
        ("\"{{ st2kv.system[ctx('name')] }}\"", {"system"}),
    ],
)
def test_a_computed_key_reads_whole_scopes(expression: str, whole: set[str]) -> None:
    keys = _keys(
        f"""input:
  - name: x
output:
  - v: {expression}
tasks:
  t1:
    action: core.noop
"""
    )
    assert keys.whole == frozenset(whole)


def test_parameter_defaults_of_called_actions_count() -> None:
    spec = ActionSpec(
        ref="demo.call",
        runner_type="python-script",
        parameters=(
            ActionParameter("url", has_default=True, default="{{ st2kv.system.endpoint }}"),
            ActionParameter("who", has_default=True, default="{{ action_context.user }}"),
        ),
    )
    keys = _keys("tasks:\n  t1:\n    action: demo.call\n", spec)
    assert keys.system == frozenset({"endpoint"}) and keys.user_context


def test_calling_a_workflow_action_reads_every_scope_for_the_child() -> None:
    keys = _keys("tasks:\n  t1:\n    action: demo.child\n", workflow_action("demo.child", "c"))
    assert keys.whole == frozenset({"system", "user"})


def test_st2_context_needs_the_user_and_a_plain_workflow_reads_nothing() -> None:
    reads = _keys("output:\n  - u: <% ctx().st2.user %>\ntasks:\n  t1:\n    action: core.noop\n")
    assert reads == DatastoreKeys(user_context=True)
    assert not _keys("tasks:\n  t1:\n    action: core.noop\n")


def test_a_loaded_pack_gives_its_actions_the_config(tmp_path: Path) -> None:
    from cadenza.packs.metadata import read_pack

    root = tmp_path / "demo"
    (root / "actions").mkdir(parents=True)
    (root / "pack.yaml").write_text("ref: demo\nversion: 1.0.0\n")
    (root / "config.yaml").write_text("region: eu-west\n")
    (root / "actions" / "hello.yaml").write_text(
        "name: hello\nrunner_type: local-shell-cmd\n"
        "parameters:\n  cmd:\n    default: 'echo {{ config_context.region }}'\n"
    )
    (action,) = read_pack(root).actions
    assert action.spec.config == {"region": "eu-west"}
