"""The Redis Streams source against a real Redis: batches committed, then acknowledged;
pending entries of a dead consumer taken over; redeliveries counted once."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from cadenza.model.events import SignalReceived
from cadenza.store.protocol import Store
from cadenza.triggers.inbox import WorkspaceInbox
from cadenza.triggers.redis_streams import RedisStreamSource, publish
from cadenza.triggers.source import Deliver
from cadenza.triggers.source_settings import open_source

from .conftest import REDIS_URL
from .support import cloudevent, wait_for
from .test_engine import make_engine

JOIN = """\
workspace: counting
triggers:
  - id: all
    activation: [{subject: job, type: done}]
    condition: JOIN
    context: {join: %d, result: joined}
    action: TERMINATE
"""


def source_for(stream: str, consumer: str = "c1", **kwargs: Any) -> RedisStreamSource:
    settings = {
        "kind": "redis",
        "url": REDIS_URL,
        "stream": stream,
        "group": "g",
        "consumer": consumer,
        **kwargs,
    }
    source = open_source(settings, "unused")
    assert isinstance(source, RedisStreamSource)
    source.block = 0.1  # notice a stop soon
    return source


@contextmanager
def running(source: RedisStreamSource, deliver: Deliver) -> Iterator[threading.Event]:
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
        yield stop
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the source failed with {failures!r}") from exc
    finally:
        stop.set()
        thread.join(timeout=10)
    if failures and not isinstance(failures[0], CrashAfterCommit):
        raise failures[0]


class CrashAfterCommit(Exception):
    """The worker dies after the store committed a batch, before it acknowledged it."""


def pending(client: Any, stream: str) -> int:
    return int(client.xpending(stream, "g")["pending"])


def test_events_reach_the_workspace_and_are_acknowledged_after_commit(
    store: Store, redis_client: Any, redis_stream: str
) -> None:
    engine = make_engine(store)
    execution_id = engine.start(engine.register(JOIN % 50))
    engine.run_until_idle()
    inbox = WorkspaceInbox(store, execution_id)
    publish(redis_client, redis_stream, [cloudevent("job", "done") for _ in range(50)])
    source = source_for(redis_stream, batch=20)

    with running(source, inbox.deliver):
        wait_for(lambda: source.acknowledged == 50, 20, "50 acknowledged entries")
    assert inbox.delivered == 50
    assert pending(redis_client, redis_stream) == 0
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded"
    assert record.output == "joined"


def test_a_batch_that_was_not_committed_is_not_acknowledged(
    redis_client: Any, redis_stream: str
) -> None:
    publish(redis_client, redis_stream, [cloudevent("job", "done") for _ in range(5)])
    source = source_for(redis_stream)

    def refuse(events: Sequence[dict[str, Any]], by: str) -> None:
        raise RuntimeError("the store is down")

    stop = threading.Event()
    with pytest.raises(RuntimeError, match="the store is down"):
        source.run(refuse, stop)
    assert pending(redis_client, redis_stream) == 5
    assert source.acknowledged == 0


def test_a_crash_between_commit_and_ack_counts_each_event_once(
    store: Store, redis_client: Any, redis_stream: str
) -> None:
    engine = make_engine(store)
    execution_id = engine.start(engine.register(JOIN % 30))
    inbox = WorkspaceInbox(store, execution_id)
    publish(redis_client, redis_stream, [cloudevent("job", "done") for _ in range(30)])
    crashed = threading.Event()

    def commit_then_die(events: Sequence[dict[str, Any]], by: str) -> None:
        inbox.deliver(events, by)
        crashed.set()
        raise CrashAfterCommit()

    first = source_for(redis_stream, batch=10)
    with running(first, commit_then_die):
        wait_for(crashed.is_set, 20, "the first batch to be committed")
    assert pending(redis_client, redis_stream) == 10

    # The same consumer restarted reads its own pending entries first.
    again = source_for(redis_stream, batch=10)
    with running(again, inbox.deliver):
        wait_for(lambda: again.acknowledged == 30, 20, "every entry acknowledged")
    engine.run_until_idle()
    view = engine.describe(execution_id)
    assert view.status == "succeeded"
    assert engine.get(execution_id).output == "joined"
    history = [r.event for r in engine.history(execution_id)]
    delivered = sum(len(e.data) for e in history if isinstance(e, SignalReceived))
    assert delivered == 40  # the first batch twice; the workspace dropped the copies


def test_entries_a_dead_consumer_left_pending_are_taken_over(
    store: Store, redis_client: Any, redis_stream: str
) -> None:
    engine = make_engine(store)
    execution_id = engine.start(engine.register(JOIN % 8))
    inbox = WorkspaceInbox(store, execution_id)
    publish(redis_client, redis_stream, [cloudevent("job", "done") for _ in range(8)])
    dead = source_for(redis_stream, consumer="dead")
    dead.ensure_group()
    # The dead consumer read everything and acknowledged nothing.
    redis_client.xreadgroup("g", "dead", {redis_stream: ">"}, count=100)
    assert pending(redis_client, redis_stream) == 8

    heir = source_for(redis_stream, consumer="heir", claim_idle=0.05)
    with running(heir, inbox.deliver):
        wait_for(lambda: heir.acknowledged == 8, 20, "the dead consumer's entries taken over")
    engine.run_until_idle()
    assert engine.get(execution_id).status == "succeeded"


def test_an_entry_that_is_not_a_cloudevent_becomes_a_dead_letter(
    store: Store, redis_client: Any, redis_stream: str
) -> None:
    engine = make_engine(store)
    execution_id = engine.start(engine.register(JOIN % 1))
    inbox = WorkspaceInbox(store, execution_id)
    redis_client.xadd(redis_stream, {"event": '{"id": "1"}'})
    redis_client.xadd(redis_stream, {"hello": "world"})
    redis_client.xadd(
        redis_stream,
        {
            "ce-id": "b1",
            "ce-source": "bin",
            "ce-type": "done",
            "ce-subject": "job",
            "ce-specversion": "1.0",
            "data": "[1]",
        },
    )
    source = source_for(redis_stream)
    with running(source, inbox.deliver):
        wait_for(lambda: source.acknowledged == 3, 20, "three entries acknowledged")
    engine.run_until_idle()
    assert engine.get(execution_id).status == "succeeded"  # the binary-style entry joined
    dead = engine.history_view(execution_id, "dead-letters")
    assert [d["event"]["source"] for d in dead] == [source.name, source.name]
    assert all(d["event"]["type"] == "cadenza.invalid" for d in dead)
    assert all(d["reason"].startswith("not a CloudEvent: ") for d in dead)


def test_batches_grow_while_full_ones_keep_coming_and_every_entry_is_acknowledged(
    redis_client: Any, redis_stream: str
) -> None:
    publish(redis_client, redis_stream, [cloudevent("job", "done") for _ in range(200)])
    source = source_for(redis_stream, batch=10, max_batch=30)
    sizes: list[int] = []

    def record(events: Sequence[dict[str, Any]], by: str) -> None:
        # This batch is not acknowledged before it returns; the one before it is.
        assert pending(redis_client, redis_stream) == len(events)
        sizes.append(len(events))

    with running(source, record):
        wait_for(lambda: source.acknowledged == 200, 20, "200 acknowledged entries")
    assert sizes[:3] == [10, 20, 30]
    assert max(sizes) == 30 and sum(sizes) == 200
    assert pending(redis_client, redis_stream) == 0
