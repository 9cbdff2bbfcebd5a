"""Pack action parameters marked ``secret: true``: masked in every view, given in clear.

A pack in a scratch directory, run with ``cadenza run --pack DIR`` on each store
backend: the action writes what it received to a file, and neither the run's
output, ``status``, ``history`` (text and JSON) nor the engine's views show the
secret values, whether the workflow gives them or the metadata's default does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cadenza.cli.main import main
from cadenza.engine.engine import Engine
from cadenza.model.events import ChildStarted, TaskScheduled
from cadenza.model.secrets import MASK
from cadenza.store import open_store

GIVEN = "tok-given-5150"
DEFAULTED = "key-default-8086"
CHILD_PASSWORD = "pw-child-2600"

STORE_TOKEN = """\
---
name: store_token
runner_type: local-shell-cmd
description: Write the token and key it received to a file.
parameters:
  token:
    type: string
    required: true
    secret: true
  api_key:
    type: string
    secret: true
    default: "{default}"
  out:
    type: string
    required: true
  cmd:
    default: >-
      printf '%s %s' '{{{{ token }}}}' '{{{{ api_key }}}}' > '{{{{ out }}}}';
      cat '{{{{ out }}}}'
    immutable: true
"""

DEPLOY = """\
---
name: deploy
runner_type: orquesta
description: A workflow action with a secret parameter.
entry_point: workflows/deploy.yaml
parameters:
  password:
    type: string
    required: true
    secret: true
  out:
    type: string
    required: true
"""

DEPLOY_WORKFLOW = """\
version: 1.0
input:
  - password
  - out
tasks:
  store:
    action: vault.store_token
    input:
      token: <% ctx().password %>
      out: <% ctx().out %>
output:
  - stored: <% ctx().out %>
"""

FLOW = """\
version: 1.0
input:
  - out
  - child_out
tasks:
  store:
    action: vault.store_token
    input:
      token: {given}
      out: <% ctx().out %>
    next:
      - when: <% succeeded() %>
        do: deploy
  deploy:
    action: vault.deploy
    input:
      password: {password}
      out: <% ctx().child_out %>
output:
  - echoed: <% task(store).result.stdout %>
"""


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    (root / "actions" / "workflows").mkdir(parents=True)
    (root / "pack.yaml").write_text("ref: vault\nversion: 0.1.0\n")
    (root / "actions" / "store_token.yaml").write_text(STORE_TOKEN.format(default=DEFAULTED))
    (root / "actions" / "deploy.yaml").write_text(DEPLOY)
    (root / "actions" / "workflows" / "deploy.yaml").write_text(DEPLOY_WORKFLOW)
    return root


def test_secret_parameters_reach_the_action_and_no_view_shows_them(
    store_url: str, pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.format(given=GIVEN, password=CHILD_PASSWORD))
    out, child_out = tmp_path / "received.txt", tmp_path / "child.txt"
    common = ["--store", store_url, "--pack", str(pack)]
    given_input = json.dumps({"out": str(out), "child_out": str(child_out)})
    code = main(["run", *common, "--json", str(flow), "--input", given_input])
    shown = capsys.readouterr()
    assert code == 0, shown.err

    # The action received the given and the defaulted secret in clear.
    assert out.read_text() == f"{GIVEN} {DEFAULTED}"
    assert child_out.read_text() == f"{CHILD_PASSWORD} {DEFAULTED}"

    report = json.loads(shown.out)
    assert report["status"] == "succeeded"
    assert report["output"] == {"echoed": MASK + " " + MASK}
    execution = report["execution_id"]

    views: list[str] = [shown.out, shown.err]
    for command in (["status"], ["status", "--json"], ["history"], ["history", "--json"]):
        assert main([command[0], "--store", store_url, *command[1:], execution]) == 0
        views.append(capsys.readouterr().out)
    for view in views:
        for secret in (GIVEN, DEFAULTED, CHILD_PASSWORD):
            assert secret not in view
    assert MASK in views[-1]

    # History keeps the truth, and says where the secrets are.
    store = open_store(store_url)
    try:
        engine = Engine(store)
        events = [r.event for r in engine.history(execution)]
        scheduled = next(e for e in events if isinstance(e, TaskScheduled))
        assert scheduled.input is not None and scheduled.input["token"] == GIVEN
        assert scheduled.meta["secret_paths"] == [["token"], ["api_key"]]
        child = next(e for e in events if isinstance(e, ChildStarted))
        assert child.meta["secret_paths"] == [["password"]]
        # The child execution masks its input (the password) and its own task's too.
        child_secrets = engine.secrets_of(child.execution_id)
        assert {CHILD_PASSWORD, DEFAULTED} <= set(child_secrets)
        assert GIVEN in engine.secrets_of(execution)
    finally:
        store.close()


def test_a_task_scheduled_after_the_first_look_is_masked_too(
    store_url: str, pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The engine caches the secrets of an execution; a task scheduled later (here
    after an inquiry is answered) still has its secrets found."""
    flow = tmp_path / "later.yaml"
    flow.write_text(
        "version: 1.0\n"
        "input: [out]\n"
        "tasks:\n"
        "  ask:\n"
        "    action: core.ask\n"
        "    next:\n"
        "      - when: <% succeeded() %>\n"
        "        do: store\n"
        "  store:\n"
        "    action: vault.store_token\n"
        "    input:\n"
        f"      token: {GIVEN}\n"
        "      out: <% ctx().out %>\n"
    )
    out = tmp_path / "later.txt"
    common = ["--store", store_url, "--pack", str(pack)]
    code = main(["run", *common, "--json", str(flow), "--input", json.dumps({"out": str(out)})])
    paused = json.loads(capsys.readouterr().out)
    assert code == 3 and paused["status"] == "paused"
    execution = paused["execution_id"]
    store = open_store(store_url)
    try:
        engine = Engine(store)
        assert GIVEN not in engine.secrets_of(execution)  # not scheduled yet
        answer = ["respond", *common, execution, "ask", "--result", '{"continue": true}']
        assert main(answer) == 0
        capsys.readouterr()
        assert out.read_text() == f"{GIVEN} {DEFAULTED}"
        # The same engine, whose cache was filled before the task was scheduled.
        assert GIVEN in engine.secrets_of(execution)
    finally:
        store.close()
    assert main(["history", "--store", store_url, execution]) == 0
    assert GIVEN not in capsys.readouterr().out


LEAKY = """\
---
name: leaky
runner_type: local-shell-cmd
description: Fail, printing the token it received on standard error.
parameters:
  token:
    type: string
    required: true
    secret: true
  cmd:
    default: "echo 'refused {{ token }}' >&2; exit 3"
    immutable: true
"""


def test_progress_lines_of_a_failing_task_mask_its_secret_parameters(
    store_url: str, pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (pack / "actions" / "leaky.yaml").write_text(LEAKY)
    flow = tmp_path / "leak.yaml"
    flow.write_text(f'version: 1.0\ntasks:\n  leak:\n    action: vault.leaky token="{GIVEN}"\n')
    code = main(["run", "--store", store_url, "--pack", str(pack), str(flow)])
    shown = capsys.readouterr()
    assert code == 1
    assert "refused" in shown.err  # the progress line shows the command's error...
    assert GIVEN not in shown.err and GIVEN not in shown.out  # ...with the secret masked
    assert f"refused {MASK}" in shown.err
