"""SQLite's named statements (``queries.sql``) and how one runs: a list
parameter becomes an IN list of the right length."""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from cadenza.store.queries import load_queries

#: Every statement of the backend, by name.
QUERIES: dict[str, str] = load_queries("cadenza.store.sqlite")


class SqlList(tuple[object, ...]):
    """A list parameter: ``(SELECT value FROM json_each(:name))`` in a statement
    becomes ``(:name_0, :name_1, ...)`` before it runs (an IN list is several
    times faster than the JSON table-valued function)."""


def sql_list(values: Sequence[object]) -> SqlList:
    """``values`` as a list parameter of a named statement."""
    return SqlList(values)


_LIST_PARAMETER = re.compile(r"\(SELECT value FROM json_each\(:(\w+)\)\)")


@functools.lru_cache(maxsize=512)
def _expanded(name: str, sizes: tuple[tuple[str, int], ...]) -> str:
    counts = dict(sizes)

    def in_list(match: re.Match[str]) -> str:
        key = match.group(1)
        return "(" + ", ".join(f":{key}_{i}" for i in range(counts.get(key, 0))) + ")"

    return _LIST_PARAMETER.sub(in_list, QUERIES[name])


def execute(
    conn: sqlite3.Connection, name: str, params: Mapping[str, Any] | None = None
) -> sqlite3.Cursor:
    """Run the statement ``name`` with ``params``; ``SqlList`` values are spread
    into an IN list, and the name itself is bound to 1 (or stays None) so that
    ``:name IS NULL`` can tell "no list" from a list."""
    params = dict(params or {})
    sizes = []
    for key, value in list(params.items()):
        if isinstance(value, SqlList):
            sizes.append((key, len(value)))
            for i, item in enumerate(value):
                params[f"{key}_{i}"] = item
            params[key] = 1
    return conn.execute(_expanded(name, tuple(sorted(sizes))), params)
