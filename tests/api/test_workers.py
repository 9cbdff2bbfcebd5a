"""Workers in any language: long-poll claims, heartbeats, completions and
failures over HTTP, against a real server process, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .test_http_api import Server, register, start_server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "http-worker"

ONE_STEP = """\
version: 1.0
tasks:
  greet:
    action: ext.greet
    input:
      who: <% ctx().who %>
    next:
      - when: <% succeeded() %>
        publish:
          - said: <% result() %>
input:
  - who
output:
  - said: <% ctx().said %>
"""


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Any:
    running = start_server(store_url, tmp_path)
    yield running
    running.stop()


def claim(server: Server, **body: Any) -> list[dict[str, Any]]:
    answer = server.http.post(
        "/v1/workers/tasks/claim",
        json={"worker": "w1", "actions": ["ext.greet"], "wait": 0, **body},
        timeout=90,
    )
    assert answer.status_code == 200, answer.text
    tasks: list[dict[str, Any]] = answer.json()["tasks"]
    return tasks


def start(server: Server, definition_id: str, who: str = "ada") -> str:
    started = server.http.post(
        "/v1/executions", json={"definition_id": definition_id, "input": {"who": who}}
    )
    assert started.status_code == 201, started.text
    execution_id: str = started.json()["id"]
    return execution_id


def test_a_waiting_claim_is_answered_when_the_task_arrives(server: Server) -> None:
    definition = register(server, ONE_STEP)
    got: list[list[dict[str, Any]]] = []
    waited: list[float] = []

    def poll() -> None:
        began = time.monotonic()
        got.append(claim(server, wait=45))
        waited.append(time.monotonic() - began)

    poller = threading.Thread(target=poll)
    poller.start()
    # Nothing to claim yet: the poll is waiting when the execution starts.
    assert server.http.post(
        "/v1/workers/tasks/claim",
        json={"worker": "w2", "actions": ["ext.greet"], "wait": 0},
    ).json() == {"tasks": []}
    execution_id = start(server, definition["id"])
    poller.join(timeout=60)
    assert not poller.is_alive()
    (tasks,) = got
    assert waited[0] < 45  # woken by the new task, not by the end of its wait
    (task,) = tasks
    assert (task["execution_id"], task["name"], task["action"], task["attempt"]) == (
        execution_id,
        "greet",
        "ext.greet",
        1,
    )
    assert task["input"] == {"who": "ada"}
    beat = server.http.post("/v1/workers/tasks/heartbeat", json={"token": task["token"]}).json()
    assert beat == {"held": True, "cancel_requested": False}
    done = server.http.post(
        "/v1/workers/tasks/complete", json={"token": task["token"], "result": "hello ada"}
    )
    assert done.json() == {"outcome": "done"}
    record = server.wait_for(execution_id, lambda e: e["status"] == "succeeded")
    assert record["output"] == {"said": "hello ada"}
    # The attempt is over: its token holds nothing any more.
    again = server.http.post(
        "/v1/workers/tasks/complete", json={"token": task["token"], "result": "twice"}
    )
    assert again.status_code == 409 and again.json()["code"] == "store.lease_lost"
    beat = server.http.post("/v1/workers/tasks/heartbeat", json={"token": task["token"]}).json()
    assert beat == {"held": False, "cancel_requested": True}


def test_a_failure_follows_the_task_s_policy_and_fails_the_step(server: Server) -> None:
    definition = register(server, ONE_STEP)
    execution_id = start(server, definition["id"])
    deadline = time.monotonic() + 30
    while not (tasks := claim(server)):
        assert time.monotonic() < deadline
        claim(server, wait=1)
    (task,) = tasks
    failed = server.http.post(
        "/v1/workers/tasks/fail",
        json={"token": task["token"], "type": "GreetingError", "message": "no voice"},
    )
    assert failed.json() == {"outcome": "done"}  # Orquesta retries only lost workers
    server.wait_for(execution_id, lambda e: e["status"] == "failed")
    events = server.http.get(f"/v1/executions/{execution_id}/history").json()["events"]
    (completed,) = [e["payload"] for e in events if e["type"] == "TaskCompleted"]
    assert completed["status"] == "failed"
    assert completed["error"]["type"] == "GreetingError"
    assert completed["error"]["message"] == "no voice"


def test_a_lapsed_lease_is_retried_and_the_late_answer_refused(server: Server) -> None:
    definition = register(server, ONE_STEP)
    execution_id = start(server, definition["id"])
    (first,) = claim(server, wait=30, lease=1)
    # No heartbeat: the lease lapses, the reaper counts a lost worker and the
    # task comes back as attempt 2.
    (second,) = claim(server, wait=45)
    assert second["attempt"] == 2 and second["task_id"] == first["task_id"]
    late = server.http.post(
        "/v1/workers/tasks/complete", json={"token": first["token"], "result": "late"}
    )
    assert late.status_code == 409
    server.http.post(
        "/v1/workers/tasks/complete", json={"token": second["token"], "result": "on time"}
    )
    record = server.wait_for(execution_id, lambda e: e["status"] == "succeeded")
    assert record["output"] == {"said": "on time"}


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/workers/tasks/claim", {"worker": "w", "actions": []}, 422, "request.invalid"),
        (
            "/v1/workers/tasks/claim",
            {"worker": "w", "actions": ["a"], "wait": 61},
            422,
            "request.invalid",
        ),
        ("/v1/workers/tasks/claim", {"worker": "a b", "actions": ["a"]}, 422, "request.invalid"),
        ("/v1/workers/tasks/complete", {"token": "garbage"}, 400, "input.invalid"),
        ("/v1/workers/tasks/heartbeat", {"token": "garbage"}, 400, "input.invalid"),
        ("/v1/workers/tasks/fail", {"token": "x", "colour": 1}, 422, "request.invalid"),
    ],
)
def test_bad_worker_requests_are_4xx(
    server: Server, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    answer = server.http.post(path, json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_javascript_example_worker_runs_a_workflow(server: Server, tmp_path: Path) -> None:
    definition = register(server, (EXAMPLE / "shout.yaml").read_text())
    started = server.http.post(
        "/v1/executions",
        json={"definition_id": definition["id"], "input": {"text": "hello there"}},
    )
    execution_id = started.json()["id"]
    env = {k: v for k, v in os.environ.items() if k != "CADENZA_API_TOKEN"}
    for _ in range(2):  # one task per run: shout, then count
        done = subprocess.run(
            ["node", str(EXAMPLE / "worker.mjs"), server.url, "--once"],
            capture_output=True,
            text=True,
            timeout=90,
            env=env,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
    record = server.wait_for(execution_id, lambda e: e["status"] == "succeeded")
    assert record["output"] == {"shout": "HELLO THERE!", "words": 2}
    assert httpx.get(f"{server.url}/v1/executions/{execution_id}").json()["status"] == "succeeded"
