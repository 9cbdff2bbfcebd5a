"""StackStorm's datastore (``st2kv``) kept in Cadenza's own store.

An entry is a text value under a key in a scope:

* ``system``: one value per key, for every execution;
* ``user``: one value per key *and user name*, as StackStorm's ``user`` scope
  keeps a key apart for each user (an execution reads the entries of the user
  it runs as).

An encrypted entry keeps the text ``SecretKey.encrypt`` made of the value
(``"fernet:" + token``), never the clear text; the key that encrypts it lives
in a key file outside the store (:mod:`cadenza.encryption`).

The statements here run on a backend's connection inside the store's own
transaction plumbing (``SQLiteStore`` and ``PostgresStore`` call them from
their ``kv_*`` methods); each backend has its parameter style and one
statement written twice (a key prefix is tested differently).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from cadenza.model.errors import InputError

T = TypeVar("T")

#: The scope every execution reads.
SYSTEM_SCOPE = "system"
#: The scope whose keys belong to one user each.
USER_SCOPE = "user"
#: The scopes an entry may be in.
SCOPES = (SYSTEM_SCOPE, USER_SCOPE)

#: The longest key name accepted (StackStorm keeps names short too).
MAX_KEY_LENGTH = 512


@dataclass(frozen=True)
class DatastoreEntry:
    """One datastore value.

    ``user`` names the owner of a ``user`` entry and is ``""`` for a
    ``system`` one; ``value`` is the encrypted text when ``encrypted``.
    """

    scope: str
    key: str
    value: str
    encrypted: bool = False
    user: str = ""
    updated_at: float = 0.0

    @property
    def reference(self) -> str:
        """How ``st2kv`` names it: ``system.<key>``, or ``<key>`` for a user entry."""
        return f"{SYSTEM_SCOPE}.{self.key}" if self.scope == SYSTEM_SCOPE else self.key


def checked_place(scope: str, key: str, user: str) -> tuple[str, str, str]:
    """``(scope, owner, key)`` as stored: ``InputError`` naming what is wrong."""
    if scope not in SCOPES:
        raise InputError(
            f"the datastore scope must be {' or '.join(SCOPES)}, not {scope!r}", scope=scope
        )
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InputError(
            f"a datastore key must be a text of 1 to {MAX_KEY_LENGTH} characters, not {key!r}",
            key=str(key),
        )
    if scope == USER_SCOPE and not user:
        raise InputError("a user-scope datastore key needs the user it belongs to", key=key)
    return scope, (user if scope == USER_SCOPE else ""), key


class Cursor(Protocol):
    """What the statements read of a DB-API cursor."""

    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Sequence[Any]: ...


class Connection(Protocol):
    """A connection that runs one statement with named parameters."""

    def execute(self, query: Any, params: Any = ...) -> Any: ...


_COLUMNS = "scope, owner, name, value, encrypted, updated_at"

_SQLITE = {
    "set": f"""
        INSERT INTO datastore ({_COLUMNS})
        VALUES (:scope, :owner, :name, :value, :encrypted, :updated_at)
        ON CONFLICT (scope, owner, name) DO UPDATE SET
            value = excluded.value,
            encrypted = excluded.encrypted,
            updated_at = excluded.updated_at
    """,
    "get": f"SELECT {_COLUMNS} FROM datastore "
    "WHERE scope = :scope AND owner = :owner AND name = :name",
    "list": f"""
        SELECT {_COLUMNS} FROM datastore
        WHERE (:scope IS NULL OR scope = :scope)
          AND (:owner IS NULL OR owner = :owner)
          AND substr(name, 1, length(:prefix)) = :prefix
        ORDER BY scope, owner, name
        LIMIT :limit
    """,
    "delete": "DELETE FROM datastore WHERE scope = :scope AND owner = :owner AND name = :name",
}

_POSTGRES = {
    "set": f"""
        INSERT INTO datastore ({_COLUMNS})
        VALUES (%(scope)s, %(owner)s, %(name)s, %(value)s, %(encrypted)s, %(updated_at)s)
        ON CONFLICT (scope, owner, name) DO UPDATE SET
            value = excluded.value,
            encrypted = excluded.encrypted,
            updated_at = excluded.updated_at
    """,
    "get": f"SELECT {_COLUMNS} FROM datastore "
    "WHERE scope = %(scope)s AND owner = %(owner)s AND name = %(name)s",
    "list": f"""
        SELECT {_COLUMNS} FROM datastore
        WHERE (%(scope)s::text IS NULL OR scope = %(scope)s::text)
          AND (%(owner)s::text IS NULL OR owner = %(owner)s::text)
          AND starts_with(name, %(prefix)s::text)
        ORDER BY scope, owner, name
        LIMIT %(limit)s
    """,
    "delete": "DELETE FROM datastore "
    "WHERE scope = %(scope)s AND owner = %(owner)s AND name = %(name)s",
}

#: The statements of each backend, by name.
STATEMENTS: Mapping[str, Mapping[str, str]] = {"sqlite": _SQLITE, "postgres": _POSTGRES}


class DatastoreTable:
    """The ``datastore`` table on one backend's connections."""

    def __init__(self, backend: str) -> None:
        self.sql = STATEMENTS[backend]
        self.backend = backend

    def set(self, conn: Connection, entry: DatastoreEntry) -> None:
        """Insert or replace ``entry``."""
        scope, owner, name = checked_place(entry.scope, entry.key, entry.user)
        encrypted: bool | int = (
            entry.encrypted if self.backend == "postgres" else int(entry.encrypted)
        )
        conn.execute(
            self.sql["set"],
            {
                "scope": scope,
                "owner": owner,
                "name": name,
                "value": entry.value,
                "encrypted": encrypted,
                "updated_at": entry.updated_at,
            },
        )

    def get(self, conn: Connection, scope: str, key: str, user: str = "") -> DatastoreEntry | None:
        """The entry at ``(scope, key)`` (of ``user`` in the user scope), or None."""
        scope, owner, name = checked_place(scope, key, user)
        row = conn.execute(self.sql["get"], {"scope": scope, "owner": owner, "name": name})
        found = row.fetchone()
        return None if found is None else entry_from_row(found)

    def list(
        self,
        conn: Connection,
        prefix: str = "",
        *,
        scope: str | None = None,
        user: str | None = None,
        limit: int = 10_000,
    ) -> list[DatastoreEntry]:
        """Entries whose key starts with ``prefix``, by scope, user and key; only
        of ``scope`` and of ``user`` (its user entries) when given, at most ``limit``."""
        if scope is not None and scope not in SCOPES:
            raise InputError(
                f"the datastore scope must be {' or '.join(SCOPES)}, not {scope!r}", scope=scope
            )
        # The system scope has no owners; a user filter alone reads that user's entries.
        owner = "" if scope == SYSTEM_SCOPE else user
        params = {"scope": scope, "owner": owner, "prefix": prefix, "limit": limit}
        return [entry_from_row(r) for r in conn.execute(self.sql["list"], params).fetchall()]

    def delete(self, conn: Connection, scope: str, key: str, user: str = "") -> bool:
        """Delete the entry; whether there was one."""
        scope, owner, name = checked_place(scope, key, user)
        cur = conn.execute(self.sql["delete"], {"scope": scope, "owner": owner, "name": name})
        return bool(cur.rowcount)


