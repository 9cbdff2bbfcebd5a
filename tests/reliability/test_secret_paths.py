"""Secret paths given at start (``cadenza run --secret-path``, the API's
``secret_paths``) mark input values secret as ``{"$secret": value}`` does:
the state machine uses the plain values, every view masks them, and with a
key no stored row keeps them in clear."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cadenza.api.server import ServerSettings, create_app
from cadenza.cli.main import main
from cadenza.encryption import write_key_file
from cadenza.engine.engine import Engine
from cadenza.model.errors import InputError
from cadenza.model.secrets import MASK, mark_secrets, parse_path
from reliability.test_secret_in_text import stored_texts
from reliability.test_secrets_at_rest import open_keyed

PASSWORD = "pw-hunter2-correct-horse"
TOKENS = ["tok-first-5150", "tok-second-8086"]

STATE_MACHINE = {
    "StartAt": "Header",
    "States": {
        "Header": {
            "Type": "Pass",
            "Parameters": {
                "auth.$": "States.Format('Bearer {}', $.password)",
                "user.$": "$.user",
                "first.$": "$.users[0].token",
            },
            "End": True,
        }
    },
}

GIVEN = {
    "user": "ann",
    "password": PASSWORD,
    "users": [{"name": "bo", "token": TOKENS[0]}, {"name": "cy", "token": TOKENS[1]}],
}

PATHS = ["$.password", "$.users[*].token"]


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    write_key_file(tmp_path / "cadenza.key")
    return tmp_path / "cadenza.key"


def assert_no_clear_copy(store_url: str) -> None:
    rows = stored_texts(store_url)
    for secret in (PASSWORD, *TOKENS):
        assert not [row for row in rows if secret in row], secret
    if store_url.startswith("sqlite:"):
        database = Path(store_url[len("sqlite:///") :])
        for file in database.parent.glob(database.name + "*"):
            for secret in (PASSWORD, *TOKENS):
                assert secret.encode() not in file.read_bytes(), (file, secret)


def test_paths_mark_the_values_they_lead_to() -> None:
    assert parse_path("$.users[*].token") == ("users", None, "token")
    assert parse_path("$['a b'][2]") == ("a b", 2)
    assert mark_secrets(GIVEN, PATHS) == {
        "user": "ann",
        "password": {"$secret": PASSWORD},
        "users": [
            {"name": "bo", "token": {"$secret": TOKENS[0]}},
            {"name": "cy", "token": {"$secret": TOKENS[1]}},
        ],
    }
    # Marked already: left as it is, not wrapped twice.
    once = mark_secrets(GIVEN, ["$.password"])
    assert mark_secrets(once, ["$.password"], required=True) == once
    assert mark_secrets("just a token", ["$"]) == {"$secret": "just a token"}
    # An empty list is fine for a wildcard; a mistyped path is refused when required.
    assert mark_secrets({"users": []}, ["$.users[*].token"], required=True) == {"users": []}
    with pytest.raises(InputError, match=r"\$\.pasword leads to no value"):
        mark_secrets(GIVEN, ["$.pasword"], required=True)
    with pytest.raises(InputError, match="must start with"):
        parse_path("password")
    with pytest.raises(InputError, match="cannot read it"):
        parse_path("$.users[x]")


def test_run_secret_paths_are_encrypted_at_rest_and_masked(
    store_url: str, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "header.asl.json"
    flow.write_text(json.dumps(STATE_MACHINE))
    common = ["--store", store_url, "--key-file", str(key_file)]
    marks = [option for path in PATHS for option in ("--secret-path", path)]
    code = main(["run", *common, "--json", str(flow), "--input", json.dumps(GIVEN), *marks])
    shown = capsys.readouterr()
    assert code == 0, shown.err
    report = json.loads(shown.out)
    assert report["output"] == {"auth": f"Bearer {MASK}", "user": "ann", "first": MASK}
    views = [shown.out, shown.err]
    for command in (["status"], ["history"], ["history", "--json"]):
        assert main([command[0], *common[:2], *command[1:], report["execution_id"]]) == 0
        views.append(capsys.readouterr().out)
    for view in views:
        for secret in (PASSWORD, *TOKENS):
            assert secret not in view
    assert_no_clear_copy(store_url)
    # With the key, the state machine's output reads back plain.
    engine = Engine(open_keyed(store_url, key_file))
    try:
        output = engine.get(report["execution_id"]).output
        assert output == {"auth": f"Bearer {PASSWORD}", "user": "ann", "first": TOKENS[0]}
    finally:
        engine.close()


def test_a_mistyped_secret_path_is_refused_before_anything_starts(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "header.asl.json"
    flow.write_text(json.dumps(STATE_MACHINE))
    argv = ["run", "--store", store_url, str(flow), "--input", json.dumps(GIVEN)]
    assert main([*argv, "--secret-path", "$.pasword"]) == 2
    assert "secret path $.pasword leads to no value" in capsys.readouterr().err
    assert main(["ps", "--store", store_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.fixture
def engine(store_url: str, key_file: Path) -> Iterator[Engine]:
    running = Engine(open_keyed(store_url, key_file))
    yield running
    running.close()


def test_the_api_start_request_takes_secret_paths(engine: Engine, store_url: str) -> None:
    with TestClient(create_app(engine, ServerSettings())) as http:
        definition = http.post("/v1/definitions", json={"source": json.dumps(STATE_MACHINE)})
        assert definition.status_code == 201, definition.text
        start = {"definition_id": definition.json()["id"], "input": GIVEN}
        refused = http.post("/v1/executions", json={**start, "secret_paths": ["$.nope"]})
        assert refused.status_code == 400 and "$.nope" in refused.text
        started = http.post("/v1/executions", json={**start, "secret_paths": PATHS})
        assert started.status_code == 201, started.text
        execution_id = started.json()["id"]
        assert engine.drive(execution_id, timeout=60).status == "succeeded"
        shown = http.get(f"/v1/executions/{execution_id}").json()
        assert shown["output"] == {"auth": f"Bearer {MASK}", "user": "ann", "first": MASK}
        history = http.get(f"/v1/executions/{execution_id}/history").text
        for secret in (PASSWORD, *TOKENS):
            assert secret not in history
    assert_no_clear_copy(store_url)
