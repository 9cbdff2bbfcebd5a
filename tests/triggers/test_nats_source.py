"""The NATS JetStream source against a real server: a durable pull consumer whose
messages are acknowledged only after the batch is committed."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import nats

from cadenza.model.events import SignalReceived
from cadenza.store.protocol import Store
from cadenza.triggers.inbox import WorkspaceInbox
from cadenza.triggers.nats_jetstream import NatsJetStreamSource, publish
from cadenza.triggers.source import Deliver
from cadenza.triggers.source_settings import open_source

from .support import cloudevent, wait_for
from .test_engine import make_engine
from .test_redis_source import JOIN


def source_for(url: str, stream: str, **kwargs: Any) -> NatsJetStreamSource:
    settings = {
        "kind": "nats",
        "url": url,
        "stream": stream,
        "subject": f"{stream}.events",
        **kwargs,
    }
    source = open_source(settings, "ws-1")
    assert isinstance(source, NatsJetStreamSource)
    source.fetch_wait = 0.1  # notice a stop soon
    return source


@contextmanager
def running(source: NatsJetStreamSource, deliver: Deliver) -> Iterator[None]:
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            source.run(deliver, stop)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the source failed with {failures!r}") from exc
    finally:
        stop.set()
        thread.join(timeout=10)
    if failures and not isinstance(failures[0], Killed):
        raise failures[0]


class Killed(Exception):
    """The worker dies after the store committed a batch, before it acknowledged it."""


def unacknowledged(url: str, stream: str, durable: str) -> int:
    async def ask() -> int:
        client = await nats.connect(url)
        try:
            info = await client.jetstream().consumer_info(stream, durable)
            return int(info.num_ack_pending) + int(info.num_pending)
        finally:
            await client.close()

    return asyncio.run(ask())


def test_events_reach_the_workspace_and_are_acknowledged_after_commit(
    store: Store, nats_url: str, nats_stream: str
) -> None:
    engine = make_engine(store)
    execution_id = engine.start(engine.register(JOIN % 40))
    inbox = WorkspaceInbox(store, execution_id)
    publish(
        nats_url,
        nats_stream,
        f"{nats_stream}.events",
        [cloudevent("job", "done") for _ in range(40)],
    )
    source = source_for(nats_url, nats_stream, batch=16)
    with running(source, inbox.deliver):
        wait_for(lambda: source.acknowledged == 40, 20, "40 acknowledged messages")
    assert unacknowledged(nats_url, nats_stream, source.durable) == 0
    engine.run_until_idle()
    assert engine.get(execution_id).status == "succeeded"


def test_messages_of_a_killed_worker_come_again_and_count_once(
    store: Store, nats_url: str, nats_stream: str
) -> None:
    engine = make_engine(store)
    execution_id = engine.start(engine.register(JOIN % 20))
    inbox = WorkspaceInbox(store, execution_id)
    publish(
        nats_url,
        nats_stream,
        f"{nats_stream}.events",
        [cloudevent("job", "done") for _ in range(20)],
    )
    died = threading.Event()

    def commit_then_die(events: Sequence[dict[str, Any]], by: str) -> None:
        inbox.deliver(events, by)
        died.set()
        raise Killed()

    first = source_for(nats_url, nats_stream, batch=8, ack_wait=1)
    with running(first, commit_then_die):
        wait_for(died.is_set, 20, "the first batch committed")

    # A new worker on the same durable consumer: the server redelivers the
    # unacknowledged batch after ack_wait, and the workspace drops the copies.
    again = source_for(nats_url, nats_stream, batch=8, ack_wait=1)
    with running(again, inbox.deliver):
        wait_for(lambda: again.acknowledged >= 20, 30, "every message acknowledged")
    engine.run_until_idle()
    view = engine.describe(execution_id)
    assert view.status == "succeeded"
    history = [r.event for r in engine.history(execution_id)]
    delivered = sum(len(e.data) for e in history if isinstance(e, SignalReceived))
    assert delivered == 28


def test_a_binary_mode_message_is_read_from_its_headers(
    store: Store, nats_url: str, nats_stream: str
) -> None:
    engine = make_engine(store)
    execution_id = engine.start(engine.register(JOIN % 1))
    inbox = WorkspaceInbox(store, execution_id)

    async def send() -> None:
        client = await nats.connect(nats_url)
        try:
            jetstream = client.jetstream()
            await jetstream.add_stream(name=nats_stream, subjects=[f"{nats_stream}.events"])
            headers = {
                "ce-id": "b1",
                "ce-source": "bin",
                "ce-type": "done",
                "ce-subject": "job",
                "ce-specversion": "1.0",
                "content-type": "application/json",
            }
            await jetstream.publish(f"{nats_stream}.events", b'{"n": 1}', headers=headers)
        finally:
            await client.close()

    asyncio.run(send())
    source = source_for(nats_url, nats_stream)
    with running(source, inbox.deliver):
        wait_for(lambda: source.acknowledged == 1, 20, "the message acknowledged")
    engine.run_until_idle()
    assert engine.get(execution_id).status == "succeeded"
    (signal,) = [
        r.event for r in engine.history(execution_id) if isinstance(r.event, SignalReceived)
    ]
    assert signal.data[0]["data"] == {"n": 1}
    assert signal.data[0]["source"] == "bin"


def test_pulls_grow_while_full_batches_keep_coming_and_every_message_is_acknowledged(
    nats_url: str, nats_stream: str
) -> None:
    publish(
        nats_url,
        nats_stream,
        f"{nats_stream}.events",
        [cloudevent("job", "done") for _ in range(200)],
    )
    source = source_for(nats_url, nats_stream, batch=10, max_batch=30)
    sizes: list[int] = []

    def record(events: Sequence[dict[str, Any]], by: str) -> None:
        # Nothing of this batch is acknowledged before it returns (asked from
        # another thread: this one runs the source's event loop).
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(unacknowledged, nats_url, nats_stream, source.durable)
            assert waiting.result() >= len(events)
        sizes.append(len(events))

    with running(source, record):
        wait_for(lambda: source.acknowledged == 200, 30, "200 acknowledged messages")
    assert sizes[:3] == [10, 20, 30]
    assert max(sizes) == 30 and sum(sizes) == 200
    assert unacknowledged(nats_url, nats_stream, source.durable) == 0
