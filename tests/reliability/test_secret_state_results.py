"""Secret paths declared beside a state machine: of its input, and of the results
of named states (``cadenza run --secrets FILE`` or ``--secret-result
STATE:PATH``, the API's ``secret_results``).

The state machine works with the plain values (a later state uses the token a
resource returned), history records where the secrets sit as if the resource
had marked them itself, every view masks them, and with a key no stored row
keeps them in clear.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from cadenza.api.server import ServerSettings, create_app
from cadenza.cli.main import main
from cadenza.cli.remote import Remote
from cadenza.encryption import write_key_file
from cadenza.engine.engine import Engine
from cadenza.model.errors import InputError
from cadenza.model.events import JSON, ExecutionStarted, TaskCompleted
from cadenza.model.secrets import (
    MASK,
    SecretDeclaration,
    declared_results,
    mark_declared_result,
    step_path,
)
from cadenza.workers.registry import default_registry
from reliability.test_secret_results import assert_no_clear_copy
from reliability.test_secrets_at_rest import open_keyed

PASSWORD = "pw-5150-declared-horse"
TOKEN = "tok-8086-declared-session"
KEYS = {1: "key-0001-declared-fetch", 2: "key-0002-declared-fetch"}

ARN = "arn:aws:lambda:us-east-1:111111111111:function:"

STATE_MACHINE = {
    "StartAt": "Login",
    "States": {
        "Login": {
            "Type": "Task",
            "Resource": ARN + "declared_login",
            "Parameters": {"user.$": "$.user", "password.$": "$.password"},
            "ResultPath": "$.session",
            "Next": "Call",
        },
        "Call": {
            "Type": "Task",
            "Resource": ARN + "declared_call",
            "Parameters": {"auth.$": "States.Format('Bearer {}', $.session.token)"},
            "ResultPath": "$.call",
            "Next": "Done",
        },
        "Done": {
            "Type": "Pass",
            "Parameters": {
                "user.$": "$.session.user",
                "token.$": "$.session.token",
                "answer.$": "$.call.answer",
            },
            "End": True,
        },
    },
}

HANDLERS = f"""\
def login(event):
    if event["password"] != "{PASSWORD}":
        raise RuntimeError("wrong password")
    return {{"user": event["user"], "token": "{TOKEN}"}}


def call(event):
    # The later state got the token in clear: it can use it.
    return {{"answer": "welcome" if event["auth"] == "Bearer {TOKEN}" else "refused"}}
"""

RESOURCES = f"""\
{ARN}declared_login:
  python: declared_secret_handlers:login
{ARN}declared_call:
  python: declared_secret_handlers:call
"""

SECRETS_FILE = """\
input: ["$.password"]
results:
  Login: ["$.token"]
"""


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    write_key_file(tmp_path / "cadenza.key")
    return tmp_path / "cadenza.key"


@pytest.fixture
def machine(tmp_path: Path) -> Path:
    """The state machine's file, with its resource map beside it."""
    (tmp_path / "declared_secret_handlers.py").write_text(HANDLERS)
    (tmp_path / "login.resources.yaml").write_text(RESOURCES)
    flow = tmp_path / "login.asl.json"
    flow.write_text(json.dumps(STATE_MACHINE))
    return flow


def test_declarations_are_read_and_checked() -> None:
    declared = SecretDeclaration.from_mapping(
        {"input": ["$.password"], "results": {"Login": ["$.token"]}}, "f.yaml"
    )
    assert declared == SecretDeclaration(["$.password"], {"Login": ["$.token"]})
    assert declared.with_results(["Login:$.token", "Fetch:$.items[*].key"]).results == {
        "Login": ["$.token"],
        "Fetch": ["$.items[*].key"],
    }
    assert step_path("My State:$['a b'][0]") == ("My State", "$['a b'][0]")
    with pytest.raises(InputError, match="must be STATE:PATH"):
        step_path("$.token")
    with pytest.raises(InputError, match=r"f\.yaml: unknown entries outputs"):
        SecretDeclaration.from_mapping({"outputs": []}, "f.yaml")
    with pytest.raises(InputError, match=r"f\.yaml: results: Login must be a list"):
        SecretDeclaration.from_mapping({"results": {"Login": "$.token"}}, "f.yaml")
    with pytest.raises(InputError, match="must start with"):
        SecretDeclaration.from_mapping({"input": ["password"]}, "f.yaml")
    assert declared_results({"Login": ["$.token"]}, ["Login", "Call"]) == {"Login": ["$.token"]}
    with pytest.raises(InputError, match="does not have: Logn"):
        declared_results({"Logn": ["$.token"]}, ["Login", "Call"])


def test_a_task_meta_marks_its_result() -> None:
    result: JSON = {"user": "ann", "token": TOKEN, "items": [{"key": "a"}, {"key": "b"}]}
    meta: dict[str, JSON] = {"secret_result": ["$.token", "$.items[*].key", "$.missing"]}
    assert mark_declared_result(result, meta) == {
        "user": "ann",
        "token": {"$secret": TOKEN},
        "items": [{"key": {"$secret": "a"}}, {"key": {"$secret": "b"}}],
    }
    assert mark_declared_result(result, {"state": "Login"}) is result
    assert mark_declared_result(TOKEN, {"secret_result": ["$"]}) == {"$secret": TOKEN}


