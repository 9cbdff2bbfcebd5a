"""Durable state behind one protocol (``Store``); one module per backend."""

from __future__ import annotations

import os

from cadenza.model.errors import InputError, StoreError
from cadenza.store.protocol import Store, StoreCapabilities

__all__ = ["DEFAULT_STORE_URL", "Store", "StoreCapabilities", "open_store"]

#: The embedded default: a SQLite file in the working directory.
DEFAULT_STORE_URL = "sqlite:///cadenza.db"


def open_store(url: str | None = None) -> Store:
    """Open the store at ``url`` (default: ``$CADENZA_STORE`` or ``DEFAULT_STORE_URL``).

    ``sqlite:///FILE`` opens the embedded store; ``postgresql://`` (or
    ``postgres://``) URLs open the PostgreSQL store, which needs the
    ``postgres`` extra.
    """
    url = url or os.environ.get("CADENZA_STORE") or DEFAULT_STORE_URL
    if url.startswith("sqlite:"):
        from cadenza.store.sqlite import SQLiteStore

        return SQLiteStore.from_url(url)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from cadenza.store.postgres import PostgresStore
        except ImportError as exc:
            raise StoreError(
                f"the PostgreSQL store needs psycopg: pip install 'cadenza[postgres]' ({exc})"
            ) from exc
        return PostgresStore.from_url(url)
    scheme = url.split(":", 1)[0]
    raise InputError(
        f"unsupported store URL scheme {scheme!r} in {url!r}; "
        "use sqlite:///FILE or postgresql://USER@HOST:PORT/DBNAME",
        url=url,
    )
