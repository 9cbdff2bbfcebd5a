"""The store object itself: schema version, capabilities, wake-ups, commit counting."""

from __future__ import annotations

import time
from collections.abc import Callable

from cadenza.model.events import ResumeRequested
from cadenza.store.migrations import migrations_for
from cadenza.store.protocol import ClaimRequest, Store

from .conftest import DEFINITION, NOW, PROMPTLY, run, start, start_with_tasks


def test_the_schema_version_is_the_newest_migration(
    store: Store, backend: str, open_same: Callable[[], Store]
) -> None:
    newest = migrations_for(backend)[-1].version
    assert newest >= 3
    assert store.schema_version() == newest
    assert open_same().schema_version() == newest  # opening again migrates nothing


def test_capabilities_say_what_the_backend_can_do(store: Store, backend: str) -> None:
    expected = {"sqlite": (False, False), "postgres": (True, True)}[backend]
    assert (store.capabilities.multi_host, store.capabilities.notifications) == expected


def test_work_added_elsewhere_wakes_a_waiter_or_it_returns_at_once(
    store: Store, open_same: Callable[[], Store]
) -> None:
    if store.capabilities.notifications:
        # Work added before the first wait is not reported (it starts listening).
        store.wait_for_work(0)
    other = open_same()
    start(other, 1)
    began = time.monotonic()
    woke = store.wait_for_work(PROMPTLY * 3)
    took = time.monotonic() - began
    if store.capabilities.notifications:
        assert woke is True and took < PROMPTLY
    else:
        assert woke is False and took < 1.0  # callers poll


def test_nothing_added_means_no_wake_up(store: Store) -> None:
    store.wait_for_work(0)
    assert store.wait_for_work(0.05) is False


def test_reads_commit_nothing_and_each_write_commits_once(store: Store) -> None:
    (execution_id,) = start_with_tasks(store, 1)
    commits = store.commits
    store.load_definition(DEFINITION.id)
    store.load_execution(execution_id)
    store.list_executions(statuses=["running"])
    store.read_history(execution_id)
    store.waiting_tasks(execution_id)
    store.expired_tasks(NOW, 10)
    store.lease_owners()
    store.next_wakeup()
    store.schema_version()
    assert store.fire_due_timers(NOW, 10) == 0
    assert store.commits == commits

    writes: list[Callable[[], object]] = [
        lambda: store.save_definition(DEFINITION),
        lambda: store.create_execution("x", DEFINITION, ResumeRequested(), NOW),
        lambda: store.deliver(execution_id, [ResumeRequested()], NOW),
        lambda: store.forget_snapshots(),
        lambda: store.claim_tasks(ClaimRequest("w", ("default",), 10, 30), NOW),
        lambda: store.heartbeat_tasks("w", [(execution_id, "t1")], 30, NOW),
        lambda: store.break_leases(["w"], NOW),
        lambda: run(store),
    ]
    for number, write in enumerate(writes, start=1):
        write()
        assert store.commits == commits + number, number
