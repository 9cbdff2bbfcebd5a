"""The row ``leased_task_values`` builds is inserted by each backend's
``insert_leased_task`` and read back by name (``LEASED_TASK_COLUMNS``): the
statements must name the same columns in the same order."""

from __future__ import annotations

import re

import pytest

from cadenza.store.quiet_rounds import LEASED_TASK_COLUMNS
from cadenza.store.sqlite.statements import QUERIES as SQLITE_QUERIES


def named_columns(statement: str) -> tuple[str, ...]:
    found = re.search(r"INSERT\s+INTO\s+tasks\s*\(([^)]*)\)", statement, re.I)
    assert found is not None, statement
    return tuple(column.strip() for column in found.group(1).split(","))


def test_sqlite_inserts_the_leased_columns_in_order() -> None:
    assert named_columns(SQLITE_QUERIES["insert_leased_task"]) == LEASED_TASK_COLUMNS


def test_postgres_inserts_the_leased_columns_in_order() -> None:
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[test]'")
    from cadenza.store.postgres.queries import QUERIES as POSTGRES_QUERIES

    assert named_columns(POSTGRES_QUERIES["insert_leased_task"]) == LEASED_TASK_COLUMNS
