"""The embedded store: one SQLite file in WAL mode.

``store``
    ``SQLiteStore``: the protocol's methods, one transaction each.
``round_statements``
    the decision round's reads and guarded writes, and the statements other
    methods share (deliver, finish, claim).
``batched_round``
    the round's write when every assumption is expected to hold, each
    statement checking its own row count.
``queries.sql``
    every statement, by name (``cadenza.store.queries`` parses the file).
"""

from __future__ import annotations

from cadenza.store.sqlite.store import SQLiteStore, path_from_url

__all__ = ["SQLiteStore", "path_from_url"]
