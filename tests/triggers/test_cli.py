"""``cadenza triggers`` subcommands as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cadenza.engine.engine import Engine
from cadenza.model.events import SignalReceived
from cadenza.triggers.redis_streams import publish

from .conftest import REDIS_URL
from .support import cloudevent
from .test_engine import WORKSPACE


def cadenza(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CADENZA_STORE"}
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_publish_writes_cloudevents_to_a_redis_stream(
    tmp_path: Path, redis_client: Any, redis_stream: str
) -> None:
    done = cadenza(
        tmp_path,
        "triggers",
        "publish",
        REDIS_URL,
        "--stream",
        redis_stream,
        '{"source": "cli", "subject": "a", "type": "t", "data": 1}',
        '{"source": "cli", "id": "fixed", "subject": "b", "type": "t"}',
    )
    assert done.returncode == 0, done.stderr
    entries = redis_client.xrange(redis_stream)
    events = [json.loads(fields[b"event"]) for _id, fields in entries]
    assert [e["subject"] for e in events] == ["a", "b"]
    assert events[0]["specversion"] == "1.0" and events[0]["id"]
    assert events[1]["id"] == "fixed"


def test_publish_refuses_what_it_cannot_send(tmp_path: Path) -> None:
    done = cadenza(tmp_path, "triggers", "publish", "kafka://x", "--stream", "s", "{}")
    assert done.returncode == 2
    assert "redis:// or nats://" in done.stderr
    done = cadenza(tmp_path, "triggers", "publish", "redis://x", "--stream", "s", "[1]")
    assert done.returncode == 2
    assert "not a JSON object" in done.stderr


def test_replay_offers_dead_letters_again_and_says_when_there_are_none(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cadenza.db'}"
    engine = Engine(url)
    execution_id = engine.start(engine.register(WORKSPACE))
    engine.signal(execution_id, "cloudevent", cloudevent("refund", "issued", id="r1"))
    engine.run_until_idle()
    trigger = {"id": "refunds", "activation": [["refund", "issued"]], "action": "TERMINATE"}
    engine.operator_request(execution_id, "add-trigger", {"trigger": trigger})
    engine.close()

    none = cadenza(
        tmp_path, "triggers", "replay", execution_id, "--store", url, "--subject", "nobody"
    )
    assert none.returncode == 2
    assert "no dead letter matches" in none.stderr
    done = cadenza(tmp_path, "triggers", "replay", execution_id, "--store", url)
    assert done.returncode == 0, done.stderr
    engine = Engine(url)
    engine.run_until_idle()
    assert engine.get(execution_id).status == "succeeded"
    engine.close()


def test_listen_refuses_a_workspace_without_sources(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cadenza.db'}"
    engine = Engine(url)
    execution_id = engine.start(engine.register(WORKSPACE))
    engine.close()
    done = cadenza(tmp_path, "triggers", "listen", execution_id, "--store", url)
    assert done.returncode == 2
    assert "declares no event sources" in done.stderr


def test_max_batch_must_be_a_whole_number_of_at_least_one(tmp_path: Path) -> None:
    for bad in ("0", "-3", "ten", "2.5"):
        done = cadenza(tmp_path, "triggers", "listen", "some-id", "--max-batch", bad)
        assert done.returncode == 2, done.stderr
        assert f"--max-batch: must be a whole number of at least 1, not {bad!r}" in done.stderr


def test_listen_max_batch_caps_every_batch_committed(
    tmp_path: Path, redis_client: Any, redis_stream: str
) -> None:
    url = f"sqlite:///{tmp_path / 'cadenza.db'}"
    engine = Engine(url)
    # The definition lets batches grow to 80; --max-batch 7 must win.
    source = {"kind": "redis", "url": REDIS_URL, "stream": redis_stream, "batch": 20}
    workspace = {
        "workspace": "capped",
        "sources": [source],
        "triggers": [
            {
                "id": "all",
                "activation": [["job", "done"]],
                "condition": "JOIN",
                "context": {"join": 50, "result": "joined"},
                "action": "TERMINATE",
            }
        ],
    }
    execution_id = engine.start(engine.register(json.dumps(workspace)))
    engine.close()
    publish(redis_client, redis_stream, [cloudevent("job", "done") for _ in range(50)])

    done = cadenza(
        tmp_path, "triggers", "listen", execution_id, "--store", url, "--serve", "--max-batch", "7"
    )
    assert done.returncode == 0, done.stderr
    engine = Engine(url)
    assert engine.get(execution_id).output == "joined"
    batches = [
        len(recorded.event.data)
        for recorded in engine.store.read_history(execution_id)
        if isinstance(recorded.event, SignalReceived)
    ]
    engine.close()
    assert sum(batches) == 50
    assert max(batches) <= 7, batches
    assert len(batches) >= 8  # 50 events in batches of at most 7


def sizes(sources: list[Any]) -> list[tuple[int, int]]:
    """Each source's ``(batch, max_batch)``."""
    return [(source.batch, source.max_batch) for source in sources]


def test_max_batch_replaces_each_source_setting_and_lowers_only_a_larger_batch(
    tmp_path: Path,
) -> None:
    from cadenza.triggers.worker import workspace_sources

    engine = Engine(f"sqlite:///{tmp_path / 'cadenza.db'}")
    sources = [
        {"kind": "redis", "stream": "a", "batch": 50, "max_batch": 400},
        {"kind": "nats", "stream": "B", "subject": "b"},
    ]
    trigger = {"id": "x", "activation": [["s", "t"]]}
    text = json.dumps({"workspace": "w", "sources": sources, "triggers": [trigger]})
    execution_id = engine.start(engine.register(text))
    try:
        declared = workspace_sources(engine, execution_id)
        assert sizes(declared) == [(50, 400), (1000, 4000)]
        capped = workspace_sources(engine, execution_id, max_batch=100)
        assert sizes(capped) == [(50, 100), (100, 100)]
        raised = workspace_sources(engine, execution_id, max_batch=5000)
        assert sizes(raised) == [(50, 5000), (1000, 5000)]
    finally:
        engine.close()