def run_and_views(
    argv: list[str], common: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[dict[str, JSON], list[str]]:
    """Run ``argv``; its report, and every view of the execution as printed."""
    code = main(argv)
    shown = capsys.readouterr()
    assert code == 0, shown.err
    report = json.loads(shown.out)
    views = [shown.out, shown.err]
    for command in (["status"], ["history"], ["history", "--json"]):
        assert main([command[0], *common[:2], *command[1:], report["execution_id"]]) == 0
        views.append(capsys.readouterr().out)
    return report, views


def test_a_secrets_file_beside_the_definition_marks_input_and_results(
    store_url: str,
    key_file: Path,
    machine: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "login.secrets.yaml").write_text(SECRETS_FILE)
    common = ["--store", store_url, "--key-file", str(key_file)]
    argv = [
        *["run", *common, "--json", str(machine)],
        *["--resources", str(tmp_path / "login.resources.yaml")],
        *["--secrets", str(tmp_path / "login.secrets.yaml")],
        *["--input", json.dumps({"user": "ann", "password": PASSWORD})],
    ]
    report, views = run_and_views(argv, common, capsys)
    assert report["output"] == {"user": "ann", "token": MASK, "answer": "welcome"}
    for view in views:
        assert TOKEN not in view and PASSWORD not in view
    assert MASK in views[-1]
    assert_no_clear_copy(store_url, TOKEN, PASSWORD)
    # With the key: the plain values, and where history says they sit.
    engine = Engine(open_keyed(store_url, key_file))
    try:
        execution_id = str(report["execution_id"])
        assert engine.get(execution_id).output == {
            "user": "ann",
            "token": TOKEN,
            "answer": "welcome",
        }
        history = [r.event for r in engine.history(execution_id)]
        completed = [e for e in history if isinstance(e, TaskCompleted)]
        assert [c.meta for c in completed] == [{"secret_paths": [["token"]]}, {}]
        assert completed[0].result == {"user": "ann", "token": TOKEN}
        started = history[0]
        assert isinstance(started, ExecutionStarted)
        assert started.meta["secret_paths"] == [["password"]]
    finally:
        engine.close()


def test_secret_result_options_name_states_and_paths(
    store_url: str,
    key_file: Path,
    machine: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    common = ["--store", store_url, "--key-file", str(key_file)]
    argv = [
        *["run", *common, "--json", str(machine)],
        *["--resources", str(tmp_path / "login.resources.yaml")],
        *["--input", json.dumps({"user": "ann", "password": PASSWORD})],
        "--secret-path=$.password",
    ]
    # A state the definition does not have is refused before anything starts.
    assert main([*argv, "--secret-result", "Logn:$.token"]) == 2
    assert "does not have: Logn" in capsys.readouterr().err
    assert main(["ps", *common[:2], "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    report, views = run_and_views([*argv, "--secret-result", "Login:$.token"], common, capsys)
    assert report["output"] == {"user": "ann", "token": MASK, "answer": "welcome"}
    for view in views:
        assert TOKEN not in view
    assert_no_clear_copy(store_url, TOKEN, PASSWORD)


def test_only_a_state_machine_takes_secret_results(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "hello.yaml"
    flow.write_text("version: 1.0\ntasks:\n  hello:\n    action: core.noop\n")
    argv = ["run", "--store", store_url, str(flow), "--secret-result", "hello:$.token"]
    assert main(argv) == 2
    assert "take no --secret-result" in capsys.readouterr().err


MAP_MACHINE = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.ids",
            "ItemProcessor": {
                "StartAt": "Fetch",
                "States": {
                    "Fetch": {"Type": "Task", "Resource": ARN + "declared_fetch", "End": True}
                },
            },
            "End": True,
        }
    },
}


def fetch(event: JSON) -> JSON:
    assert isinstance(event, int)
    return {"id": event, "key": KEYS[event]}


@pytest.fixture
def engine(store_url: str, key_file: Path) -> Iterator[Engine]:
    registry = default_registry()
    registry.register(ARN + "declared_fetch", fetch, whole_input=True)
    running = Engine(open_keyed(store_url, key_file), registry=registry)
    yield running
    running.close()


def through(http: TestClient) -> Callable[[httpx.Request], httpx.Response]:
    """An httpx handler that answers a request by the app behind ``http``."""

    def answer(request: httpx.Request) -> httpx.Response:
        got = http.request(
            request.method,
            request.url.raw_path.decode(),
            content=request.content,
            headers=dict(request.headers),
        )
        return httpx.Response(got.status_code, content=got.content, headers=got.headers)

    return answer


def test_the_api_start_request_takes_secret_results(engine: Engine, store_url: str) -> None:
    with TestClient(create_app(engine, ServerSettings())) as http:
        definition = http.post("/v1/definitions", json={"source": json.dumps(MAP_MACHINE)})
        assert definition.status_code == 201, definition.text
        start = {"definition_id": definition.json()["id"], "input": {"ids": [1, 2]}}
        refused = http.post("/v1/executions", json={**start, "secret_results": {"Nope": ["$"]}})
        assert refused.status_code == 400 and "Nope" in refused.text
        bad_path = {"Fetch": ["key"]}
        refused = http.post("/v1/executions", json={**start, "secret_results": bad_path})
        assert refused.status_code == 400 and "must start with" in refused.text
        # A state inside a Map's processor is named as any other. The CLI's client
        # (``cadenza run --server``) sends them so.
        with Remote("http://cadenza", transport=httpx.MockTransport(through(http))) as remote:
            execution_id = remote.start(
                definition.json()["id"], {"ids": [1, 2]}, secret_results={"Fetch": ["$.key"]}
            ).id
        done = engine.drive(execution_id, timeout=60)
        assert done.status == "succeeded", done.errors
        assert done.output == [{"id": 1, "key": KEYS[1]}, {"id": 2, "key": KEYS[2]}]
        shown = http.get(f"/v1/executions/{execution_id}").json()
        assert shown["output"] == [{"id": 1, "key": MASK}, {"id": 2, "key": MASK}]
        history = http.get(f"/v1/executions/{execution_id}/history").text
        for key in KEYS.values():
            assert key not in history
    assert_no_clear_copy(store_url, *KEYS.values())
