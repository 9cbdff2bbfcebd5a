"""``cadenza terminate`` on a store, and ``POST /v1/executions/{id}/terminate`` on a
real server process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.test_http_api import ASK, Server, register, start_server
from cadenza.cli.main import main
from cadenza.engine.engine import Engine
from cadenza.store.protocol import Store


def test_terminate_from_the_command_line(
    store: Store, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = Engine(store)
    execution_id = engine.start(engine.register(ASK), {})
    engine.run_until_idle()
    assert engine.get(execution_id).status not in ("canceled", "succeeded", "failed")

    argv = ["terminate", execution_id, "--store", store_url]
    assert main([*argv, "--reason", "asked the wrong person", "--by", "ops"]) == 0
    assert f"execution {execution_id}: canceled" in capsys.readouterr().out
    record = engine.get(execution_id)
    assert record.errors[0]["type"] == "Terminated"
    assert (record.errors[0]["reason"], record.errors[0]["by"]) == ("asked the wrong person", "ops")

    # An execution that ended has nothing to terminate: bad input, said plainly.
    assert main([*argv, "--reason", "again"]) == 2
    assert "nothing to terminate" in capsys.readouterr().err
    with pytest.raises(SystemExit) as missing:
        main(argv)  # --reason is required
    assert missing.value.code == 2


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(store_url, tmp_path)
    yield running
    running.stop()


def test_terminate_over_http(server: Server) -> None:
    definition = register(server, ASK)
    started = server.http.post("/v1/executions", json={"definition_id": definition["id"]})
    assert started.status_code == 201, started.text
    execution_id = started.json()["id"]
    server.wait_for(execution_id, lambda e: e["status"] in ("running", "paused"))

    url = f"/v1/executions/{execution_id}/terminate"
    answer = server.http.post(url, json={"reason": "duplicate order", "by": "alice"})
    assert answer.status_code == 200, answer.text
    execution = answer.json()["execution"]
    assert execution["status"] == "canceled"
    assert execution["errors"][0]["type"] == "Terminated"
    assert execution["errors"][0]["reason"] == "duplicate order"

    again = server.http.post(url, json={"reason": "again"})
    assert again.status_code == 409, again.text
    assert "nothing to terminate" in again.text
    malformed = server.http.post(url, json={"why": "typo"})
    assert 400 <= malformed.status_code < 500, malformed.text
    missing = server.http.post("/v1/executions/nobody/terminate", json={})
    assert missing.status_code == 404, missing.text
