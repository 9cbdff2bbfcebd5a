"""SIGKILL the trigger worker mid-stream, restart it, and nothing is lost or counted twice.

The trigger workers are real ``cadenza triggers listen`` processes; the engine
decides in the test process. The workspace joins a fork of TASKS tasks x
EVENTS events: each task's ``JOIN`` must end at exactly EVENTS, and the final
join must fire exactly once, however often the workers were killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.model.events import SignalReceived
from cadenza.triggers.nats_jetstream import publish as publish_nats
from cadenza.triggers.redis_streams import publish

from .conftest import REDIS_URL
from .support import cloudevent, wait_for

pytestmark = pytest.mark.slow

TASKS, EVENTS = 10, 300
SUCCESS = "event.triggerflow.termination.success"


def fork_join(source: dict[str, Any]) -> str:
    triggers: list[dict[str, Any]] = [
        {
            "id": f"task-{i}",
            "activation": [{"subject": f"task-{i}", "type": SUCCESS}],
            "condition": "JOIN",
            "context": {"join": EVENTS, "emit": {"subject": "fork", "type": "joined"}},
            "action": "EMIT",
        }
        for i in range(TASKS)
    ]
    triggers.append(
        {
            "id": "fork-join",
            "activation": [{"subject": "fork", "type": "joined"}],
            "condition": "JOIN",
            "context": {"join": TASKS, "result": "joined"},
            "action": "TERMINATE",
        }
    )
    return json.dumps({"workspace": "kill", "sources": [source], "triggers": triggers})


class Workers:
    """``cadenza triggers listen`` processes, each with a consumer name it keeps."""

    def __init__(self, store_url: str, execution_id: str, count: int) -> None:
        self.args = ["--store", store_url]
        self.execution_id = execution_id
        self.processes = {f"w{i}": self._start(f"w{i}") for i in range(count)}

    def _start(self, name: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if k != "CADENZA_STORE"}
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cadenza",
                "triggers",
                "listen",
                self.execution_id,
                *self.args,
                "--consumer",
                name,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill_and_restart(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()
        self.processes[name] = self._start(name)

    def stop(self) -> None:
        for process in self.processes.values():
            process.kill()
            process.wait()


def produced() -> list[dict[str, Any]]:
    return [
        cloudevent(f"task-{i}", SUCCESS, {"n": n}, id=f"{n}-{i}", source="kill-test")
        for n in range(EVENTS)
        for i in range(TASKS)
    ]


def redis_source(stream: str) -> dict[str, Any]:
    return {"kind": "redis", "url": REDIS_URL, "stream": stream, "batch": 25, "claim_idle": 1}


def run_with_kills(
    engine: Engine, store_url: str, source: dict[str, Any], workers_count: int
) -> str:
    """Run the fork-join (its events already in the stream) with ``workers_count``
    workers killed three times; check every counter; return the execution id."""
    execution_id = engine.start(engine.register(fork_join(source), kind="triggers"))
    engine.run_until_idle()
    workers = Workers(store_url, execution_id, workers_count)
    stop = threading.Event()
    kills = 0
    seen = 0

    def decided_batches() -> int:
        nonlocal seen
        newer = engine.store.read_history(execution_id, seen)
        if newer:
            seen = newer[-1].seq
        return sum(1 for r in newer if r.event.type == "SignalReceived")

    try:
        serving = threading.Thread(
            target=engine.serve,
            args=(stop,),
            kwargs={"until": lambda: engine.is_final(engine.get(execution_id))},
            daemon=True,
        )
        serving.start()
        names = sorted(workers.processes)
        for kill in range(3):
            # Mid-stream: a batch of this worker generation has been decided.
            wait_for(
                lambda: decided_batches() > 0 or not serving.is_alive(),
                60,
                "a batch decided before a kill",
            )
            if not serving.is_alive():
                break
            workers.kill_and_restart(names[kill % len(names)])
            kills += 1
        serving.join(timeout=120)
        assert not serving.is_alive(), "the workspace did not end"
    finally:
        stop.set()
        workers.stop()

    assert kills >= 1, "the stream was consumed before any worker could be killed"
    record = engine.get(execution_id)
    assert (record.status, record.output) == ("succeeded", "joined")
    view = engine.describe(execution_id)
    counters = {t.name: (t.result or {}).get("counter") for t in view.tasks}
    assert counters == {**{f"task-{i}": EVENTS for i in range(TASKS)}, "fork-join": TASKS}
    assert {t.name: t.status for t in view.tasks}["fork-join"] == "fired"
    history = [r.event for r in engine.history(execution_id)]
    assert sum(1 for e in history if e.type == "ExecutionCompleted") == 1
    delivered = sum(len(e.data) for e in history if isinstance(e, SignalReceived))
    assert delivered >= TASKS * EVENTS
    return execution_id


@pytest.fixture
def stream(redis_client: Any) -> Any:
    name = f"cadenza-kill-{uuid.uuid4().hex[:10]}"
    yield name
    redis_client.delete(name)


def test_sigkilled_trigger_worker_on_sqlite_loses_nothing(
    tmp_path: Any, redis_client: Any, stream: str
) -> None:
    url = f"sqlite:///{tmp_path / 'cadenza.db'}"
    publish(redis_client, stream, produced())
    engine = Engine(url, poll_interval=0.02)
    run_with_kills(engine, url, redis_source(stream), workers_count=1)


def test_two_trigger_workers_on_postgres_share_the_stream_through_kills(
    postgres_empty_url: str, redis_client: Any, stream: str
) -> None:
    publish(redis_client, stream, produced())
    engine = Engine(postgres_empty_url, poll_interval=0.02)
    execution_id = run_with_kills(engine, postgres_empty_url, redis_source(stream), 2)
    consumers = redis_client.xinfo_consumers(stream, f"cadenza-{execution_id}")
    assert sorted(c["name"] for c in consumers) == [b"w0", b"w1"]


def test_sigkilled_trigger_worker_on_nats_loses_nothing(
    tmp_path: Any, nats_url: str, nats_stream: str
) -> None:
    subject = f"{nats_stream}.events"
    publish_nats(nats_url, nats_stream, subject, produced())
    url = f"sqlite:///{tmp_path / 'cadenza.db'}"
    source = {
        "kind": "nats",
        "url": nats_url,
        "stream": nats_stream,
        "subject": subject,
        "batch": 25,
        "ack_wait": 1,
    }
    run_with_kills(Engine(url, poll_interval=0.02), url, source, workers_count=1)


def test_two_trigger_workers_on_nats_and_postgres_share_the_stream_through_kills(
    postgres_empty_url: str, nats_url: str, nats_stream: str
) -> None:
    subject = f"{nats_stream}.events"
    publish_nats(nats_url, nats_stream, subject, produced())
    source = {
        "kind": "nats",
        "url": nats_url,
        "stream": nats_stream,
        "subject": subject,
        "batch": 25,
        "ack_wait": 1,
    }
    engine = Engine(postgres_empty_url, poll_interval=0.02)
    execution_id = run_with_kills(engine, postgres_empty_url, source, workers_count=2)
    engine.close()
    # The workers shared the workspace's one durable consumer, which delivered
    # the whole stream (messages a worker held when it was stopped at the end
    # may stay unacknowledged: at least once, and the workspace had ended).
    info = asyncio.run(consumer_info(nats_url, nats_stream, f"cadenza-{execution_id}"))
    assert info.delivered.stream_seq == TASKS * EVENTS


async def consumer_info(url: str, stream: str, durable: str) -> Any:
    import nats

    client = await nats.connect(url)
    try:
        return await client.jetstream().consumer_info(stream, durable.replace(".", "_"))
    finally:
        await client.close()
