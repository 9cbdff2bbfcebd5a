"""The running total of what each execution's history keeps: counted as rows are
written, brought along by the claim of a task, and held against the
per-execution ceiling for every result, small ones too."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from cadenza.engine.engine import Engine
from cadenza.model.events import ExecutionStarted, SignalReceived, TaskCompleted
from cadenza.store.blobs import CLAIM_PREFIX
from cadenza.store.migrations import migrations_for
from cadenza.store.payloads import KIB, PayloadLimits
from cadenza.store.postgres import PostgresStore
from cadenza.store.protocol import ClaimRequest, RoundRequest, Store
from cadenza.store.records import DecisionResult, DecisionWork, NewTask
from cadenza.store.sqlite import SQLiteStore
from cadenza.store.sqlite.schema import split_sql
from cadenza.workers.registry import default_registry
from kernel.steps import StepsFrontEnd, steps
from store.test_blob_lifecycle import DEFINITION, NOW, decide_with, raw_rows

LARGE = 4 * KIB


def open_with(url: str, limits: PayloadLimits) -> Store:
    if url.startswith("sqlite:"):
        return SQLiteStore(url[len("sqlite:///") :], payload_limits=limits)
    return PostgresStore(url, payload_limits=limits)


def counted_from_history(url: str, execution_id: str) -> int:
    """The history's bytes and those of the blobs its rows refer to, added up
    from the rows themselves."""
    size = "LENGTH(CAST(payload AS BLOB))" if url.startswith("sqlite:") else "OCTET_LENGTH(payload)"
    [(inline,)] = raw_rows(
        url, f"SELECT COALESCE(SUM({size}), 0) FROM history WHERE execution_id = '{execution_id}'"
    )
    sizes = dict(raw_rows(url, "SELECT digest, size FROM blobs"))
    total = int(inline)
    for (text,) in raw_rows(
        url, f"SELECT payload FROM history WHERE execution_id = '{execution_id}'"
    ):
        if text.startswith(CLAIM_PREFIX):
            total += sum(int(sizes[d]) for _p, d in json.loads(text[len(CLAIM_PREFIX) :])["b"])
    return total


def test_the_total_follows_every_history_row_written(store_url: str) -> None:
    store = open_with(store_url, PayloadLimits(inline_bytes=1 * KIB))
    try:
        store.create_execution("e1", DEFINITION, ExecutionStarted(input={"big": "x" * LARGE}), NOW)
        request = RoundRequest(owner="test", now=NOW, only=["e1"])
        store.run_round(request, decide_with(None))
        store.deliver("e1", [SignalReceived(name="s", data={"small": 1})], NOW)
        store.deliver("e1", [SignalReceived(name="s", data={"big": "y" * LARGE})], NOW)
        store.run_round(request, decide_with(None))
        total = store.stored_payload_bytes("e1")
        assert total == counted_from_history(store_url, "e1")
        assert total > 2 * LARGE
    finally:
        store.close()


def test_the_total_follows_a_round_of_many_rows_and_executions(store_url: str) -> None:
    """A round of more history rows than one pipeline takes (written with COPY on
    PostgreSQL), for two executions at once, one row referring to the same blob
    twice: each execution's total is what its rows hold."""
    store = open_with(store_url, PayloadLimits(inline_bytes=1 * KIB))
    try:
        for execution_id in ("e1", "e2"):
            store.create_execution(
                execution_id, DEFINITION, ExecutionStarted(input={"n": execution_id}), NOW
            )
        twice = "t" * LARGE
        store.deliver(
            "e1",
            [SignalReceived(name="s", data={"i": i}) for i in range(300)]
            + [SignalReceived(name="s", data={"a": twice, "b": twice})],
            NOW,
        )
        store.deliver("e2", [SignalReceived(name="s", data={"big": "u" * LARGE})], NOW)
        outcome = store.run_round(RoundRequest(owner="test", now=NOW), decide_with(None))
        assert sorted(r.execution_id for r in outcome.saved) == ["e1", "e2"]
        for execution_id in ("e1", "e2"):
            total = store.stored_payload_bytes(execution_id)
            assert total == counted_from_history(store_url, execution_id)
        assert store.stored_payload_bytes("e1") > 2 * LARGE
    finally:
        store.close()


def test_a_claimed_task_brings_its_executions_total(tmp_path: Path) -> None:
    """After a claim, the total of the claimed task's execution is known without
    another statement."""
    path = tmp_path / "cadenza.db"
    store = SQLiteStore(str(path), payload_limits=PayloadLimits(inline_bytes=1 * KIB))
    try:
        store.create_execution("e1", DEFINITION, ExecutionStarted(input={"n": "z" * 100}), NOW)
        task = NewTask(
            task_id="t1",
            name="t",
            action="x",
            input={},
            queue="default",
            available_at=NOW,
            retry=None,
            timeout=None,
            heartbeat_timeout=None,
            meta={},
        )

        def decide(works: list[DecisionWork]) -> list[DecisionResult]:
            [result] = decide_with(None)(works)
            result.tasks.append(task)
            return [result]

        store.run_round(RoundRequest(owner="test", now=NOW, only=["e1"]), decide)
        expected = counted_from_history(f"sqlite:///{path}", "e1")
        [claimed] = store.claim_tasks(
            ClaimRequest(owner="w", queues=("default",), limit=1, lease=30.0), NOW
        )
        assert claimed.task_id == "t1"
        statements: list[str] = []
        store._conn.set_trace_callback(statements.append)
        try:
            assert store.stored_payload_bytes("e1") == expected
        finally:
            store._conn.set_trace_callback(None)
        assert statements == []
    finally:
        store.close()


