"""An action marks part of its result secret: the workflow gets the plain value,
history records where the secret sits, every view masks it, and with a key no
stored row keeps it in clear.

Two ways to mark, one record: a code activity declared
``@activity(secret_result=...)``, and a pack action whose ``output_schema``
marks properties ``secret: true``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cadenza.cli.main import main
from cadenza.code import Workflow, activity
from cadenza.encryption import write_key_file
from cadenza.engine.engine import Engine
from cadenza.interpreters.code import register_activities
from cadenza.model.definitions import CodeReference
from cadenza.model.events import TaskCompleted
from cadenza.model.secrets import MASK, mask
from cadenza.workers.registry import default_registry
from reliability.test_secret_in_text import stored_texts
from reliability.test_secrets_at_rest import open_keyed

TOKEN = "tok-5150-a11ce-session"
API_KEY = "key-8086-b0b-api"


@activity(secret_result=["$.token"])
def log_in(user: str) -> dict[str, str]:
    return {"user": user, "token": TOKEN}


@activity(secret_result=True)
def api_key() -> str:
    return API_KEY


class Session(Workflow):
    """Logs in, then builds a header from the secret token."""

    def run(self, user: str) -> dict[str, str]:
        session = self.submit(log_in, user).result
        key = self.submit(api_key).result
        return {"user": session["user"], "header": f"Bearer {session['token']}", "key": key}


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    write_key_file(tmp_path / "cadenza.key")
    return tmp_path / "cadenza.key"


@pytest.fixture
def engine(store_url: str, key_file: Path) -> Iterator[Engine]:
    registry = default_registry()
    register_activities(registry, log_in, api_key)
    running = Engine(open_keyed(store_url, key_file), registry=registry)
    yield running
    running.close()


def assert_no_clear_copy(store_url: str, *secrets: str) -> None:
    rows = stored_texts(store_url)
    for secret in secrets:
        assert not [row for row in rows if secret in row], secret
    if store_url.startswith("sqlite:"):
        database = Path(store_url[len("sqlite:///") :])
        for file in database.parent.glob(database.name + "*"):
            for secret in secrets:
                assert secret.encode() not in file.read_bytes(), (file, secret)


def test_a_code_activity_marks_its_result_secret(engine: Engine, store_url: str) -> None:
    definition = engine.register(CodeReference(f"{__name__}:Session", "1"))
    execution_id = engine.start(definition, {"user": "ann"})
    done = engine.drive(execution_id, timeout=60)
    assert done.status == "succeeded", done.errors
    # The workflow worked with the plain values.
    assert done.output == {"user": "ann", "header": f"Bearer {TOKEN}", "key": API_KEY}
    # History keeps them plain, and says where they sit.
    completed = [
        r.event for r in engine.history(execution_id) if isinstance(r.event, TaskCompleted)
    ]
    assert [c.result for c in completed] == [{"user": "ann", "token": TOKEN}, API_KEY]
    assert [c.meta for c in completed] == [
        {"secret_paths": [["token"]]},
        {"secret_paths": [[]]},
    ]
    # Every view masks them, inside longer texts too.
    secrets = engine.secrets_of(execution_id)
    assert mask(done.output, secrets) == {"user": "ann", "header": f"Bearer {MASK}", "key": MASK}
    assert_no_clear_copy(store_url, TOKEN, API_KEY)


PACK_ACTION = """\
---
name: issue_token
runner_type: python-script
entry_point: issue_token.py
parameters:
  user:
    type: string
    required: true
output_schema:
  type: object
  properties:
    user:
      type: string
    token:
      type: string
      secret: true
"""

PACK_CODE = f"""\
from st2common.runners.base_action import Action


class IssueToken(Action):
    def run(self, user):
        return {{"user": user, "token": "{TOKEN}"}}
"""

FLOW = """\
version: 1.0
input: [user]
tasks:
  issue:
    action: vault.issue_token user=<% ctx(user) %>
    next:
      - when: <% succeeded() %>
        publish:
          - header: <% 'Bearer ' + result().result.token %>
output:
  - header: <% ctx(header) %>
  - user: <% task(issue).result.result.user %>
"""


def test_a_pack_action_output_schema_marks_its_result_secret(
    store_url: str, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = tmp_path / "vault"
    (pack / "actions").mkdir(parents=True)
    (pack / "pack.yaml").write_text("ref: vault\nversion: 0.1.0\n")
    (pack / "actions" / "issue_token.yaml").write_text(PACK_ACTION)
    (pack / "actions" / "issue_token.py").write_text(PACK_CODE)
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    common = ["--store", store_url, "--pack", str(pack), "--key-file", str(key_file)]
    code = main(["run", *common, "--json", str(flow), "--input", '{"user": "ann"}'])
    shown = capsys.readouterr()
    assert code == 0, shown.err
    report = json.loads(shown.out)
    assert report["output"] == {"header": f"Bearer {MASK}", "user": "ann"}
    execution = report["execution_id"]
    views = [shown.out, shown.err]
    for command in (["status"], ["history"], ["history", "--json"]):
        assert main([command[0], *common[:2], *command[1:], execution]) == 0
        views.append(capsys.readouterr().out)
    for view in views:
        assert TOKEN not in view
    assert MASK in views[-1]
    assert_no_clear_copy(store_url, TOKEN)
    # The engine (with the key) reads the plain result back.
    engine = Engine(open_keyed(store_url, key_file))
    try:
        completed = [
            r.event for r in engine.history(execution) if isinstance(r.event, TaskCompleted)
        ]
        assert completed[0].result["result"] == {"user": "ann", "token": TOKEN}
        assert completed[0].meta == {"secret_paths": [["result", "token"]]}
        assert engine.get(execution).output == {"header": f"Bearer {TOKEN}", "user": "ann"}
    finally:
        engine.close()


STATES = {
    "StartAt": "Login",
    "States": {
        "Login": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:111111111111:function:login",
            "ResultSelector": {
                "header.$": "States.Format('Bearer {}', $.token)",
                "user.$": "$.user",
            },
            "End": True,
        }
    },
}

HANDLER = f"""\
def login(event):
    return {{"user": event["user"], "token": {{"$secret": "{TOKEN}"}}}}
"""


def test_a_state_machine_resource_marks_its_result_secret(
    store_url: str, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "secret_login_handlers.py").write_text(HANDLER)
    resources = tmp_path / "resources.yaml"
    resources.write_text(
        "arn:aws:lambda:us-east-1:111111111111:function:login:\n"
        "  python: secret_login_handlers:login\n"
    )
    flow = tmp_path / "login.asl.json"
    flow.write_text(json.dumps(STATES))
    common = ["--store", store_url, "--key-file", str(key_file)]
    argv = ["run", *common, "--json", str(flow), "--resources", str(resources)]
    code = main([*argv, "--input", '{"user": "ann"}'])
    shown = capsys.readouterr()
    assert code == 0, shown.err
    report = json.loads(shown.out)
    assert report["output"] == {"header": f"Bearer {MASK}", "user": "ann"}
    assert_no_clear_copy(store_url, TOKEN)
