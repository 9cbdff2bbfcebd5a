"""Blobs live as long as a stored row refers to them: a replaced snapshot, a
consumed inbox row, a purged execution let go of theirs, and a blob goes
when nothing refers to it any more; one another row still refers to stays."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from cadenza.model.events import JSON, ExecutionStarted, SignalReceived
from cadenza.store.blobs import CLAIM_PREFIX
from cadenza.store.payloads import KIB, PayloadLimits
from cadenza.store.postgres import PostgresStore
from cadenza.store.protocol import RoundRequest, Store
from cadenza.store.records import DecisionResult, DecisionWork, DefinitionRecord
from cadenza.store.sqlite import SQLiteStore

NOW = 1_700_000_000.0
DEFINITION = DefinitionRecord(id="d1", kind="steps", name="blobs", source="{}", created_at=NOW)
#: A small threshold keeps the values of these tests small and still blobs.
LIMITS = PayloadLimits(inline_bytes=1 * KIB)
LARGE = 4 * KIB

#: Every stored column that can hold a blob reference.
CLAIM_COLUMNS = (
    ("history", "payload"),
    ("inbox", "payload"),
    ("tasks", "input"),
    ("tasks", "meta"),
    ("tasks", "retry"),
    ("executions", "snapshot"),
    ("executions", "output"),
    ("executions", "errors"),
)


def open_with(url: str) -> Store:
    """A store at ``url`` with the small threshold."""
    if url.startswith("sqlite:"):
        return SQLiteStore(url[len("sqlite:///") :], payload_limits=LIMITS)
    return PostgresStore(url, payload_limits=LIMITS)


def raw_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows as the database holds them, read past every Cadenza layer."""
    if url.startswith("sqlite:"):
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            return [tuple(row) for row in conn.execute(sql).fetchall()]
    import psycopg

    with psycopg.connect(url, autocommit=True) as pg:
        return [tuple(row) for row in pg.execute(sql).fetchall()]


def references(url: str) -> Counter[str]:
    """How many times stored rows refer to each blob."""
    found: Counter[str] = Counter()
    for table, column in CLAIM_COLUMNS:
        for (text,) in raw_rows(url, f"SELECT {column} FROM {table}"):
            if text is not None and text.startswith(CLAIM_PREFIX):
                claim = json.loads(text[len(CLAIM_PREFIX) :])
                found.update(digest for _path, digest in claim["b"])
    return found


def kept(url: str) -> dict[str, int]:
    """The blobs kept, with the count of references each records."""
    return {digest: int(refs) for digest, refs in raw_rows(url, "SELECT digest, refs FROM blobs")}


def assert_exactly_referenced(url: str) -> dict[str, int]:
    """Every referenced blob is kept, with the right count, and no other is."""
    wanted = references(url)
    found = kept(url)
    assert found == dict(wanted)
    return found


@pytest.fixture
def blob_store(store_url: str) -> Iterator[Store]:
    opened = open_with(store_url)
    yield opened
    opened.close()


def signal(execution_id: str, store: Store, data: JSON) -> None:
    store.deliver(execution_id, [SignalReceived(name="s", data=data)], NOW)


def decide_with(snapshot: JSON, *, done: bool = False, output: JSON = None) -> Any:
    """A decider that records its inputs and saves ``snapshot`` (and ends the
    execution with ``output`` when ``done``)."""

    def decide(works: list[DecisionWork]) -> list[DecisionResult]:
        return [
            DecisionResult(
                execution_id=w.execution_id,
                decision_no=w.decision_no + 1,
                consumed_inputs=len(w.inputs),
                appended=[
                    (w.decision_no + 1, t, e) for e, t in zip(w.inputs, w.input_times, strict=True)
                ],
                snapshot=snapshot,
                status="succeeded" if done else "running",
                completed=done,
                output=output,
            )
            for w in works
        ]

    return decide


def run_one(store: Store, execution_id: str, decide: Any) -> None:
    request = RoundRequest(owner="test", now=NOW, only=[execution_id])
    outcome = store.run_round(request, decide)
    assert [r.execution_id for r in outcome.saved] == [execution_id]


