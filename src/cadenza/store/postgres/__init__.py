"""The PostgreSQL backend (``postgresql://`` URLs); needs ``cadenza[postgres]``.

Modules, each one concern:

``store``
    ``PostgresStore``: the protocol's methods, one transaction each.
``round_statements``
    the decision round's reads (marking executions with advisory locks)
    and guarded writes, statement by statement.
``batched_round``
    the round's write phase sent as one pipeline.
``connections``
    error translation, the connection pool, the LISTEN connection.
``schema``
    migrations under an advisory lock.
``queries`` and ``queries.sql``
    every statement, by name (``cadenza.store.queries`` parses the file).
"""

from __future__ import annotations

from cadenza.store.postgres.store import SCHEMES, PostgresStore

__all__ = ["SCHEMES", "PostgresStore"]
