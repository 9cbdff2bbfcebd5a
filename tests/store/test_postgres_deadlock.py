"""A deadlock PostgreSQL breaks is a transient failure: the loops try again."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from cadenza.model.errors import StoreUnavailable


def test_a_broken_deadlock_is_store_unavailable(postgres_url: str) -> None:
    import psycopg

    from cadenza.store.postgres.connections import translate_errors

    with psycopg.connect(postgres_url, autocommit=True) as setup:
        setup.execute("CREATE TABLE locks (id int PRIMARY KEY)")
        setup.execute("INSERT INTO locks VALUES (1), (2)")
    first, second = (psycopg.connect(postgres_url) for _ in range(2))
    both_hold = threading.Barrier(2, timeout=10)
    raised: list[BaseException] = []

    def take(conn: psycopg.Connection, mine: int, theirs: int) -> Callable[[], None]:
        def run() -> None:
            try:
                with translate_errors("test"):
                    conn.execute("SELECT id FROM locks WHERE id = %s FOR UPDATE", (mine,))
                    both_hold.wait()
                    conn.execute("SELECT id FROM locks WHERE id = %s FOR UPDATE", (theirs,))
            except BaseException as exc:
                raised.append(exc)
            finally:
                conn.rollback()

        return run

    threads = [
        threading.Thread(target=take(first, 1, 2)),
        threading.Thread(target=take(second, 2, 1)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    first.close()
    second.close()
    assert not any(t.is_alive() for t in threads)
    # PostgreSQL breaks the cycle by failing one of the two; that one is transient.
    assert len(raised) == 1
    with pytest.raises(StoreUnavailable, match="trying again is safe"):
        raise raised[0]
