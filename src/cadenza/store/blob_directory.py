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

Nothing deletes a blob as its last reference goes (see ``cadenza.store.blobs``);
``cadenza db sweep-blobs`` does, in two steps (``cadenza.store.blob_sweep``): a
blob nothing refers to is first *set aside*, moved to ``<dir>/swept/``, and only
deleted by a later sweep. Readers look there when a blob is not in its place,
so a row that came to refer to it meanwhile still reads it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from cadenza.model.errors import StoreUnavailable

#: The subdirectory (or key prefix, in a bucket) of blobs a sweep set aside.
SET_ASIDE = "swept"
#: What the name of a file being written starts with.
INCOMING = ".incoming-"

_HEX = frozenset("0123456789abcdef")


def is_digest(name: str) -> bool:
    """Whether ``name`` is a blob's digest (64 lowercase hex digits)."""
    return len(name) == 64 and all(c in _HEX for c in name)


@dataclass(frozen=True)
class KeptBlob:
    """A blob (or a leftover of one) as a sweep lists it."""

    #: The digest; for an unfinished write, its file name.
    name: str
    size: int
    #: When it was written, or set aside (seconds since the epoch).
    modified: float
    #: ``kept``: in its place; ``set_aside``: moved aside by a sweep;
    #: ``unfinished``: a write that never completed (its writer died).
    state: Literal["kept", "set_aside", "unfinished"]


class HistoryRows(Protocol):
    """The part of a blob table that reads the database, kept by the directory."""

    def history_payloads(self, execution_id: str) -> tuple[int, list[str]]: ...


class DirectoryBlobs:
    """A blob table (``cadenza.store.blobs.BlobTable``) whose blobs are files."""

    def __init__(self, root: Path, rows: HistoryRows) -> None:
        self.root = root
        self.rows = rows

    def _path(self, digest: str) -> Path:
        if not is_digest(digest):
            raise StoreUnavailable(f"not a blob digest: {digest!r}")
        return self.root / digest[:2] / digest

    def _places(self, digest: str) -> tuple[Path, Path, Path]:
        """Where a reader looks for a blob, in order: its place, where a sweep sets
        it aside, and its place again (a sweep may have put it back meanwhile)."""
        path = self._path(digest)
        return path, set_aside_path(self.root, digest), path

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
            for path in self._places(digest):
                try:
                    found[digest] = path.read_bytes()
                    break
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    raise StoreUnavailable(
                        f"cannot read a blob in the directory {self.root}: {exc}",
                        path=str(self.root),
                    ) from exc
        return found

    def present(self, digest: str) -> bool:
        # Only in its place: a blob set aside is written again by ``put``.
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
            for path in self._places(digest):
                try:
                    total += path.stat().st_size
                    break
                except FileNotFoundError:
                    continue
        return total


def set_aside_path(root: Path, digest: str) -> Path:
    """Where a sweep sets the blob ``digest`` aside: ``<root>/swept/<ab>/<digest>``."""
    return root / SET_ASIDE / digest[:2] / digest


class DirectorySweep:
    """What ``cadenza.store.blob_sweep`` does to a directory of blobs."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self) -> str:
        """The directory, for people."""
        return str(self.root)

    def listing(self) -> Iterator[KeptBlob]:
        """Every blob in the directory, set aside or not, and unfinished writes."""
        try:
            shards = sorted(os.scandir(self.root), key=lambda e: e.name)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot list the blob directory {self.root}: {exc}", path=str(self.root)
            ) from exc
        for shard in shards:
            if shard.name == SET_ASIDE and shard.is_dir(follow_symlinks=False):
                for inner in sorted(os.scandir(shard.path), key=lambda e: e.name):
                    yield from _files(inner, "set_aside")
            elif len(shard.name) == 2 and all(c in _HEX for c in shard.name):
                yield from _files(shard, "kept")

    def set_aside(self, digest: str, now: float) -> None:
        """Move the blob ``digest`` aside, stamped ``now`` (when a later sweep may
        delete it)."""
        source = self.root / digest[:2] / digest
        target = set_aside_path(self.root, digest)
        try:
            # Stamped first: a sweep that stops half way leaves a fresh file,
            # never an old one set aside.
            os.utime(source, (now, now))
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot set a blob aside in {self.root}: {exc}", path=str(self.root)
            ) from exc

    def restore(self, digest: str) -> None:
        """Put the blob ``digest`` back in its place (a row refers to it again)."""
        target = self.root / digest[:2] / digest
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # The same digest is the same bytes: replacing a copy written again
            # meanwhile changes nothing a reader sees.
            os.replace(set_aside_path(self.root, digest), target)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot put a blob back in {self.root}: {exc}", path=str(self.root)
            ) from exc

    def delete(self, blob: KeptBlob) -> None:
        """Delete a blob set aside, or an unfinished write."""
        if blob.state == "set_aside":
            path = set_aside_path(self.root, blob.name)
        elif blob.state == "unfinished":
            path = self.root / blob.name
        else:
            raise StoreUnavailable(f"a sweep deletes only blobs set aside, not {blob.name}")
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot delete a blob in {self.root}: {exc}", path=str(self.root)
            ) from exc


def _files(shard: os.DirEntry[str], state: Literal["kept", "set_aside"]) -> Iterator[KeptBlob]:
    """The blobs (and unfinished writes) in one two-hex-digit subdirectory."""
    if not shard.is_dir(follow_symlinks=False):
        return
    for entry in sorted(os.scandir(shard.path), key=lambda e: e.name):
        try:
            found = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # deleted or moved since it was listed
        if is_digest(entry.name) and entry.name.startswith(shard.name):
            yield KeptBlob(entry.name, found.st_size, found.st_mtime, state)
        elif entry.name.startswith(INCOMING) and state == "kept":
            name = f"{shard.name}/{entry.name}"
            yield KeptBlob(name, found.st_size, found.st_mtime, "unfinished")
