"""Redis Streams as an event source: a consumer group, ``XACK`` after the commit.

Each entry holds one CloudEvent: in the field ``event`` as structured JSON,
or as ``ce-<attribute>`` fields plus a ``data`` field holding JSON (binary
style). The source reads with ``XREADGROUP`` in the workspace's consumer
group, so several workers of one workspace share the stream.

What happens to entries read but never acknowledged:

* this consumer's own (it was killed and restarted under the same name):
  read again first, from its pending list (``XREADGROUP ... 0``);
* another consumer's that has been idle for ``claim_idle`` seconds (that
  consumer is presumed dead): taken over with ``XAUTOCLAIM`` and delivered.

Either way the workspace drops the events it has already committed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import redis

from cadenza.triggers.events import from_binary, from_structured, invalid
from cadenza.triggers.source import Deliver

log = logging.getLogger("cadenza.triggers")

Entry = tuple[bytes, dict[bytes, bytes]]


class RedisStreamSource:
    """Feeds a workspace from one Redis stream (see the module docstring)."""

    def __init__(
        self,
        *,
        url: str,
        stream: str,
        group: str,
        consumer: str,
        batch: int = 1000,
        claim_idle: float = 30.0,
        block: float = 1.0,
        name: str | None = None,
    ) -> None:
        self.url = url
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.batch = batch
        self.claim_idle = claim_idle
        self.block = block
        self.name = name or f"redis:{stream}"
        self._client: redis.Redis | None = None
        #: Entries acknowledged by this source since it was made.
        self.acknowledged = 0

    def client(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(self.url)
        return self._client

    def ensure_group(self) -> None:
        """Create the stream and the consumer group (reading from the start) if absent."""
        try:
            self.client().xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def run(self, deliver: Deliver, stop: threading.Event) -> None:
        """Read, deliver and acknowledge until ``stop`` is set."""
        self.ensure_group()
        self._own_pending(deliver, stop)
        next_claim = 0.0
        while not stop.is_set():
            if time.monotonic() >= next_claim:
                self._claim_abandoned(deliver)
                next_claim = time.monotonic() + max(self.claim_idle / 2, 0.5)
            entries = self._read(">", block=int(self.block * 1000))
            if entries:
                self._hand_over(entries, deliver)

    def _own_pending(self, deliver: Deliver, stop: threading.Event) -> None:
        """Entries this consumer read before it was stopped, and never acknowledged."""
        after = "0"
        while not stop.is_set():
            entries = self._read(after)
            if not entries:
                return
            self._hand_over(entries, deliver)
            after = entries[-1][0].decode()

    def _read(self, after: str, block: int | None = None) -> list[Entry]:
        """Entries of the group after ``after`` (``>``: never delivered), without
        the deleted ones (no fields)."""
        found: Any = self.client().xreadgroup(
            self.group, self.consumer, {self.stream: after}, count=self.batch, block=block
        )
        return [entry for _stream, entries in found or [] for entry in entries if entry[1]]

    def _claim_abandoned(self, deliver: Deliver) -> None:
        """Take over entries that other (dead) consumers left pending too long."""
        cursor: Any = "0-0"
        while True:
            answer: Any = self.client().xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                min_idle_time=int(self.claim_idle * 1000),
                start_id=cursor,
                count=self.batch,
            )
            cursor, entries = answer[0], [e for e in answer[1] if e[1]]
            if entries:
                log.info("%s: took over %d abandoned entries", self.name, len(entries))
                self._hand_over(entries, deliver)
            if cursor in (b"0-0", "0-0"):
                return

    def _hand_over(self, entries: Sequence[Entry], deliver: Deliver) -> None:
        events = [self._event(entry_id, fields) for entry_id, fields in entries]
        deliver(events, self.name)
        # Only now, with the batch committed, may Redis forget it.
        self.client().xack(self.stream, self.group, *[entry_id for entry_id, _f in entries])
        self.acknowledged += len(entries)

    def _event(self, entry_id: bytes, fields: dict[bytes, bytes]) -> dict[str, Any]:
        try:
            structured = fields.get(b"event")
            if structured is not None:
                return from_structured(structured)
            headers = {k.decode(): v.decode() for k, v in fields.items() if k.startswith(b"ce-")}
            if not headers:
                raise ValueError("the entry has neither an event field nor ce- fields")
            return from_binary(headers, fields.get(b"data", b""))
        except (ValueError, UnicodeDecodeError) as exc:
            raw = {
                k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()
            }
            return invalid(self.name, entry_id.decode(), str(exc), raw)


def publish(client: redis.Redis, stream: str, events: Sequence[dict[str, Any]]) -> None:
    """Append CloudEvents (JSON objects) to ``stream`` in structured form, pipelined."""
    pipe = client.pipeline(transaction=False)
    for event in events:
        pipe.xadd(stream, {"event": json.dumps(event)})
    pipe.execute()
