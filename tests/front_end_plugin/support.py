"""Helpers of the plug-in's tests: reading the store's tables, waiting with a deadline."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

#: ``cadenza(*args, timeout=..., env=...)``: run the ``cadenza`` command (see conftest.py).
CadenzaCommand = Callable[..., "subprocess.CompletedProcess[str]"]


def count_rows(store_url: str, table: str) -> int:
    """Rows in one of the store's tables (0 for a SQLite file that was never created)."""
    if store_url.startswith("sqlite:"):
        path = Path(store_url.removeprefix("sqlite:///"))
        if not path.exists():
            return 0
        with sqlite3.connect(path) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    import psycopg

    with psycopg.connect(store_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


def snapshot_seq(store_url: str, execution_id: str) -> int:
    """The history position of the execution's saved interpreter state (0: none)."""
    query = "SELECT snapshot_seq FROM executions WHERE id = {}"
    if store_url.startswith("sqlite:"):
        path = Path(store_url.removeprefix("sqlite:///"))
        with sqlite3.connect(path) as conn:
            return int(conn.execute(query.format("?"), (execution_id,)).fetchone()[0])
    import psycopg

    with psycopg.connect(store_url) as conn:
        row = conn.execute(query.format("%s"), (execution_id,)).fetchone()
        assert row is not None
        return int(row[0])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
