"""What a SQLite error means for a store: a fault to fix, a busy file, or other.

A full disk, a read-only file or mount, and a file that is not (all of) a
Cadenza database are faults only a person can fix (``StoreFault``); a busy
or unopenable file may pass (``StoreUnavailable``).
"""

from __future__ import annotations

import os
import sqlite3

from cadenza.model.errors import (
    SchemaMismatch,
    StoreDamaged,
    StoreError,
    StoreFull,
    StoreReadOnly,
    StoreUnavailable,
)


def newer_schema(path: str, version: int, newest: int) -> SchemaMismatch:
    """The error for a store written by a newer Cadenza than this one."""
    return SchemaMismatch(
        f"the store {path!r} has schema version {version}; this Cadenza "
        f"understands up to {newest}. Upgrade Cadenza to use it.",
        store_version=version,
        known_version=newest,
    )


def translated(path: str, exc: sqlite3.DatabaseError) -> StoreError:
    """The Cadenza error for a SQLite error: a fault to fix, a busy file, or other."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith("SQLITE_READONLY") or "readonly database" in text:
        return StoreReadOnly(f"the store {path!r} cannot be written: {text}", path=path)
    # A full disk often reaches SQLite as an I/O error writing the WAL, not as
    # SQLITE_FULL: the free space tells them apart.
    if (
        name == "SQLITE_FULL"
        or "disk is full" in text
        or (name.startswith("SQLITE_IOERR") and _no_room_beside(path))
    ):
        return StoreFull(f"no room left for the store {path!r}: {text}", path=path)
    missing = text.startswith(("no such table", "no such column"))
    if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or missing:
        return StoreDamaged(
            f"{path!r} is not a Cadenza store, or not all of one: {text}", path=path
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text or "busy" in text:
        return StoreUnavailable(f"SQLite file {path!r} is busy: {text}", path=path)
    if name.startswith("SQLITE_CANTOPEN"):
        return StoreUnavailable(f"cannot open SQLite file {path!r}: {text}", path=path)
    return StoreError(f"SQLite error on {path!r}: {text}", path=path)


def _no_room_beside(path: str) -> bool:
    """Whether the file system holding ``path`` has (almost) no space left."""
    try:
        stats = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < _FULL_BELOW


#: Less free space than this, beside an I/O error, is a full disk.
_FULL_BELOW = 64 * 1024
