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
import contextlib
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
        max_batch: int | None = None,
        ack_wait: float = 30.0,
        fetch_wait: float = 1.0,
        name: str | None = None,
    ) -> None:
        self.url = url
        self.stream = stream
        self.subject = subject
        self.durable = durable
        #: Messages pulled at a time: from ``batch``, growing up to ``max_batch``
        #: (default 4 x ``batch``) while full batches keep coming.
        self.batch = batch
        self.max_batch = max(max_batch or batch * 4, batch)
        self.current_batch = batch
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
            await self._ensure_consumer(stream)
            puller = _Puller(client, f"{_PULL_API}.{self.stream}.{self.durable}")
            await puller.start()
            while not stop.is_set():
                messages = await puller.pull(self.current_batch, self.fetch_wait)
                if not messages:
                    continue
                deliver([self._event(message) for message in messages], self.name)
                # Only now, with the batch committed, may the server forget it.
                # Each message is acknowledged on its own: an "ack all" policy
                # would also acknowledge older messages still pending for a
                # killed worker (or another worker), which were never committed.
                for message in messages:
                    await client.publish(message.reply, b"")
                await client.flush()
                self.acknowledged += len(messages)
                self._adapt(len(messages))
        finally:
            await client.close()

    async def _ensure_consumer(self, stream: Any) -> None:
        """Create the durable pull consumer if it does not exist."""
        try:
            await stream.consumer_info(self.stream, self.durable)
        except NotFoundError:
            config = ConsumerConfig(
                durable_name=self.durable,
                filter_subject=self.subject,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait,
                max_ack_pending=max(self.max_batch * 4, 1000),
            )
            await stream.add_consumer(self.stream, config)

    def _adapt(self, count: int) -> None:
        """Pull more at a time while full batches keep coming, back to ``batch``
        when the stream runs dry (as the Redis source does)."""
        if count >= self.current_batch:
            self.current_batch = min(self.current_batch * 2, self.max_batch)
        elif count < self.current_batch // 2:
            self.current_batch = max(self.current_batch // 2, self.batch)

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


#: The JetStream API subject a pull request is published to (``.<stream>.<consumer>``).
_PULL_API = "$JS.API.CONSUMER.MSG.NEXT"
#: Status codes that end a pull request: no messages, request timeout, conflict.
_END_STATUSES = frozenset({"404", "408", "409"})


class _Puller:
    """Pull requests on a durable consumer, answered into one inbox.

    The messages are gathered by a subscription callback: the client's own
    ``fetch`` waits on each message with a timeout of its own, which costs
    more than everything else done per message here.
    """

    def __init__(self, client: Any, request_subject: str) -> None:
        self.client = client
        self.request_subject = request_subject
        self.inbox: str = client.new_inbox()
        self.arrived: list[Any] = []
        self.wanted = 0
        self.ended = asyncio.Event()

    async def start(self) -> None:
        await self.client.subscribe(self.inbox, cb=self._arrive)

    async def _arrive(self, message: Any) -> None:
        headers = message.headers
        status = headers.get("Status") if headers else None
        if status is None:
            self.arrived.append(message)
            if len(self.arrived) >= self.wanted:
                self.ended.set()
        elif status in _END_STATUSES:
            self.ended.set()
        # Any other status (100: an idle heartbeat) says nothing about this request.

    async def pull(self, batch: int, wait: float) -> list[Any]:
        """Up to ``batch`` messages: those available now, else the first to
        arrive within ``wait`` seconds (then the rest come with the next pull)."""
        if not self.arrived:
            await self._request({"batch": batch, "no_wait": True}, wait)
            if not self.arrived:
                await self._request({"batch": 1, "expires": int(wait * 1e9)}, wait + 1.0)
        taken, self.arrived = self.arrived, []
        return taken

    async def _request(self, request: dict[str, Any], wait: float) -> None:
        self.wanted = int(request["batch"])
        self.ended.clear()
        payload = json.dumps(request).encode()
        await self.client.publish(self.request_subject, payload, reply=self.inbox)
        # No answer in time (the server is slow or the connection is being
        # restored): whatever did arrive is taken, and the next pull asks again.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ended.wait(), wait)


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