@pytest.mark.slow
def test_small_results_adding_up_past_the_execution_ceiling_fail_the_step_that_crosses_it(
    store_url: str,
) -> None:
    registry = default_registry()
    registry.register("test.tagged", lambda size, tag: {"data": tag * size})
    # Every result stays inline (below the threshold): the ceiling still holds.
    limits = PayloadLimits(
        inline_bytes=64 * KIB, max_value_bytes=64 * KIB, max_execution_bytes=100_000
    )
    engine = Engine(
        open_with(store_url, limits), registry=registry, front_ends={"steps": StepsFrontEnd()}
    )
    try:
        definition = engine.register(
            steps(
                *(
                    {"name": f"s{i}", "action": "test.tagged", "input": {"size": 30_000, "tag": t}}
                    for i, t in enumerate("abcde")
                )
            ),
            kind="steps",
        )
        done = engine.run(definition, timeout=60)
        assert done.status == "failed"
        history = [r.event for r in engine.history(done.id)]
        completed = [e for e in history if isinstance(e, TaskCompleted)]
        assert [e.status for e in completed] == ["succeeded", "succeeded", "succeeded", "failed"]
        error = completed[-1].error
        assert error is not None and error["type"] == "payload.too_large"
        assert "'s3'" in str(error["message"])
        assert "max_execution_bytes=100000" in str(error["message"])
        assert engine.store.stored_payload_bytes(done.id) < 100_000
    finally:
        engine.close()


def recount_statements(backend: str) -> list[str]:
    """The statements of migration 0008 that count what is already stored."""
    [migration] = [m for m in migrations_for(backend) if m.version == 8]
    if backend == "sqlite":
        statements = split_sql(migration.sql)
    else:
        # Functions hold ";" in their bodies: the file's statements are apart
        # by blank lines, and the counting ones have none inside.
        blocks = [b.strip() for b in migration.sql.split("\n\n")]
        lines = (
            "\n".join(line for line in b.splitlines() if not line.startswith("--")) for b in blocks
        )
        statements = [s.strip() for text in lines for s in text.split(";")]
    return [
        s for s in statements if s.startswith(("UPDATE", "CREATE TEMP", "INSERT", "DROP", "DELETE"))
    ]


def run_raw(url: str, statements: list[str]) -> None:
    if url.startswith("sqlite:"):
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            for statement in statements:
                conn.execute(statement)
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as pg, pg.transaction():
        for statement in statements:
            pg.execute(statement)


def test_the_migration_counts_what_was_stored_before_it(store_url: str) -> None:
    """Counts lost (as in a store written before they existed) and a blob
    nothing refers to are put right by the migration's statements."""
    store = open_with(store_url, PayloadLimits(inline_bytes=1 * KIB))
    try:
        store.create_execution("e1", DEFINITION, ExecutionStarted(input={"big": "q" * LARGE}), NOW)
        store.run_round(RoundRequest(owner="test", now=NOW, only=["e1"]), decide_with(None))
    finally:
        store.close()
    expected = counted_from_history(store_url, "e1")
    recount = recount_statements("sqlite" if store_url.startswith("sqlite:") else "postgres")
    assert len(recount) >= 3
    lose_counts = [
        "UPDATE executions SET payload_bytes = 0",
        "UPDATE blobs SET refs = 0",
        "INSERT INTO blobs (digest, size, data, created_at, refs) VALUES ('orphan', 1, 'x', 0, 0)",
    ]
    if not store_url.startswith("sqlite:"):
        # Without its deferred trigger, which would delete the blobs at once.
        trigger = "blobs_unreferenced"
        lose_counts = [
            f"ALTER TABLE blobs DISABLE TRIGGER {trigger}",
            *lose_counts,
            f"ALTER TABLE blobs ENABLE TRIGGER {trigger}",
        ]
    run_raw(store_url, lose_counts)
    assert raw_rows(store_url, "SELECT COUNT(*) FROM blobs WHERE refs = 0") == [(2,)]
    run_raw(store_url, recount)
    assert raw_rows(store_url, "SELECT payload_bytes FROM executions") == [(expected,)]
    assert raw_rows(store_url, "SELECT COUNT(*) FROM blobs WHERE digest = 'orphan'") == [(0,)]
    assert raw_rows(store_url, "SELECT refs FROM blobs") == [(1,)]
