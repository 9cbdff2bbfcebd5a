"""CloudEvents over HTTP into a trigger workspace, on a real server process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .test_http_api import Server, start_server

WORKSPACE = """\
workspace: payments
triggers:
  - id: three-paid
    activation: [{subject: payment, type: paid}]
    condition: JOIN
    context: {join: 3, result: all three paid}
    action: TERMINATE
"""


def paid(n: int) -> dict[str, object]:
    return {
        "specversion": "1.0",
        "id": f"payment-{n}",
        "source": "shop",
        "subject": "payment",
        "type": "paid",
        "data": {"n": n},
    }


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(f"sqlite:///{tmp_path / 'cadenza.db'}", tmp_path)
    yield running
    running.stop()


def _workspace(server: Server) -> str:
    definition = httpx.post(f"{server.url}/v1/definitions", json={"source": WORKSPACE})
    assert definition.status_code in (200, 201), definition.text
    started = httpx.post(
        f"{server.url}/v1/executions", json={"definition_id": definition.json()["id"]}
    )
    assert started.status_code in (200, 201), started.text
    execution_id: str = started.json()["id"]
    return execution_id


def test_events_in_every_content_mode_complete_the_join(server: Server) -> None:
    execution_id = _workspace(server)
    url = f"{server.url}/v1/executions/{execution_id}/cloudevents"

    structured = httpx.post(
        url,
        content=json.dumps(paid(1)),
        headers={"content-type": "application/cloudevents+json"},
    )
    assert structured.status_code == 202, structured.text
    binary = httpx.post(
        url,
        content=json.dumps({"n": 2}),
        headers={
            "content-type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": "payment-2",
            "ce-source": "shop",
            "ce-subject": "payment",
            "ce-type": "paid",
        },
    )
    assert binary.status_code == 202, binary.text
    # A batch, with event 1 again (a sender's retry): counted once.
    batch = httpx.post(
        url,
        content=json.dumps([paid(1), paid(3)]),
        headers={"content-type": "application/cloudevents-batch+json"},
    )
    assert batch.status_code == 202, batch.text
    assert batch.json()["accepted"] == 2

    final = httpx.get(f"{server.url}/v1/executions/{execution_id}", params={"wait": 10}).json()
    for _ in range(20):
        if final["status"] == "succeeded":
            break
        final = httpx.get(f"{server.url}/v1/executions/{execution_id}").json()
        history = httpx.get(
            f"{server.url}/v1/executions/{execution_id}/history",
            params={"after": 0, "wait": 1},
        )
        assert history.status_code == 200
    assert final["status"] == "succeeded", final
    assert final["output"] == "all three paid"


def test_bad_events_unknown_and_finished_executions_are_refused(server: Server) -> None:
    execution_id = _workspace(server)
    url = f"{server.url}/v1/executions/{execution_id}/cloudevents"
    for body in ("{not json", json.dumps({**paid(1), "specversion": "0.1"})):
        bad = httpx.post(
            url, content=body, headers={"content-type": "application/cloudevents+json"}
        )
        assert bad.status_code == 400, bad.text
        assert bad.json()["code"] == "input.invalid"
    missing = httpx.post(
        f"{server.url}/v1/executions/no-such/cloudevents",
        content=json.dumps(paid(1)),
        headers={"content-type": "application/cloudevents+json"},
    )
    assert missing.status_code == 404
    httpx.post(f"{server.url}/v1/executions/{execution_id}/cancel")
    for _ in range(50):
        if httpx.get(f"{server.url}/v1/executions/{execution_id}").json()["status"] in (
            "canceled",
            "succeeded",
            "failed",
        ):
            break
        httpx.get(f"{server.url}/v1/executions/{execution_id}/history", params={"wait": 0.2})
    late = httpx.post(
        url, content=json.dumps(paid(9)), headers={"content-type": "application/cloudevents+json"}
    )
    assert late.status_code == 409
