"""Several ``cadenza server`` processes on one PostgreSQL database serve the
same API: work created through one wakes a long poll on another, and killing
a server that holds long polls and leased tasks loses nothing."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .test_http_api import Server, register, start_server
from .test_workers import ONE_STEP


@pytest.fixture
def two_servers(postgres_empty_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    first = start_server(postgres_empty_url, tmp_path)
    second = start_server(postgres_empty_url, tmp_path)
    yield first, second
    for server in (first, second):
        server.stop()


def _claim(url: str, **body: Any) -> list[dict[str, Any]]:
    answer = httpx.post(
        f"{url}/v1/workers/tasks/claim",
        json={"worker": "w", "actions": ["ext.greet"], **body},
        timeout=90,
    )
    assert answer.status_code == 200, answer.text
    tasks: list[dict[str, Any]] = answer.json()["tasks"]
    return tasks


@pytest.mark.slow
def test_a_long_poll_on_one_server_is_woken_by_work_started_on_another(
    two_servers: tuple[Server, Server],
) -> None:
    first, second = two_servers
    definition = register(second, ONE_STEP)
    got: list[list[dict[str, Any]]] = []
    waited: list[float] = []

    def poll() -> None:
        began = time.monotonic()
        got.append(_claim(first.url, wait=50))
        waited.append(time.monotonic() - began)

    poller = threading.Thread(target=poll)
    poller.start()
    started = second.http.post(
        "/v1/executions", json={"definition_id": definition["id"], "input": {"who": "x"}}
    ).json()
    poller.join(timeout=80)
    assert not poller.is_alive()
    (tasks,) = got
    assert [t["execution_id"] for t in tasks] == [started["id"]]
    assert waited[0] < 50  # woken through the database's notification, not the timeout


@pytest.mark.slow
def test_killing_a_server_with_leased_tasks_and_long_polls_loses_nothing(
    two_servers: tuple[Server, Server],
) -> None:
    doomed, survivor = two_servers
    definition = register(survivor, ONE_STEP)
    execution_id = survivor.http.post(
        "/v1/executions", json={"definition_id": definition["id"], "input": {"who": "y"}}
    ).json()["id"]
    (task,) = _claim(doomed.url, wait=30, lease=2)  # a worker holds it through doomed
    poll_error: list[BaseException] = []

    def hang_on() -> None:  # a second worker's long poll on the doomed server
        try:
            _claim(doomed.url, wait=50)
        except httpx.HTTPError as exc:
            poll_error.append(exc)

    hanging = threading.Thread(target=hang_on)
    hanging.start()
    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait(timeout=30)
    hanging.join(timeout=60)
    assert poll_error, "the long poll on the killed server must fail, not hang"
    # The worker that held the task went down with the server and beats no more:
    # its lease lapses, the attempt counts as a lost worker, and the task comes
    # back as attempt 2 for whoever asks the survivor.
    deadline = time.monotonic() + 60
    retried: list[dict[str, Any]] = []
    while not retried:
        assert time.monotonic() < deadline
        retried = _claim(survivor.url, wait=10)
    (again,) = retried
    assert again["task_id"] == task["task_id"] and again["attempt"] == 2
    late = httpx.post(
        f"{survivor.url}/v1/workers/tasks/complete",
        json={"token": task["token"], "result": "too late"},
        timeout=30,
    )
    assert late.status_code == 409  # the first attempt's answer no longer counts
    done = httpx.post(
        f"{survivor.url}/v1/workers/tasks/complete",
        json={"token": again["token"], "result": "hello y"},
        timeout=30,
    )
    assert done.json() == {"outcome": "done"}
    record = survivor.wait_for(execution_id, lambda e: e["status"] == "succeeded")
    assert record["output"] == {"said": "hello y"}
    events = survivor.http.get(f"/v1/executions/{execution_id}/history").json()["events"]
    types = [e["type"] for e in events]
    assert types.count("TaskScheduled") == 1 and types.count("TaskCompleted") == 1
    lost = [e["payload"] for e in events if e["type"] == "TaskAttemptFailed"]
    assert [f["error"]["type"] for f in lost] == ["worker.lost"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
