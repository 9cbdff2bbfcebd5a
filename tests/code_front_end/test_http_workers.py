"""Code-workflow activities worked over the HTTP API by a worker in any language."""

from __future__ import annotations

import asyncio

import httpx

from cadenza.api.server import ServerSettings, create_app
from cadenza.store.protocol import Store

from .conftest import make_engine, ref


def test_an_http_worker_runs_the_activities_of_a_code_workflow(store: Store) -> None:
    engine = make_engine(store)  # no activity registered here: the HTTP worker runs them
    execution_id = engine.start(engine.register(ref("code_flows:Sequence")), [2])
    transport = httpx.ASGITransport(app=create_app(engine, ServerSettings()))

    async def work() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://cadenza") as client:
            for expected_input in (1, 2):
                engine.decide()  # decisions only: this engine runs no activity
                answer = await client.post(
                    "/v1/workers/tasks/claim",
                    json={"worker": "js-1", "actions": ["code_flows.double"], "wait": 0},
                )
                assert answer.status_code == 200, answer.text
                [task] = answer.json()["tasks"]
                assert task["input"] == {"args": [expected_input], "kwargs": {}}
                done = await client.post(
                    "/v1/workers/tasks/complete",
                    json={"token": task["token"], "result": 2 * task["input"]["args"][0]},
                )
                assert done.status_code == 200, done.text

    asyncio.run(work())
    engine.decide()
    assert engine.get(execution_id).output == 4
