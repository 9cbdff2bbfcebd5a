"""The examples in ``examples/triggers`` run as their README says, through the real
``cadenza`` command, against the local brokers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from cadenza.triggers.nats_jetstream import publish as publish_nats
from cadenza.triggers.redis_streams import publish as publish_redis

from .conftest import NATS_URL, REDIS_URL
from .support import cloudevent

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "triggers"

pytestmark = pytest.mark.slow


def start(tmp_path: Path, definition: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "CADENZA_STORE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(EXAMPLES), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cadenza",
            "triggers",
            "run",
            str(definition),
            *args,
            "--store",
            f"sqlite:///{tmp_path / 'cadenza.db'}",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> dict[str, Any]:
    try:
        out, err = process.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"the workspace did not end; stderr:\n{err}") from None
    assert process.returncode == 0, err
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def test_the_dag_example_runs_when_its_start_event_arrives_on_nats(
    tmp_path: Path, nats_url: str, nats_stream: str
) -> None:
    subject = f"{nats_stream}.numbers"
    text = (EXAMPLES / "fanout.dag.yaml").read_text(encoding="utf-8")
    text = text.replace("stream: NUMBERS", f"stream: {nats_stream}")
    text = text.replace("subject: numbers.in", f"subject: {subject}")
    text = text.replace("nats://127.0.0.1:4222", NATS_URL)
    definition = tmp_path / "fanout.dag.yaml"
    definition.write_text(text, encoding="utf-8")

    process = start(tmp_path, definition, "--activities", "fanout_activities:register")
    publish_nats(nats_url, nats_stream, subject, [cloudevent("numbers", "numbers.ready", 4)])
    result = finished(process)
    assert result["status"] == "succeeded", result
    assert result["output"] == [1 + 4 + 9 + 16]


def test_the_payments_example_joins_three_events_from_redis(
    tmp_path: Path, redis_client: Any, redis_stream: str
) -> None:
    text = (EXAMPLES / "payments.triggers.yaml").read_text(encoding="utf-8")
    text = text.replace("stream: payments", f"stream: {redis_stream}")
    text = text.replace("redis://127.0.0.1:6379", REDIS_URL)
    definition = tmp_path / "payments.triggers.yaml"
    definition.write_text(text, encoding="utf-8")

    process = start(tmp_path, definition)
    paid = [cloudevent("payment", "paid", id=f"pay-{i}", source="shop") for i in (1, 2, 2, 3)]
    publish_redis(redis_client, redis_stream, paid)
    result = finished(process)
    assert result["status"] == "succeeded", result
    assert result["output"] == "all three paid"
    assert uuid.UUID(result["execution_id"])


def test_the_state_machine_example_runs_when_an_order_arrives_on_redis(
    tmp_path: Path, redis_client: Any, redis_stream: str
) -> None:
    text = (EXAMPLES / "order.sm.yaml").read_text(encoding="utf-8")
    text = text.replace("stream: orders", f"stream: {redis_stream}")
    text = text.replace("redis://127.0.0.1:6379", REDIS_URL)
    definition = tmp_path / "order.sm.yaml"
    definition.write_text(text, encoding="utf-8")

    process = start(tmp_path, definition, "--activities", "order_activities:register")
    order = {"qty": 5, "country": "FR"}
    publish_redis(redis_client, redis_stream, [cloudevent("order", "order.placed", order)])
    result = finished(process)
    assert result["status"] == "succeeded", result
    assert result["output"] == {"shipped": 5, "total": 150, "reviewed": True}
