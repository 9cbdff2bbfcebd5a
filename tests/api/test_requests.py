"""Signals and operator requests: REST on a real server process, and the
``cadenza signal`` / ``cadenza request`` commands on a store and with --server."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cadenza.cli.request_commands import parse_args_option
from cadenza.engine.engine import Engine
from cadenza.model.errors import InputError

from .test_http_api import ASK, Server, register, start_server

HOLD = (
    "saga: hold\nstages:\n  - action: wait\n    do: core.ask\n    input: {schema: {type: object}}\n"
)


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(store_url, tmp_path)
    yield running
    running.stop()


def start(server: Server, source: str, kind: str | None = None) -> str:
    extra = {"kind": kind} if kind else {}
    definition = register(server, source, **extra)
    started = server.http.post("/v1/executions", json={"definition_id": definition["id"]})
    assert started.status_code == 201, started.text
    execution_id: str = started.json()["id"]
    server.wait_for(execution_id, lambda e: e["status"] in ("running", "paused"))
    return execution_id


def events_of(server: Server, execution_id: str, kind: str) -> list[dict[str, Any]]:
    page = server.http.get(f"/v1/executions/{execution_id}/history").json()
    return [e["payload"] for e in page["events"] if e["type"] == kind]


def test_a_signal_is_recorded_with_who_sent_it(server: Server) -> None:
    execution_id = start(server, ASK)
    sent = server.http.post(
        f"/v1/executions/{execution_id}/signals",
        json={"name": "nudge", "data": {"n": 1}, "by": "alice"},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["execution"]["id"] == execution_id
    (signal,) = events_of(server, execution_id, "SignalReceived")
    assert (signal["name"], signal["data"], signal["by"]) == ("nudge", {"n": 1}, "alice")
    malformed = server.http.post(f"/v1/executions/{execution_id}/signals", json={"data": 1})
    assert malformed.status_code == 422 and "name" in malformed.text
    missing = server.http.post("/v1/executions/nope/signals", json={"name": "x"})
    assert missing.status_code == 404


def test_an_operator_request_is_carried_out_or_refused(server: Server) -> None:
    execution_id = start(server, HOLD, kind="saga")
    offered = server.http.get(f"/v1/executions/{execution_id}/requests").json()
    assert offered["kind"] == "saga" and "abandon" in offered["requests"]
    path = f"/v1/executions/{execution_id}/requests"
    unknown = server.http.post(path, json={"request": "explode", "reason": "why not"})
    assert unknown.status_code == 400
    assert "abandon" in unknown.json()["message"]  # it lists what is offered
    no_reason = server.http.post(path, json={"request": "abandon"})
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    done = server.http.post(
        path, json={"request": "abandon", "args": {}, "by": "carol", "reason": "host gone"}
    )
    assert done.status_code == 200, done.text
    assert done.json()["refused"] is None
    assert done.json()["execution"]["status"] == "abandoned"
    (requested,) = events_of(server, execution_id, "OperatorRequested")
    assert (requested["request"], requested["by"], requested["reason"]) == (
        "abandon",
        "carol",
        "host gone",
    )
    again = server.http.post(path, json={"request": "abandon", "reason": "twice"})
    assert again.status_code == 200
    assert "nothing to abandon" in again.json()["refused"]["message"]
    # A finished execution takes no signal.
    late = server.http.post(f"/v1/executions/{execution_id}/signals", json={"name": "x"})
    assert late.status_code == 409


def test_the_openapi_document_describes_the_new_bodies(server: Server) -> None:
    document = server.http.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert set(schemas["SignalIn"]["required"]) == {"name"}
    assert set(schemas["OperatorRequestIn"]["required"]) == {"request", "reason"}
    assert "/v1/executions/{execution_id}/requests" in document["paths"]


def cadenza(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_commands_work_on_a_store(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'cadenza.db'}"
    engine = Engine(store)
    try:
        saga = engine.start(engine.register(HOLD, kind="saga"), {})
        asking = engine.start(engine.register(ASK), {})
        engine.run_until_idle()
    finally:
        engine.close()
    sent = cadenza(
        "signal", asking, "nudge", "--payload", '{"n": 2}', "--store", store, cwd=tmp_path
    )
    assert sent.returncode == 0, sent.stderr
    refused = cadenza("signal", saga, "nudge", "--store", store, cwd=tmp_path)
    assert refused.returncode == 2 and "takes no signal" in refused.stderr
    unknown = cadenza("request", saga, "explode", "--reason", "r", "--store", store, cwd=tmp_path)
    assert unknown.returncode == 2 and "abandon" in unknown.stderr
    done = cadenza(
        "request",
        saga,
        "abandon",
        "--reason",
        "host gone",
        "--json",
        "--store",
        store,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "abandoned"
    engine = Engine(store)
    try:
        signals = [r.event for r in engine.history(asking) if r.event.type == "SignalReceived"]
        requests = [r.event for r in engine.history(saga) if r.event.type == "OperatorRequested"]
    finally:
        engine.close()
    assert [(s.name, s.data, s.by) for s in signals] == [  # type: ignore[attr-defined]
        ("nudge", {"n": 2}, getpass.getuser())
    ]
    assert [(r.reason, r.by) for r in requests] == [  # type: ignore[attr-defined]
        ("host gone", getpass.getuser())
    ]


def test_the_commands_work_through_a_server(server: Server, tmp_path: Path) -> None:
    saga = start(server, HOLD, kind="saga")
    asking = start(server, ASK)
    url = server.url
    sent = cadenza("--server", url, "signal", asking, "nudge", "--by", "bot", cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    (signal,) = events_of(server, asking, "SignalReceived")
    assert (signal["name"], signal["by"]) == ("nudge", "bot")
    done = cadenza(
        "--server",
        url,
        "request",
        saga,
        "abandon",
        "--arg",
        "node=wait",
        "--arg",
        "n=3",
        "--reason",
        "host gone",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "abandoned" in done.stdout
    (requested,) = events_of(server, saga, "OperatorRequested")
    assert requested["args"] == {"node": "wait", "n": 3}
    again = cadenza("--server", url, "request", saga, "abandon", "--reason", "x", cwd=tmp_path)
    assert again.returncode == 2 and "nothing to abandon" in again.stderr
    refused = cadenza("--server", url, "signal", "nope", "x", cwd=tmp_path)
    assert refused.returncode == 2


def test_arg_options_are_read_as_json_or_text() -> None:
    assert parse_args_option(["a=1", "b=text", 'c={"k": true}', "d="]) == {
        "a": 1,
        "b": "text",
        "c": {"k": True},
        "d": "",
    }
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_args_option(["novalue"])
