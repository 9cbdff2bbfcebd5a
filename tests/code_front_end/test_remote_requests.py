"""Signal-with-start over HTTP and from ``cadenza --server``, and ``cadenza
terminate --server``, against a real ``cadenza server`` process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.test_http_api import Server, start_server
from cadenza.store.protocol import Store
from cli.test_remote import cadenza

from .conftest import HERE, make_engine, ref

SIGNAL_WITH_START = "/v1/executions/signal-with-start"

# Each test starts a real server process.
pytestmark = pytest.mark.slow


@pytest.fixture
def server(store: Store, store_url: str, tmp_path: Path) -> Iterator[Server]:
    # The definition is registered here; the server imports its module to decide it.
    engine = make_engine(store)
    engine.register(ref("testing_flows:Inbox"))
    engine.register(ref("rerun_flows:Pipeline"))
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    running = start_server(
        store_url,
        tmp_path,
        "--activities",
        "rerun_flows:register",
        extra_env={"PYTHONPATH": path},
    )
    yield running
    running.stop()


def _succeeded(found: dict[str, Any]) -> bool:
    return bool(found["status"] == "succeeded")


def test_signal_with_start_over_http(server: Server) -> None:
    body = {"definition": "Inbox", "workflow_id": "crew-1", "name": "item", "input": [2]}
    first = server.http.post(SIGNAL_WITH_START, json={**body, "data": "parrot", "by": "ann"})
    assert first.status_code == 200, first.text
    execution_id = first.json()["execution"]["id"]
    assert execution_id.startswith("crew-1@")
    assert first.json()["refused"] is None
    second = server.http.post(SIGNAL_WITH_START, json={**body, "data": "rum"})
    assert second.status_code == 200, second.text
    assert second.json()["execution"]["id"] == execution_id
    done = server.wait_for(execution_id, _succeeded)
    assert done["output"] == {"items": ["parrot", "rum"], "workflow_id": "crew-1"}
    # Once it ended the workflow id is free: the next call starts a new run.
    third = server.http.post(SIGNAL_WITH_START, json={**body, "input": [1], "data": "map"})
    assert third.json()["execution"]["id"] != execution_id
    assert server.wait_for(third.json()["execution"]["id"], _succeeded)["output"]["items"] == [
        "map"
    ]
    body = {"definition": "Nowhere", "workflow_id": "crew-1", "name": "item"}
    unknown = server.http.post(SIGNAL_WITH_START, json=body)
    assert unknown.status_code == 404
    assert "Nowhere" in unknown.json()["message"]
    spaced = server.http.post(
        SIGNAL_WITH_START, json={**body, "definition": "Inbox", "workflow_id": " x"}
    )
    assert (spaced.status_code, spaced.json()["code"]) == (400, "input.invalid")
    missing = server.http.post(SIGNAL_WITH_START, json={"definition": "Inbox", "name": "item"})
    assert missing.status_code == 422 and "workflow_id" in missing.text
    # Nothing refused started a run: the two runs above are all there is.
    assert len(server.http.get("/v1/executions").json()["executions"]) == 2
    document = server.http.get("/openapi.json").json()
    assert "post" in document["paths"][SIGNAL_WITH_START]


def test_signal_start_and_terminate_from_the_command_line(server: Server, tmp_path: Path) -> None:
    here = tmp_path / "client"
    here.mkdir()
    url = ["--server", server.url]
    started = cadenza(
        here,
        *url,
        "signal",
        "crew-2",
        "item",
        "--payload",
        '"parrot"',
        "--start",
        "Inbox",
        "--input",
        "[3]",
        "--json",
    )
    assert started.returncode == 0, started.stderr
    execution_id = server.http.get("/v1/executions").json()["executions"][0]["id"]
    assert execution_id.startswith("crew-2@") and execution_id in started.stdout
    ended = cadenza(here, *url, "terminate", execution_id, "--reason", "no more crew", "--by", "bo")
    assert ended.returncode == 0, ended.stderr
    record = server.http.get(f"/v1/executions/{execution_id}").json()
    assert record["status"] == "canceled"
    assert record["errors"][0]["type"] == "Terminated"
    assert (record["errors"][0]["reason"], record["errors"][0]["by"]) == ("no more crew", "bo")
    again = cadenza(here, *url, "terminate", execution_id, "--reason", "twice")
    assert again.returncode == 2 and "[operation.refused]" in again.stderr
    bad = cadenza(here, *url, "signal", "crew-3", "item", "--start", "Inbox", "--input", "nope")
    assert bad.returncode == 2 and "--input is not valid JSON" in bad.stderr
    assert not list(here.glob("*.db*"))


def test_rerun_with_new_input_from_the_command_line(server: Server, tmp_path: Path) -> None:
    here = tmp_path / "client"
    here.mkdir()
    (definition,) = [
        d
        for d in server.http.get("/v1/definitions").json()["definitions"]
        if d["name"] == "Pipeline"
    ]
    started = server.http.post(
        "/v1/executions", json={"definition_id": definition["id"], "input": [3]}
    )
    execution_id = started.json()["id"]
    assert server.wait_for(execution_id, _succeeded)["output"] == [4, 8]
    rerun = ["--server", server.url, "rerun", execution_id, "--task", "rerun.add#1", "--json"]
    done = cadenza(here, *rerun, "--input", '{"x": 10, "y": 5}')
    assert done.returncode == 0, done.stderr
    assert server.wait_for(execution_id, _succeeded)["output"] == [15, 30]
    refused = cadenza(here, *rerun[:-1], "--task", "timer#1", "--input", "[1]")
    assert refused.returncode == 2 and "names exactly one task" in refused.stderr
