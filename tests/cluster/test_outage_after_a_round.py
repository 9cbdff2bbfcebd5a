"""The serve loop rides out an outage that begins right after a round.

A regression test: the loop once called ``store.next_wakeup()`` outside its
outage handling, so when PostgreSQL dropped the connections (a restart, a
failover, ``pg_terminate_backend``) just after a round succeeded,
``StoreUnavailable`` escaped ``serve()`` and ``cadenza worker`` exited. The
test makes that timing deterministic on a real database by terminating the
store's connections just before ``next_wakeup()`` runs.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_serve_rides_out_an_outage_that_begins_right_after_a_round(postgres_url: str) -> None:
    """``serve()`` backs off and goes on when the connections drop between a round
    and its ``next_wakeup()`` call, as it does when they drop during the round."""
    import psycopg

    from cadenza.engine.engine import Engine
    from cadenza.store.postgres import PostgresStore

    admin = psycopg.connect(postgres_url, autocommit=True)

    class DropsConnectionsBeforeNextWakeup(PostgresStore):
        """The real store; its first ``next_wakeup()`` ends every other connection
        to the database first, as a restart of the server would."""

        calls = 0

        def next_wakeup(self, *args: Any, **kwargs: Any) -> float | None:
            self.calls += 1
            if self.calls == 1:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            return super().next_wakeup(*args, **kwargs)

    store = DropsConnectionsBeforeNextWakeup(postgres_url)
    engine = Engine(store, lease=3.0)
    try:
        # A healthy loop backs off, runs another round and reaches next_wakeup()
        # again; then ``until`` ends it.
        engine.serve(threading.Event(), until=lambda: store.calls >= 2)
    finally:
        store.close()
        admin.close()
    assert store.calls >= 2
