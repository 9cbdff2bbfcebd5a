"""Store-level rules that hold on every backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cadenza.model.errors import ExecutionNotFound, SchemaMismatch
from cadenza.store.protocol import Store
from cadenza.store.sqlite import SQLiteStore


def test_unknown_execution_is_a_clear_error(store: Store) -> None:
    with pytest.raises(ExecutionNotFound) as caught:
        store.read_history("nope")
    assert caught.value.code == "execution.not_found"
    with pytest.raises(ExecutionNotFound):
        store.deliver("nope", [], 0.0)


def test_a_schema_newer_than_this_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    SQLiteStore(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE cadenza_meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(SchemaMismatch) as caught:
        SQLiteStore(str(path))
    assert caught.value.code == "store.schema_mismatch"
    assert "999" in caught.value.message


def test_reopening_applies_no_migration_twice(tmp_path: Path) -> None:
    path = str(tmp_path / "again.db")
    first = SQLiteStore(path)
    version = first.schema_version()
    first.close()
    second = SQLiteStore(path)
    assert second.schema_version() == version >= 1
    second.close()