def test_a_rewritten_snapshot_leaves_only_the_blobs_still_referred_to(
    store_url: str, blob_store: Store
) -> None:
    blob_store.create_execution("e1", DEFINITION, ExecutionStarted(input={"n": 1}), NOW)
    run_one(blob_store, "e1", decide_with({"step": 0}))
    constant = "c" * LARGE
    steps = 30
    for step in range(1, steps + 1):
        signal("e1", blob_store, {"small": step})
        # A part that changes every step and one that never does.
        snapshot = {"changing": f"{step:04d}" + "v" * LARGE, "constant": constant}
        run_one(blob_store, "e1", decide_with(snapshot))
    found = assert_exactly_referenced(store_url)
    # The snapshot's two parts, nothing of the 29 snapshots before it.
    assert len(found) == 2
    saved, _tail = blob_store.snapshot_and_tail("e1")
    assert saved == {"changing": f"{steps:04d}" + "v" * LARGE, "constant": constant}
    # Forgetting the snapshot lets its blobs go too.
    assert blob_store.forget_snapshots(["e1"]) == 1
    assert assert_exactly_referenced(store_url) == {}


def test_a_consumed_inbox_value_that_history_keeps_is_not_lost(
    store_url: str, blob_store: Store
) -> None:
    big = "i" * LARGE
    blob_store.create_execution("e1", DEFINITION, ExecutionStarted(input={"n": 1}), NOW)
    run_one(blob_store, "e1", decide_with(None))
    # The inbox row is the blob's only reference until the round deletes it
    # and writes the same event to history, in one transaction.
    signal("e1", blob_store, {"big": big})
    assert len(assert_exactly_referenced(store_url)) == 1
    run_one(blob_store, "e1", decide_with(None))
    assert raw_rows(store_url, "SELECT COUNT(*) FROM inbox") == [(0,)]
    assert len(assert_exactly_referenced(store_url)) == 1
    events = blob_store.read_history("e1")
    assert events[-1].event == SignalReceived(name="s", data={"big": big})


def test_purge_deletes_an_executions_blobs_but_not_those_another_shares(
    store_url: str, blob_store: Store
) -> None:
    shared = "s" * LARGE
    for execution_id in ("a", "b"):
        started = ExecutionStarted(input={"shared": shared, "own": execution_id * LARGE})
        blob_store.create_execution(execution_id, DEFINITION, started, NOW)
        run_one(
            blob_store,
            execution_id,
            decide_with(
                {"state": execution_id.upper() * LARGE},
                done=True,
                output={"out": execution_id + "o" * LARGE, "shared": shared},
            ),
        )
    # shared, own input, snapshot and output of each execution.
    assert len(assert_exactly_referenced(store_url)) == 7
    assert blob_store.delete_executions(["a"]) == 1
    found = assert_exactly_referenced(store_url)
    assert len(found) == 4
    record = blob_store.load_execution("b")
    assert record.output == {"out": "b" + "o" * LARGE, "shared": shared}
    started_b = blob_store.read_history("b")[0].event
    assert started_b == ExecutionStarted(input={"shared": shared, "own": "b" * LARGE})
    assert blob_store.delete_executions(["b"]) == 1
    assert assert_exactly_referenced(store_url) == {}


def test_concurrent_writers_and_purgers_keep_every_referenced_blob(
    postgres_empty_url: str,
) -> None:
    """Threads, each with its own store, write and purge executions holding
    the same content at once: one dropping the blob's last reference while
    another refers to it again must not lose it."""
    shared = "p" * LARGE
    threads = 4
    rounds = 15
    failures: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work(number: int) -> None:
        store = open_with(postgres_empty_url)
        try:
            barrier.wait(timeout=30)
            for i in range(rounds):
                execution_id = f"w{number}-{i}"
                started = ExecutionStarted(input={"shared": shared})
                store.create_execution(execution_id, DEFINITION, started, NOW)
                run_one(store, execution_id, decide_with({"s": shared}, done=True, output=shared))
                # The last of each thread stays; the others are purged at once.
                if i < rounds - 1:
                    assert store.delete_executions([execution_id]) == 1
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)
        finally:
            store.close()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(worker.is_alive() for worker in workers)
    assert failures == []
    found = assert_exactly_referenced(postgres_empty_url)
    assert len(found) == 1
    # 3 references per surviving execution: input, snapshot, output.
    assert list(found.values()) == [3 * threads]
    reader = open_with(postgres_empty_url)
    try:
        for number in range(threads):
            assert reader.load_execution(f"w{number}-{rounds - 1}").output == shared
    finally:
        reader.close()
