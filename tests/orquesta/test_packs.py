"""StackStorm packs: reading a pack directory, and its actions run as activities."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
from cadenza.model.errors import ActivityError, DefinitionError, InputError
from cadenza.packs import load_pack
from cadenza.packs.metadata import read_pack
from cadenza.packs.runners import RUNNER_UNSUPPORTED, script_arguments
from cadenza.workers.context import ActivityContext
from cadenza.workers.outcome import ActivityOutcome, OutcomeStatus
from cadenza.workers.registry import ActivityRegistry


def write_pack(root: Path, files: dict[str, str]) -> Path:
    """A pack directory at ``root`` holding ``files`` (path -> text, dedented)."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


PYTHON_ACTION = """
    import time

    from st2common.runners.base_action import Action


    class Hello(Action):
        def run(self, name, fail=False, boom=False, nap=0):
            print(f"greeting {name}")
            if nap:
                time.sleep(nap)
            if boom:
                raise RuntimeError("the action blew up")
            if fail:
                return (False, {"why": "asked to fail"})
            return {"greeting": f"{self.config['greeting']}, {name}"}
"""


@pytest.fixture
def pack_dir(tmp_path: Path) -> Path:
    return write_pack(
        tmp_path / "hello",
        {
            "pack.yaml": "ref: hello\nversion: 1.0.0\n",
            "config.schema.yaml": """
                greeting: {type: string, default: Hello}
                channel: {type: string, required: true}
                token: {type: string, secret: true}
            """,
            "actions/say.yaml": """
                name: say
                runner_type: python-script
                entry_point: say.py
                parameters:
                  name: {type: string, required: true}
                  fail: {type: boolean, default: false}
                  boom: {type: boolean, default: false}
                  nap: {type: number, default: 0}
            """,
            "actions/say.py": PYTHON_ACTION,
            "actions/shout.yaml": """
                name: shout
                runner_type: local-shell-cmd
                parameters:
                  word: {type: string, required: true}
                  cmd: {default: "echo {{ word | upper }}", immutable: true}
            """,
            "actions/remote.yaml": """
                name: remote
                runner_type: remote-shell-cmd
                parameters:
                  hosts: {type: string}
            """,
        },
    )


def test_a_pack_reads_its_actions_with_the_runner_parameters_merged(pack_dir: Path) -> None:
    pack = read_pack(pack_dir)
    assert pack.ref == "hello"
    by_ref = {a.ref: a for a in pack.actions}
    assert sorted(by_ref) == ["hello.remote", "hello.say", "hello.shout"]
    shout = by_ref["hello.shout"].spec
    cmd = shout.parameter("cmd")
    assert cmd is not None and cmd.immutable and cmd.type == "string"
    timeout = shout.parameter("timeout")
    assert timeout is not None and timeout.default == 60
    assert not by_ref["hello.remote"].supported
    assert pack.config.values == {"greeting": "Hello"}
    assert pack.config.missing == ("channel",)
    assert pack.config.secrets == ("token",)


