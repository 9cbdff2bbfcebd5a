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
        max_batch: int | None = None,
        claim_idle: float = 30.0,
        block: float = 1.0,
        name: str | None = None,
    ) -> None:
        self.url = url
        self.stream = stream
        self.group = group
        self.consumer = consumer
        #: Entries read at a time: from ``batch``, growing up to ``max_batch``
        #: (default 4 x ``batch``) while full batches keep coming.
        self.batch = batch
        self.max_batch = max(max_batch or batch * 4, batch)
        self.current_batch = batch
        self.claim_idle = claim_idle
        self.block = block
        self.name = name or f"redis:{stream}"
        self._client: redis.Redis | None = None
        #: Entries acknowledged by this source since it was made.
        self.acknowledged = 0

    def client(self) -> redis.Redis:
        if self._client is None:
            # RESP2: the client's pure-Python parser reads a stream entry in about
            # two thirds of the time it takes with RESP3 (without hiredis, that
            # parser is the largest cost per event).
            self._client = redis.Redis.from_url(self.url, protocol=2)
        return self._client

    def ensure_group(self) -> None:
        """Create the stream and the consumer group (reading from the start) if absent."""
        try:
            self.client().xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def run(self, deliver: Deliver, stop: threading.Event) -> None:
        """Read, deliver and acknowledge until ``stop`` is set.

        A committed batch is acknowledged in the same round trip that reads
        the next one (``XACK`` then ``XREADGROUP``, pipelined): never before
        its commit, and without a round trip of its own.
        """
        self.ensure_group()
        self._own_pending(deliver, stop)
        next_claim = 0.0
        committed: list[bytes] = []
        try:
            while not stop.is_set():
                if time.monotonic() >= next_claim:
                    committed = self._acknowledge(committed)
                    self._claim_abandoned(deliver)
                    next_claim = time.monotonic() + max(self.claim_idle / 2, 0.5)
                entries = self._read_after_ack(committed, block=int(self.block * 1000))
                committed = []
                if entries:
                    deliver([self._event(i, f) for i, f in entries], self.name)
                    committed = [entry_id for entry_id, _f in entries]
                    self._adapt(len(entries))
        finally:
            # Stopped (or failed) after a commit: acknowledge what it committed.
            # If Redis is what failed, the entries stay pending and come back.
            if committed:
                try:
                    self._acknowledge(committed)
                except redis.RedisError as exc:
                    log.info("%s: committed entries left pending (%s)", self.name, exc)

    def _adapt(self, count: int) -> None:
        """Read more at a time while the stream keeps full batches coming (the
        cost per batch is then shared by more events), back to ``batch`` when
        it runs dry."""
        if count >= self.current_batch:
            self.current_batch = min(self.current_batch * 2, self.max_batch)
        elif count < self.current_batch // 2:
            self.current_batch = max(self.current_batch // 2, self.batch)

    def _acknowledge(self, entry_ids: Sequence[bytes]) -> list[bytes]:
        if entry_ids:
            self.client().xack(self.stream, self.group, *entry_ids)
            self.acknowledged += len(entry_ids)
        return []

    def _read_after_ack(self, committed: Sequence[bytes], block: int) -> list[Entry]:
        """``XACK`` the committed entries and read new ones, in one round trip."""
        if not committed:
            return self._read(">", block=block)
        pipe = self.client().pipeline(transaction=False)
        pipe.xack(self.stream, self.group, *committed)
        pipe.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=self.current_batch, block=block
        )
        _acked, found = pipe.execute()
        self.acknowledged += len(committed)
        return _entries(found)

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
            self.group, self.consumer, {self.stream: after}, count=self.current_batch, block=block
        )
        return _entries(found)

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
                count=self.current_batch,
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


def _entries(found: Any) -> list[Entry]:
    """The entries of an ``XREADGROUP`` answer, without the deleted ones (no fields)."""
    return [entry for _stream, entries in found or [] for entry in entries if entry[1]]


def publish(client: redis.Redis, stream: str, events: Sequence[dict[str, Any]]) -> None:
    """Append CloudEvents (JSON objects) to ``stream`` in structured form, pipelined."""
    pipe = client.pipeline(transaction=False)
    for event in events:
        pipe.xadd(stream, {"event": json.dumps(event)})
    pipe.execute()
