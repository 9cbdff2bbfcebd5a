"""Task priority: a claim takes the due tasks of higher priority first, on every store."""

from __future__ import annotations

import dataclasses

from cadenza.store.protocol import Store

from .conftest import NOW, claim, new_task, start_with_tasks


def test_a_claim_takes_the_high_priority_tasks_before_older_low_ones(store: Store) -> None:
    low = [new_task(f"low{i:02}", available_at=NOW - 100 + i) for i in range(50)]
    # Due later than every low task: only the priority puts them first.
    high = [
        dataclasses.replace(new_task(f"high{i}", available_at=NOW - 10 + i), priority=5)
        for i in range(5)
    ]
    start_with_tasks(store, 1, *low, *high)
    claimed = claim(store, limit=5)
    assert [t.task_id for t in claimed] == [f"high{i}" for i in range(5)]
    assert {t.priority for t in claimed} == {5}
    # Then the low ones, oldest first.
    assert [t.task_id for t in claim(store, limit=3)] == ["low00", "low01", "low02"]


def test_priority_orders_only_tasks_that_are_due(store: Store) -> None:
    start_with_tasks(
        store,
        1,
        dataclasses.replace(new_task("urgent-later", available_at=NOW + 60), priority=9),
        new_task("plain", available_at=NOW - 1),
        dataclasses.replace(new_task("minus", available_at=NOW - 5), priority=-1),
    )
    assert [t.task_id for t in claim(store, limit=5)] == ["plain", "minus"]
    assert [t.task_id for t in claim(store, now=NOW + 60)] == ["urgent-later"]
