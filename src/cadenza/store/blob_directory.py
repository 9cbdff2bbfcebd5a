"""Blobs kept as files in a directory instead of the store's blob table.

An option for a store whose database should stay small (``blob_dir=`` when
opening a store, or ``CADENZA_BLOB_DIR``). Each blob is one file named by its
digest, ``<dir>/<first two hex digits>/<digest>``, written whole to a
temporary name, flushed to disk and renamed, so a file either is complete or
is not there. It is written before the row that refers to it commits: a
reference never points at a missing file, and a rolled-back transaction
leaves at most a file nothing refers to.

Every process that shares the store must see the same directory (a shared
mount for PostgreSQL stores on several machines).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from cadenza.model.errors import StoreUnavailable


class HistoryRows(Protocol):
    """The part of a blob table that reads the database, kept by the directory."""

    def history_payloads(self, execution_id: str) -> tuple[int, list[str]]: ...


class DirectoryBlobs:
    """A blob table (``cadenza.store.blobs.BlobTable``) whose blobs are files."""

    def __init__(self, root: Path, rows: HistoryRows) -> None:
        self.root = root
        self.rows = rows

    def _path(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise StoreUnavailable(f"not a blob digest: {digest!r}")
        return self.root / digest[:2] / digest

    def put(self, digest: str, data: bytes, now: float) -> None:
        target = self._path(digest)
        if target.exists():
            return
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot keep a blob in the directory {self.root}: {exc}", path=str(self.root)
            ) from exc

    def get(self, digests: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for digest in set(digests):
            try:
                found[digest] = self._path(digest).read_bytes()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot read a blob in the directory {self.root}: {exc}", path=str(self.root)
                ) from exc
        return found

    def present(self, digest: str) -> bool:
        return self._path(digest).exists()

    def history_payloads(self, execution_id: str) -> tuple[int, list[str]]:
        return self.rows.history_payloads(execution_id)

    def execution_bytes(self, execution_id: str) -> int | None:
        # The database counts the blobs of its own table only: these are
        # counted from the history's references and the files' sizes.
        return None

    def sizes(self, digests: Sequence[str]) -> int:
        total = 0
        for digest in set(digests):
            try:
                total += self._path(digest).stat().st_size
            except FileNotFoundError:
                continue
        return total
