"""PostgreSQL's own count of committed transactions, for the W7 comparison.

``pg_stat_database.xact_commit`` counts every committed transaction of a
database, reads included, whoever made them. A backend reports its counts
when it exits (or when idle, at most once a second), so callers close their
connections and wait a moment before reading the "after" value. The reading
session's own transaction is counted too: one extra per reading, noted as
overhead in bench/README.md.

Used by the Cadenza and the DBOS workload scripts: it must run on plain
psycopg (both venvs have it) and nothing else.
"""

from __future__ import annotations

import time

#: How long to let exited backends flush their statistics before reading.
SETTLE_S = 0.3


def xact_commit(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def settled_xact_commit(url: str) -> int:
    time.sleep(SETTLE_S)
    return xact_commit(url)