def entry_from_row(row: Any) -> DatastoreEntry:
    """A row of ``datastore`` (SQLite ``Row`` or psycopg dict) as an entry."""
    return DatastoreEntry(
        scope=str(row["scope"]),
        key=str(row["name"]),
        value=str(row["value"]),
        encrypted=bool(row["encrypted"]),
        user=str(row["owner"]),
        updated_at=float(row["updated_at"]),
    )


class KeyValueMethods:
    """The ``KeyValues`` methods of a store, over its own ``_read`` and ``_write``
    and the ``_datastore`` table of its backend."""

    _datastore: DatastoreTable

    def _read(self, fn: Callable[[Any], T]) -> T:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def kv_set(self, entry: DatastoreEntry) -> None:
        """Create or replace the entry."""
        with self._write() as conn:
            self._datastore.set(conn, entry)

    def kv_get(self, scope: str, key: str, user: str = "") -> DatastoreEntry | None:
        """The entry, or None."""
        return self._read(lambda c: self._datastore.get(c, scope, key, user))

    def kv_list(
        self, prefix: str = "", *, scope: str | None = None, user: str | None = None
    ) -> list[DatastoreEntry]:
        """The entries whose key starts with ``prefix``, by scope, key and user."""
        return self._read(lambda c: self._datastore.list(c, prefix, scope=scope, user=user))

    def kv_delete(self, scope: str, key: str, user: str = "") -> bool:
        """Delete the entry; whether there was one."""
        with self._write() as conn:
            return self._datastore.delete(conn, scope, key, user)
