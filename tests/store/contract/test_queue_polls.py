"""Queue polls: when worker loops last asked each queue for work, kept in the
store so that every process sharing it sees every poller, on every store."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cadenza.store.protocol import QueuePoll, Store

from .conftest import NOW

#: Far enough back that nothing recorded in these cases is forgotten.
KEEP_ALL = NOW - 86_400


def poll(queue: str, poller: str, at: float, description: str = "") -> QueuePoll:
    return QueuePoll(queue, poller, description or f"{poller} on host", at)


@pytest.fixture(autouse=True)
def no_polls_yet(store: Store) -> None:
    """Start from no rows: the PostgreSQL database of these cases is shared by the
    session and emptied before each case, but its list of tables to empty does
    not name this one. Forgetting everything is the protocol's own way."""
    store.record_queue_polls([], float("inf"))
    assert store.queue_polls() == []


def test_polls_are_kept_per_queue_and_poller_and_listed_by_queue_latest_first(
    store: Store, open_same: Callable[[], Store]
) -> None:
    store.record_queue_polls(
        [poll("reports", "w1", NOW), poll("default", "w1", NOW), poll("reports", "w2", NOW + 2)],
        KEEP_ALL,
    )
    expected = [
        poll("default", "w1", NOW),
        poll("reports", "w2", NOW + 2),
        poll("reports", "w1", NOW),
    ]
    assert store.queue_polls() == expected
    # Another process on the same store sees the same pollers.
    assert open_same().queue_polls() == expected


def test_a_later_poll_replaces_the_row_and_an_earlier_one_never_does(store: Store) -> None:
    store.record_queue_polls([poll("q", "w1", NOW, "first")], KEEP_ALL)
    store.record_queue_polls([poll("q", "w1", NOW + 5, "again")], KEEP_ALL)
    assert store.queue_polls() == [poll("q", "w1", NOW + 5, "again")]
    # A late write of an older poll (a slow process) moves nothing back.
    store.record_queue_polls([poll("q", "w1", NOW + 1, "late")], KEEP_ALL)
    assert store.queue_polls() == [poll("q", "w1", NOW + 5, "again")]


def test_the_same_poll_twice_in_one_write_is_one_row(store: Store) -> None:
    store.record_queue_polls([poll("q", "w1", NOW), poll("q", "w1", NOW + 1)], KEEP_ALL)
    assert store.queue_polls() == [poll("q", "w1", NOW + 1)]


def test_pollers_not_seen_since_forget_before_are_deleted(store: Store) -> None:
    store.record_queue_polls(
        [poll("q", "gone", NOW - 7_200), poll("r", "gone", NOW - 7_200), poll("q", "w1", NOW - 10)],
        KEEP_ALL,
    )
    assert len(store.queue_polls()) == 3
    # The next write of a live poller drops the rows last seen an hour ago or more.
    store.record_queue_polls([poll("q", "w1", NOW)], NOW - 3_600)
    assert store.queue_polls() == [poll("q", "w1", NOW)]
    # With nothing to record, a write still forgets.
    store.record_queue_polls([], NOW + 1)
    assert store.queue_polls() == []
