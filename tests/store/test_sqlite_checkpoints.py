"""The SQLite store checkpoints its WAL when a serve loop is idle, once per
quiet spell: the pages committed so far are copied into the database file."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from cadenza.store.sqlite.store import SQLiteStore


def _write(store: SQLiteStore, key: str) -> None:
    """One committed transaction adding ``key`` to a probe table."""
    with store._write() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS probe (key TEXT)")
        conn.execute("INSERT INTO probe (key) VALUES (?)", (key,))


def _keys_in_database_file_alone(path: Path, tmp_path: Path) -> set[str]:
    """The probe keys the database file holds without its WAL: what was
    checkpointed into it."""
    copy = tmp_path / "file-only.db"
    shutil.copyfile(path, copy)
    conn = sqlite3.connect(copy)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "probe" not in tables:
            return set()
        return {str(row[0]) for row in conn.execute("SELECT key FROM probe")}
    finally:
        conn.close()


def test_an_idle_store_checkpoints_what_it_committed_once(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = SQLiteStore(str(path))
    checkpoints: list[str] = []
    store._conn.set_trace_callback(
        lambda sql: checkpoints.append(sql) if "wal_checkpoint" in sql else None
    )
    try:
        _write(store, "lonely")
        # Committed, but in the WAL only.
        assert _keys_in_database_file_alone(path, tmp_path) == set()
        store.checkpoint_when_idle()
        assert _keys_in_database_file_alone(path, tmp_path) == {"lonely"}
        assert len(checkpoints) == 1
        # Nothing committed since: nothing to copy, no checkpoint.
        store.checkpoint_when_idle()
        assert len(checkpoints) == 1
        _write(store, "again")
        store.checkpoint_when_idle()
        assert len(checkpoints) == 2
        assert _keys_in_database_file_alone(path, tmp_path) == {"lonely", "again"}
    finally:
        store._conn.set_trace_callback(None)
        store.close()
