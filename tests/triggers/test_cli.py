"""``cadenza triggers`` subcommands as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cadenza.engine.engine import Engine

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
