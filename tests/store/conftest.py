"""Fixtures for PostgreSQL-specific tests: stores, raw connections, a tiny decider."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from cadenza.model.events import ExecutionStarted, TaskScheduled
from cadenza.store.records import DecisionResult, DecisionWork, DefinitionRecord, NewTask

if TYPE_CHECKING:
    from cadenza.store.postgres import PostgresStore

NOW = 1_700_000_000.0

DEFINITION = DefinitionRecord(id="def1", kind="steps", name="one", source="{}", created_at=NOW)


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[PostgresStore]:
    """A ``PostgresStore`` on this test's own migrated database."""
    from cadenza.store.postgres import PostgresStore

    store = PostgresStore(postgres_url)
    yield store
    store.close()


@pytest.fixture
def open_pg(postgres_url: str) -> Iterator[Callable[[], PostgresStore]]:
    """Opens more stores on the same database (each with its own connections)."""
    from cadenza.store.postgres import PostgresStore

    opened: list[PostgresStore] = []

    def open_one() -> PostgresStore:
        store = PostgresStore(postgres_url)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def raw(postgres_url: str) -> Iterator[Any]:
    """A plain autocommit psycopg connection to this test's database, rows as dicts."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(postgres_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture
def empty_postgres_url(postgres_server: Any) -> Iterator[str]:
    """A database of this test's own with no schema at all."""
    name = postgres_server.create()
    yield postgres_server.url(name)
    postgres_server.drop(name)


def start(store: PostgresStore, count: int, prefix: str = "e") -> list[str]:
    """Create ``count`` executions, each with ``ExecutionStarted`` in its inbox."""
    ids = [f"{prefix}{i:03d}" for i in range(count)]
    for i, execution_id in enumerate(ids):
        store.create_execution(execution_id, DEFINITION, ExecutionStarted(seed=i), NOW + i)
    return ids


def decide_one_task_each(works: list[DecisionWork]) -> list[DecisionResult]:
    """A pure decider: fold the inputs, schedule one task ``t<decision>``."""
    results = []
    for work in works:
        decision = work.decision_no + 1
        task_id = f"t{decision}"
        appended: list[tuple[int, float, Any]] = [
            (decision, t, e) for e, t in zip(work.inputs, work.input_times, strict=True)
        ]
        appended.append((decision, NOW, TaskScheduled(task_id=task_id, name="t", action="x")))
        results.append(
            DecisionResult(
                execution_id=work.execution_id,
                decision_no=decision,
                consumed_inputs=len(work.inputs),
                appended=appended,
                snapshot={"decisions": decision},
                status="running",
                tasks=[
                    NewTask(
                        task_id=task_id,
                        name="t",
                        action="x",
                        input={"decision": decision},
                        queue="default",
                        available_at=NOW,
                        retry=None,
                        timeout=None,
                        heartbeat_timeout=None,
                        meta={},
                    )
                ],
            )
        )
    return results
