"""NATS JetStream as an event source: a durable pull consumer, acks after the commit.

Each message holds one CloudEvent: structured (the body is the event as
JSON) or binary (``ce-*`` headers, the body is the data). The source creates
the stream (capturing ``subject``) if it does not exist, and pulls batches
through a durable consumer named after the workspace, so several workers of
one workspace share the stream and a restarted worker resumes where the
consumer stands. Messages pulled but not acknowledged (the worker died) are
delivered again by the server after ``ack_wait`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from cadenza.triggers.events import from_binary, from_structured, invalid
from cadenza.triggers.source import Deliver


class NatsJetStreamSource:
    """Feeds a workspace from one JetStream stream (see the module docstring)."""

    def __init__(
        self,
        *,
        url: str,
        stream: str,
        subject: str,
        durable: str,
        batch: int = 1000,
        ack_wait: float = 30.0,
        fetch_wait: float = 1.0,
        name: str | None = None,
    ) -> None:
        self.url = url
        self.stream = stream
        self.subject = subject
        self.durable = durable
        self.batch = batch
        self.ack_wait = ack_wait
        self.fetch_wait = fetch_wait
        self.name = name or f"nats:{stream}"
        #: Messages acknowledged by this source since it was made.
        self.acknowledged = 0

    def run(self, deliver: Deliver, stop: threading.Event) -> None:
        """Pull, deliver and acknowledge until ``stop`` is set."""
        asyncio.run(self._run(deliver, stop))

    async def _run(self, deliver: Deliver, stop: threading.Event) -> None:
        client = await nats.connect(self.url, connect_timeout=5, allow_reconnect=True)
        try:
            stream = client.jetstream()
            await ensure_stream(stream, self.stream, self.subject)
            config = ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait,
                max_ack_pending=max(self.batch * 4, 1000),
            )
            subscription = await stream.pull_subscribe(
                self.subject, durable=self.durable, stream=self.stream, config=config
            )
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(self.batch, timeout=self.fetch_wait)
                except TimeoutError:
                    # Nothing arrived in time (nats-py raises its own TimeoutError or
                    # asyncio's, depending on where the wait ended: both are this).
                    continue
                if not messages:
                    continue
                events = [self._event(message) for message in messages]
                deliver(events, self.name)
                # Only now, with the batch committed, may the server forget it.
                for message in messages:
                    await message.ack()
                await client.flush()
                self.acknowledged += len(messages)
        finally:
            await client.close()

    def _event(self, message: Any) -> dict[str, Any]:
        try:
            headers = message.headers or {}
            if any(key.lower().startswith("ce-") for key in headers):
                return from_binary(headers, message.data)
            return from_structured(message.data)
        except (ValueError, UnicodeDecodeError) as exc:
            sequence = message.metadata.sequence.stream
            raw = message.data.decode(errors="replace")
            return invalid(self.name, f"{self.stream}:{sequence}", str(exc), raw)


async def ensure_stream(stream: Any, name: str, subject: str) -> None:
    """Create the JetStream stream ``name`` capturing ``subject`` if it does not exist."""
    try:
        await stream.stream_info(name)
    except NotFoundError:
        await stream.add_stream(name=name, subjects=[subject])


async def publish_async(
    url: str, stream: str, subject: str, events: Sequence[dict[str, Any]]
) -> None:
    """Publish CloudEvents (JSON objects) in structured form, waiting for the acks."""
    client = await nats.connect(url, connect_timeout=5)
    try:
        jetstream = client.jetstream()
        await ensure_stream(jetstream, stream, subject)
        pending = []
        for event in events:
            pending.append(await jetstream.publish_async(subject, json.dumps(event).encode()))
            if len(pending) >= 4000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await client.close()


def publish(url: str, stream: str, subject: str, events: Sequence[dict[str, Any]]) -> None:
    """``publish_async`` from synchronous code."""
    asyncio.run(publish_async(url, stream, subject, events))
