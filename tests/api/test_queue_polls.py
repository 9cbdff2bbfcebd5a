"""Who polls each queue, as ``GET /v1/queues`` tells it: ``cadenza worker``
processes on the store as well as the server's own loop and its HTTP workers,
with a real server and a real worker process on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cadenza.api.queue_polls import QueuePolls
from cadenza.engine.queue_polls import QUEUE_POLLS_EVERY
from cadenza.store import open_store
from cadenza.store.protocol import QueuePoll, Store

from .test_http_api import Server, register, start_server

#: A state machine whose only task is an activity: it waits on the activity's
#: queue (its ARN) until an outside worker takes it, and here none does.
NOBODY = "arn:aws:states:us-east-1:111111111111:activity:nobody-polls-this"
WAITS_FOR_AN_ACTIVITY = json.dumps(
    {"StartAt": "Wait", "States": {"Wait": {"Type": "Task", "Resource": NOBODY, "End": True}}}
)


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(store_url, tmp_path)
    yield running
    running.stop()


@pytest.fixture
def worker(store_url: str, tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[str]]]:
    """Starts ``cadenza worker`` processes serving a queue, on the test's store."""
    started: list[subprocess.Popen[str]] = []
    env = {k: v for k, v in os.environ.items() if k != "CADENZA_STORE"}

    def start(queue: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "cadenza", "worker", "--store", store_url]
        process = subprocess.Popen(
            [*command, "--queue", queue],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def queues_when(
    server: Server, ready: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    """``GET /v1/queues`` by queue name, asked again until ``ready`` holds of it."""
    deadline = time.monotonic() + timeout
    while True:
        answer = server.http.get("/v1/queues")
        assert answer.status_code == 200, answer.text
        queues = {q["queue"]: q for q in answer.json()["queues"]}
        if ready(queues):
            return queues
        assert time.monotonic() < deadline, queues
        time.sleep(0.05)  # polling the API with a deadline; nothing to wait on


@pytest.mark.slow
def test_a_worker_process_on_the_store_is_seen_polling_its_queue(
    server: Server, worker: Callable[[str], subprocess.Popen[str]]
) -> None:
    # The store may be shared with earlier tests: a queue name of this test's own.
    reports = f"reports-{uuid.uuid4().hex[:8]}"
    process = worker(reports)
    definition = register(server, WAITS_FOR_AN_ACTIVITY)
    assert definition["kind"] == "states"
    answer = server.http.post("/v1/executions", json={"definition_id": definition["id"]})
    assert answer.status_code == 201, answer.text

    queues = queues_when(
        server,
        lambda q: (
            q.get(reports, {}).get("polled_recently", False)
            and q.get(NOBODY, {}).get("tasks", {}).get("scheduled") == 1
        ),
    )
    # The worker never went through the server: the store told it.
    polled = queues[reports]
    assert polled["tasks"] == {}  # polled, though nothing waits on it
    (poller,) = polled["pollers"]
    assert poller["description"] == f"{socket.gethostname()} pid {process.pid}"
    assert poller["poller"].startswith(f"{socket.gethostname()}:{process.pid}:")
    assert poller["last_poll"] == polled["last_poll"]
    assert abs(time.time() - polled["last_poll"]) < 60
    # The server's own loop serves "default", and says so under its own pid.
    default = queues["default"]
    assert default["polled_recently"] is True
    assert f"pid {server.process.pid}" in default["pollers"][0]["description"]
    # The activity's queue has its task waiting and no one asking for it.
    nobody = queues[NOBODY]
    assert nobody["polled_recently"] is False
    assert nobody["last_poll"] is None and nobody["pollers"] == []


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path / 'cadenza.db'}")
    yield store
    store.close()


def test_http_worker_polls_reach_the_store_at_most_every_few_seconds(
    sqlite_store: Store,
) -> None:
    polls = QueuePolls(sqlite_store, "host:42:7:abcd")
    polls.saw(["q"], 100.0)
    expected = QueuePoll("q", "host:42:7:abcd/http", "HTTP workers through host pid 42", 100.0)
    assert sqlite_store.queue_polls() == [expected]
    # A claim a moment later is kept in memory only: no write per claim.
    polls.saw(["q"], 101.0)
    assert sqlite_store.queue_polls() == [expected]
    assert polls.last_polls() == {"q": 101.0}
    # Once the interval has passed, the next claim is written.
    polls.saw(["q", "r"], 100.0 + QUEUE_POLLS_EVERY)
    assert [(p.queue, p.polled_at) for p in sqlite_store.queue_polls()] == [
        ("q", 100.0 + QUEUE_POLLS_EVERY),
        ("r", 100.0 + QUEUE_POLLS_EVERY),
    ]


def test_the_server_s_own_loop_is_kept_in_memory_only() -> None:
    polls = QueuePolls(None, "host:42:7:abcd")
    polls.saw_loop(["default"], 10.0)
    polls.saw_loop(["default"], 9.0)  # a late report moves nothing back
    assert polls.polls() == [QueuePoll("default", "host:42:7:abcd", "host pid 42", 10.0)]
