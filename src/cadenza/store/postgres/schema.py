"""Bringing a database's schema up to date, safely among many processes.

Every store that opens a database runs ``migrate``. It takes a
transaction-scoped advisory lock first, so when several processes start at
once against an empty database one of them migrates and the others wait,
then find nothing left to do. PostgreSQL's DDL is transactional: a migration
that fails halfway leaves no trace, and the lock is released with it.
"""

from __future__ import annotations

from cadenza.model.errors import SchemaMismatch
from cadenza.store.migrations import migrations_for
from cadenza.store.postgres.connections import Connection
from cadenza.store.postgres.queries import QUERIES

#: The advisory lock key of migrations: "cadenza" in ASCII, a fixed number
#: other tools sharing the database are unlikely to choose.
MIGRATION_LOCK_KEY = 0x636164656E7A61


def read_schema_version(conn: Connection) -> int:
    """The schema version recorded in ``cadenza_meta`` (0 when none is)."""
    row = conn.execute(QUERIES["schema_version"]).fetchone()
    return int(row["value"]) if row else 0


def migrate(conn: Connection, where: str) -> None:
    """Apply the migrations the database lacks; call inside a transaction.

    ``SchemaMismatch`` when the database is newer than this version knows:
    an old engine must not write to a schema it does not understand.
    """
    migrations = migrations_for("postgres")
    newest = migrations[-1].version
    conn.execute(QUERIES["lock_migrations"], (MIGRATION_LOCK_KEY,))
    conn.execute(QUERIES["create_meta"])
    current = read_schema_version(conn)
    if current > newest:
        raise SchemaMismatch(
            f"the store {where} has schema version {current}; this Cadenza "
            f"understands up to {newest}. Upgrade Cadenza to use it.",
            store_version=current,
            known_version=newest,
        )
    for migration in migrations:
        if migration.version > current:
            # No parameters: psycopg sends the file as one simple query, so a
            # migration may hold many statements (and functions with ";" inside).
            conn.execute(migration.sql)
    if current < newest:
        conn.execute(QUERIES["set_schema_version"], (str(newest),))
