"""Making an event source from a workspace's ``sources`` entry."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

from cadenza.model.errors import InputError
from cadenza.triggers.source import EventSource

#: Events a source reads at a time unless its ``batch`` says otherwise.
DEFAULT_BATCH = 1000


def open_source(settings: Mapping[str, Any], execution_id: str) -> EventSource:
    """The source a workspace's ``sources`` entry describes.

    Defaults: the local broker's URL, a consumer group / durable consumer
    named after the workspace execution (so that several workers of one
    workspace share its stream), and this host's name as the consumer.
    """
    kind = settings.get("kind")
    consumer_default = f"cadenza-{socket.gethostname()}"
    if kind == "redis":
        from cadenza.triggers.redis_streams import RedisStreamSource

        return RedisStreamSource(
            url=str(settings.get("url", "redis://127.0.0.1:6379")),
            stream=str(settings["stream"]),
            group=str(settings.get("group") or f"cadenza-{execution_id}"),
            consumer=str(settings.get("consumer") or consumer_default),
            batch=int(settings.get("batch", DEFAULT_BATCH)),
            max_batch=_optional_int(settings.get("max_batch")),
            claim_idle=float(settings.get("claim_idle", 30.0)),
            name=str(settings.get("name") or f"redis:{settings['stream']}"),
        )
    if kind == "nats":
        from cadenza.triggers.nats_jetstream import NatsJetStreamSource

        durable = settings.get("durable") or f"cadenza-{execution_id}"
        return NatsJetStreamSource(
            url=str(settings.get("url", "nats://127.0.0.1:4222")),
            stream=str(settings["stream"]),
            subject=str(settings["subject"]),
            durable=_nats_name(str(durable)),
            batch=int(settings.get("batch", DEFAULT_BATCH)),
            max_batch=_optional_int(settings.get("max_batch")),
            ack_wait=float(settings.get("ack_wait", 30.0)),
            name=str(settings.get("name") or f"nats:{settings['stream']}"),
        )
    raise InputError(f"unknown kind of event source {kind!r} (known: nats, redis)", kind=kind)


def _nats_name(name: str) -> str:
    """A name NATS accepts for a durable consumer (no ``.``, ``*``, ``>`` or spaces)."""
    return "".join("_" if c in ".*> \t" else c for c in name)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
