"""The embedded store: one SQLite file in WAL mode (see ``store.py``)."""

from __future__ import annotations

from cadenza.store.sqlite.store import SQLiteStore, path_from_url

__all__ = ["SQLiteStore", "path_from_url"]