def test_the_config_comes_from_a_configs_folder_by_pack_ref(pack_dir: Path, tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "hello.yaml").write_text("channel: '#ops'\ngreeting: Hi\n")
    config = read_pack(pack_dir, configs_dir=configs).config
    assert config.values == {"channel": "#ops", "greeting": "Hi"}
    assert config.missing == ()


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"actions/a.yaml": "name: a\n"}, "a.yaml: action 'a' has no runner_type"),
        (
            {"actions/a.yaml": "name: a\nrunner_type: python-script\nentry_point: a.py\n"},
            "the entry_point 'a.py' of action 'a' is not a file",
        ),
        ({"actions/a.yaml": "name: [a\n"}, "a.yaml is not valid YAML"),
        (
            {
                "actions/a.yaml": "name: a\nrunner_type: local-shell-cmd\n",
                "actions/b.yaml": "name: a\nrunner_type: local-shell-cmd\n",
            },
            "action 'p.a' is also defined in",
        ),
    ],
)
def test_a_broken_pack_is_refused_naming_the_file(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    root = write_pack(tmp_path / "p", {"pack.yaml": "ref: p\n", **files})
    with pytest.raises(InputError) as refused:
        read_pack(root)
    assert expected in refused.value.message


def _activities(pack_dir: Path, config: str = "channel: x\n") -> ActivityRegistry:
    (pack_dir / "config.yaml").write_text(config)
    registry = ActivityRegistry()
    load_pack(pack_dir).add_to(OrquestaFrontEnd(), registry)
    return registry


def _call(registry: ActivityRegistry, ref: str, **params: Any) -> ActivityOutcome:
    activity = registry.get(ref)
    if activity.context_param:
        params[activity.context_param] = ActivityContext("e1", "t1")
    outcome = activity.fn(**params)
    assert isinstance(outcome, ActivityOutcome)
    return outcome


def test_a_python_action_runs_in_its_own_process_with_the_pack_config(pack_dir: Path) -> None:
    registry = _activities(pack_dir, "channel: x\ngreeting: Howdy\n")
    outcome = _call(registry, "hello.say", name="ann", fail=False, boom=False)
    assert outcome.status == OutcomeStatus.SUCCEEDED
    assert outcome.result == {
        "result": {"greeting": "Howdy, ann"},
        "exit_code": 0,
        "stdout": "greeting ann",
        "stderr": "",
    }


def test_a_python_action_fails_by_returning_false_or_raising(pack_dir: Path) -> None:
    registry = _activities(pack_dir)
    failed = _call(registry, "hello.say", name="ann", fail=True)
    assert failed.status == OutcomeStatus.FAILED
    assert failed.error is not None and failed.error.type == "action.failed"
    assert isinstance(failed.result, dict) and failed.result["result"] == {"why": "asked to fail"}
    raised = _call(registry, "hello.say", name="ann", boom=True)
    assert raised.error is not None and raised.error.type == "RuntimeError"
    assert "the action blew up" in raised.error.message
    assert isinstance(raised.result, dict) and raised.result["exit_code"] == 1
    assert "Traceback" in raised.result["stderr"]


def test_a_python_action_past_its_timeout_is_killed(pack_dir: Path) -> None:
    registry = _activities(pack_dir)
    outcome = _call(registry, "hello.say", name="ann", nap=30, timeout=1)
    assert outcome.status == OutcomeStatus.TIMEOUT
    assert outcome.error is not None and "hello.say: the action did not finish" in (
        outcome.error.message
    )


def test_a_python_action_refuses_bad_input_and_a_missing_config_key(pack_dir: Path) -> None:
    registry = _activities(pack_dir)
    with pytest.raises(ActivityError) as refused:
        _call(registry, "hello.say", name=3, colour="red")
    assert refused.value.non_retryable
    assert "'name' must be of type string" in refused.value.message
    assert "unexpected parameter 'colour'" in refused.value.message
    registry = _activities(pack_dir, config="greeting: Hi\n")
    with pytest.raises(ActivityError) as no_config:
        _call(registry, "hello.say", name="ann")
    assert "lacks the required key(s) channel" in no_config.value.message


def test_a_module_without_one_action_class_is_a_clear_failure(pack_dir: Path) -> None:
    (pack_dir / "actions/say.py").write_text("def run(name):\n    return name\n")
    registry = _activities(pack_dir)
    outcome = _call(registry, "hello.say", name="ann")
    assert outcome.error is not None and outcome.error.type == "action.import_failed"
    assert outcome.error.non_retryable
    assert "must define one subclass of Action; it defines none" in outcome.error.message


def test_a_shell_command_renders_its_parameters_into_the_command(pack_dir: Path) -> None:
    registry = _activities(pack_dir)
    outcome = _call(registry, "hello.shout", word="hey")
    assert outcome.status == OutcomeStatus.SUCCEEDED
    assert isinstance(outcome.result, dict) and outcome.result["stdout"] == "HEY"


def test_an_unsupported_runner_fails_when_run_and_not_before(pack_dir: Path) -> None:
    registry = _activities(pack_dir)
    outcome = _call(registry, "hello.remote", hosts="a")
    assert outcome.error is not None and outcome.error.type == RUNNER_UNSUPPORTED
    assert outcome.error.non_retryable and "remote-shell-cmd" in outcome.error.message


def test_a_shell_script_gets_positional_then_named_arguments(tmp_path: Path) -> None:
    root = write_pack(
        tmp_path / "s",
        {
            "actions/run.yaml": """
                name: run
                runner_type: local-shell-script
                entry_point: run.sh
                parameters:
                  first: {type: string, position: 0}
                  second: {type: integer, position: 1}
                  flag: {type: boolean, default: true}
                  items: {type: array}
            """,
            "actions/run.sh": 'for a in "$@"; do echo "[$a]"; done\n',
        },
    )
    (root / "actions/run.sh").chmod(0o755)
    pack = load_pack(root)
    [action] = pack.metadata.actions
    params = {"first": "a b", "second": 2, "flag": True, "items": [1, 2], "gone": None}
    assert script_arguments(action.spec, params) == ["a b", "2", "--flag=true", "--items=[1, 2]"]
    registry = ActivityRegistry()
    pack.add_to(OrquestaFrontEnd(), registry)
    outcome = _call(registry, "s.run", first="x y", second=7)
    assert isinstance(outcome.result, dict)
    assert outcome.result["stdout"].splitlines() == ["[x y]", "[7]", "[--flag=true]"]


def test_a_pack_workflow_with_a_bad_call_is_refused_naming_its_file(tmp_path: Path) -> None:
    root = write_pack(
        tmp_path / "w",
        {
            "actions/greet.yaml": """
                name: greet
                runner_type: local-shell-cmd
                parameters:
                  who: {type: string, required: true}
            """,
            "actions/flow.yaml": """
                name: flow
                runner_type: orquesta
                entry_point: workflows/flow.yaml
            """,
            "actions/workflows/flow.yaml": """
                version: 1.0
                tasks:
                  hello:
                    action: w.greet
            """,
        },
    )
    with pytest.raises(DefinitionError) as refused:
        load_pack(root).add_to(OrquestaFrontEnd(), ActivityRegistry())
    assert str(root / "actions/workflows/flow.yaml") in refused.value.message
    assert 'Action "w.greet" is missing required input "who".' in refused.value.message
