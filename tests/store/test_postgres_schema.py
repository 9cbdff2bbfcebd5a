"""The PostgreSQL schema: migrations, their lock, versions, and parity with SQLite."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from cadenza.model.errors import SchemaMismatch
from cadenza.store.migrations import migrations_for
from cadenza.store.sqlite import SQLiteStore

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is not installed: pip install -e '.[test]'"
)

from cadenza.store.postgres import PostgresStore  # noqa: E402


def test_a_schema_newer_than_this_version_is_refused(postgres_url: str, raw: Any) -> None:
    raw.execute("UPDATE cadenza_meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(SchemaMismatch) as caught:
        PostgresStore(postgres_url)
    assert caught.value.code == "store.schema_mismatch"
    assert "999" in caught.value.message
    assert caught.value.details == {
        "store_version": 999,
        "known_version": migrations_for("postgres")[-1].version,
    }


def test_processes_starting_at_once_on_an_empty_database_migrate_it_once(
    empty_postgres_url: str,
) -> None:
    # Without the advisory lock, the losers' CREATE TABLE statements would fail
    # (or deadlock) against the winner's.
    count = 6
    barrier = threading.Barrier(count)
    outcomes: list[object] = []

    def open_store() -> None:
        barrier.wait()
        try:
            store = PostgresStore(empty_postgres_url)
        except Exception as exc:
            outcomes.append(exc)
        else:
            outcomes.append(store.schema_version())
            store.close()

    threads = [threading.Thread(target=open_store) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    newest = migrations_for("postgres")[-1].version
    assert outcomes == [newest] * count


def test_reopening_applies_no_migration_twice(empty_postgres_url: str) -> None:
    first = PostgresStore(empty_postgres_url)
    version = first.schema_version()
    first.close()
    second = PostgresStore(empty_postgres_url)
    assert second.schema_version() == version >= 1
    second.close()


def test_the_tables_and_columns_match_the_sqlite_schema(
    postgres_url: str, raw: Any, tmp_path: Path
) -> None:
    rows = raw.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    ).fetchall()
    postgres: dict[str, list[str]] = {}
    for row in rows:
        postgres.setdefault(row["table_name"], []).append(row["column_name"])

    path = tmp_path / "parity.db"
    SQLiteStore(str(path)).close()
    with sqlite3.connect(path) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        sqlite = {t: [c[1] for c in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    assert postgres == sqlite
