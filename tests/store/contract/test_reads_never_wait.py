"""Reading never waits for a writer: lists, rows and histories come back while
another connection holds a write transaction open on the same tables.

The console, ``cadenza ps`` and the API read while deciders write; a read that
queued behind a writer's lock would freeze them for as long as that writer
takes (on SQLite, up to the busy timeout and then an error).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cadenza.model.events import PauseRequested
from cadenza.store.protocol import Store

from .conftest import NOW, PROMPTLY, Background, history, run, start


@contextmanager
def write_transaction_open(store_url: str, execution_id: str) -> Iterator[None]:
    """Another connection, as another process would have, changes the execution's
    row and history inside a transaction it keeps open (and then rolls back)."""
    update = "UPDATE executions SET status = 'failed' WHERE id = ?"
    delete = "DELETE FROM history WHERE execution_id = ?"
    if store_url.startswith("sqlite:"):
        import sqlite3

        from cadenza.store.sqlite.store import path_from_url

        conn: Any = sqlite3.connect(path_from_url(store_url), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # the file's write lock, as a round's save takes it
        conn.execute(update, (execution_id,))
        conn.execute(delete, (execution_id,))
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    import psycopg

    with psycopg.connect(store_url) as conn:
        conn.execute(update.replace("?", "%s"), (execution_id,))
        conn.execute(delete.replace("?", "%s"), (execution_id,))
        conn.execute("LOCK TABLE executions, history IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


def test_reads_answer_while_another_connection_holds_a_write_transaction(
    store: Store, store_url: str, open_same: Callable[[], Store]
) -> None:
    (execution_id,) = start(store, 1)
    run(store)
    store.deliver(execution_id, [PauseRequested()], NOW + 1)
    before = store.load_execution(execution_id)
    reader = open_same()

    with write_transaction_open(store_url, execution_id):
        reads = Background(
            lambda: (
                reader.load_execution(execution_id),
                history(reader, execution_id),
                [r.id for r in reader.list_executions()],
                [d.id for d in reader.list_definitions()],
            )
        )
        # Answered while the writer still holds its transaction open.
        row, events, listed, definitions = reads.result(PROMPTLY)

    # What was committed, not what the writer has not committed.
    assert row.status == before.status != "failed"
    assert events == [(1, 1, "ExecutionStarted")]
    assert listed == [execution_id]
    assert definitions == [before.definition_id]
