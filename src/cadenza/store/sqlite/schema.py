"""The SQLite store's schema: the numbered migration files applied in order, and
refusing a file written by a newer Cadenza."""

from __future__ import annotations

import sqlite3

from cadenza.store.migrations import migrations_for
from cadenza.store.sqlite.faults import newer_schema
from cadenza.store.sqlite.statements import execute


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the database on ``conn`` (inside a write transaction) to the newest
    schema; ``SchemaMismatch`` if it is newer than this Cadenza knows."""
    migrations = migrations_for("sqlite")
    newest = migrations[-1].version
    execute(conn, "create_meta")
    row = execute(conn, "schema_version").fetchone()
    current = int(row[0]) if row else 0
    if current > newest:
        raise newer_schema(path, current, newest)
    for migration in migrations:
        if migration.version > current:
            for statement in split_sql(migration.sql):
                conn.execute(statement)
    if current < newest:
        execute(conn, "set_schema_version", {"version": str(newest)})


def split_sql(script: str) -> list[str]:
    """Statements of a migration file (no semicolons inside statements there,
    except between a ``CREATE TRIGGER``'s ``BEGIN`` and its closing ``END``)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    statements: list[str] = []
    for piece in (s.strip() for s in "\n".join(lines).split(";")):
        last = statements[-1].upper() if statements else ""
        if last.startswith("CREATE TRIGGER") and not last.endswith("END"):
            statements[-1] += ";\n" + piece
            continue
        if piece:
            statements.append(piece)
    return statements
