"""The PostgreSQL backend (``postgresql://`` URLs); needs ``cadenza[postgres]``.

Modules, each one concern:

``store``
    ``PostgresStore``: the protocol's methods, one transaction each.
``decisions``
    ``decide``'s locking, loading and guarded saving.
``connections``
    error translation, the connection pool, the LISTEN connection.
``schema``
    migrations under an advisory lock.
``queries`` and ``queries.sql``
    every statement, by name.
"""

from __future__ import annotations

from cadenza.store.postgres.store import SCHEMES, PostgresStore

__all__ = ["SCHEMES", "PostgresStore"]
