"""The blob table: large values kept once, addressed by the SHA-256 of their text.

A store opens a *payload scope* around each use of its connection
(``payload_scope``). Inside it, the codec (``cadenza.store.codec``) keeps
values above the inline threshold here and reads them back, on the same
connection and in the same transaction as the row that refers to them: a
reference is never saved without its blob, and a rolled-back round leaves
neither. A blob is written once; a second write of the same text changes
nothing.

Blobs are deleted when nothing refers to them any more: every blob counts the
stored rows that refer to it (triggers of migration 0008 keep the count as
rows are written, rewritten and deleted), and one whose count is zero at
commit is deleted in that transaction. A writer about to refer to a blob
takes its row lock first (``put``, ``present``), so on PostgreSQL a
transaction dropping the last reference at the same time either commits
first, and the writer writes the blob again, or waits for the writer and
finds the count above zero.

Blobs can be kept outside the database instead: as files in a directory
(``cadenza.store.blob_directory``) or as objects in an S3-compatible bucket
(``cadenza.store.blob_s3``), chosen by ``store_options``. Those are not
counted, so nothing deletes them as their last reference goes: the count lives
in this table's rows, and deleting a file or an object cannot be part of the
transaction that drops the last reference. A sweep deletes them instead
(``cadenza.store.blob_sweep``, ``cadenza db sweep-blobs``).

The scope also carries what else the codec needs from its store: the
payload limits and the key that encrypts secrets at rest.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cadenza.encryption import SecretKey, configured_key
from cadenza.model.errors import HistoryCorrupt
from cadenza.store.payloads import ClaimedTotals, PayloadLimits
from cadenza.store.secrets_at_rest import KnownSecrets

if TYPE_CHECKING:
    from cadenza.store.blob_s3 import S3Bucket
    from cadenza.store.postgres.connections import Connection


#: The environment variable naming a directory to keep blobs in.
BLOB_DIR_VARIABLE = "CADENZA_BLOB_DIR"
#: The environment variable naming a bucket to keep blobs in (``s3://bucket/prefix``).
BLOB_URL_VARIABLE = "CADENZA_BLOB_URL"

#: What a stored text that holds blob references starts with (no JSON text
#: starts with "@"; see ``cadenza.store.claim_check``), and a LIKE pattern for it.
CLAIM_PREFIX = "@claim:"
CLAIM_PATTERN = CLAIM_PREFIX + "%"


class BlobTable(Protocol):
    """Where blobs are kept: the store's own table, on its current connection."""

    def put(self, digest: str, data: bytes, now: float) -> None:
        """Keep ``data`` under ``digest`` (nothing changes if it is kept already),
        locked until commit so that it cannot be deleted before a row refers to it."""

    def get(self, digests: Sequence[str]) -> dict[str, bytes]:
        """The blobs among ``digests`` that are kept."""

    def present(self, digest: str) -> bool:
        """Whether the blob ``digest`` is kept (as this transaction sees it),
        locked until commit when it is."""

    def history_payloads(self, execution_id: str) -> tuple[int, list[str]]:
        """The bytes of the execution's history rows, and those of its rows that
        hold blob references."""

    def sizes(self, digests: Sequence[str]) -> int:
        """The bytes of the blobs among ``digests`` (each counted once)."""

    def execution_bytes(self, execution_id: str) -> int | None:
        """The bytes the execution's history keeps, as its row counts them; None
        when the table cannot count them (blobs kept outside the database)."""


class SQLiteBlobs:
    """The ``blobs`` table of a SQLite store, on one connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def put(self, digest: str, data: bytes, now: float) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO blobs (digest, size, data, created_at) VALUES (?, ?, ?, ?)",
            (digest, len(data), data, now),
        )

    def get(self, digests: Sequence[str]) -> dict[str, bytes]:
        wanted = sorted(set(digests))
        marks = ", ".join("?" for _ in wanted)
        rows = self.conn.execute(
            f"SELECT digest, data FROM blobs WHERE digest IN ({marks})", wanted
        ).fetchall()
        return {row[0]: bytes(row[1]) for row in rows}

    def present(self, digest: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM blobs WHERE digest = ?", (digest,)).fetchone()
        return row is not None

    def history_payloads(self, execution_id: str) -> tuple[int, list[str]]:
        [total] = self.conn.execute(
            "SELECT COALESCE(SUM(LENGTH(CAST(payload AS BLOB))), 0) FROM history "
            "WHERE execution_id = ?",
            (execution_id,),
        ).fetchone()
        claims = self.conn.execute(
            "SELECT payload FROM history WHERE execution_id = ? AND payload LIKE ?",
            (execution_id, CLAIM_PATTERN),
        ).fetchall()
        return int(total), [str(row[0]) for row in claims]

    def sizes(self, digests: Sequence[str]) -> int:
        wanted = sorted(set(digests))
        if not wanted:
            return 0
        marks = ", ".join("?" for _ in wanted)
        [total] = self.conn.execute(
            f"SELECT COALESCE(SUM(size), 0) FROM blobs WHERE digest IN ({marks})", wanted
        ).fetchone()
        return int(total)

    def execution_bytes(self, execution_id: str) -> int | None:
        row = self.conn.execute(
            "SELECT payload_bytes FROM executions WHERE id = ?", (execution_id,)
        ).fetchone()
        return int(row[0]) if row else 0


class PostgresBlobs:
    """The ``blobs`` table of a PostgreSQL store, on one connection."""

    def __init__(self, conn: Connection, *, begin_on_put: bool = False) -> None:
        self.conn = conn
        #: Open a transaction before the first put or presence check on a
        #: connection idle in autocommit (whose statements would each be their
        #: own transaction): a blob must commit with the rows that refer to it,
        #: or the commit of its insert alone drops it as unreferenced, and the
        #: lock a presence check takes must last until those rows commit.
        self.begin_on_put = begin_on_put

    def _begin_if_asked(self) -> None:
        """Open the transaction ``begin_on_put`` asks for, before a statement
        whose row lock must last until the rows referring to the blob commit."""
        if self.begin_on_put:
            # psycopg is there when a PostgreSQL connection is; not imported for SQLite.
            from psycopg.pq import TransactionStatus

            if self.conn.info.transaction_status == TransactionStatus.IDLE:
                self.conn.execute("BEGIN")

    def put(self, digest: str, data: bytes, now: float) -> None:
        self._begin_if_asked()
        self.conn.execute(
            # DO UPDATE, not DO NOTHING: it locks the row (and writes it again
            # when a concurrent transaction deleted it meanwhile), so its last
            # reference cannot be dropped before this transaction's commits.
            "INSERT INTO blobs (digest, size, data, created_at) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (digest) DO UPDATE SET refs = blobs.refs",
            (digest, len(data), data, now),
        )

    def get(self, digests: Sequence[str]) -> dict[str, bytes]:
        rows = self.conn.execute(
            "SELECT digest, data FROM blobs WHERE digest = ANY(%s)", (sorted(set(digests)),)
        ).fetchall()
        found: dict[str, bytes] = {}
        for row in rows:
            found[str(row["digest"])] = bytes(row["data"])
        return found

    def present(self, digest: str) -> bool:
        # The lock keeps a purge from dropping the blob before this
        # transaction's reference to it commits: in autocommit it would be
        # released at once.
        self._begin_if_asked()
        row = self.conn.execute(
            "SELECT 1 FROM blobs WHERE digest = %s FOR NO KEY UPDATE", (digest,)
        ).fetchone()
        return row is not None

    def history_payloads(self, execution_id: str) -> tuple[int, list[str]]:
        total = self.conn.execute(
            "SELECT COALESCE(SUM(OCTET_LENGTH(payload)), 0) AS n FROM history "
            "WHERE execution_id = %s",
            (execution_id,),
        ).fetchone()
        claims = self.conn.execute(
            "SELECT payload FROM history WHERE execution_id = %s AND payload LIKE %s",
            (execution_id, CLAIM_PATTERN),
        ).fetchall()
        return int(total["n"]) if total else 0, [str(row["payload"]) for row in claims]

    def sizes(self, digests: Sequence[str]) -> int:
        row = self.conn.execute(
            "SELECT COALESCE(SUM(size), 0) AS n FROM blobs WHERE digest = ANY(%s)",
            (sorted(set(digests)),),
        ).fetchone()
        return int(row["n"]) if row else 0

    def execution_bytes(self, execution_id: str) -> int | None:
        row = self.conn.execute(
            "SELECT payload_bytes FROM executions WHERE id = %s", (execution_id,)
        ).fetchone()
        return int(row["payload_bytes"]) if row else 0


class UncountedTotals(ClaimedTotals):
    """No totals: with blobs kept outside the database, the total a claim brings
    leaves them out, so each result's check adds them up from the history."""

    def note(self, execution_id: str, total: int) -> None:
        return None


class DigestCache:
    """The SHA-256 of recently kept long texts, least recently used dropped first.

    Only a shortcut: a digest found here is still checked against the blob
    table before a reference to it is saved (the transaction that kept it may
    have been rolled back).
    """

    def __init__(self, max_chars: int = 64 * 1024 * 1024) -> None:
        self.max_chars = max_chars
        self._lock = threading.Lock()
        self._digests: OrderedDict[str, str] = OrderedDict()
        self._chars = 0

    def get(self, text: str) -> str | None:
        """The digest kept for ``text``, if any."""
        with self._lock:
            digest = self._digests.get(text)
            if digest is not None:
                self._digests.move_to_end(text)
            return digest

    def add(self, text: str, digest: str) -> None:
        """Remember ``digest`` for ``text``."""
        if len(text) > self.max_chars:
            return
        with self._lock:
            if text in self._digests:
                return
            self._digests[text] = digest
            self._chars += len(text)
            while self._chars > self.max_chars:
                dropped, _ = self._digests.popitem(last=False)
                self._chars -= len(dropped)


@dataclass(frozen=True)
class StoreOptions:
    """What a store's codec needs besides its connection: the payload limits and,
    when secrets are kept encrypted, where the key comes from."""

    limits: PayloadLimits
    #: Returns the key (None: no key configured, secrets are kept as given).
    key: Callable[[], SecretKey | None]
    #: The time a blob is written at (stores pass their clock's reading; the
    #: codec reads no clock).
    now: Callable[[], float]
    #: Digests of long texts kept lately, so that one kept again (a result that
    #: stays in a workflow's state, snapshot after snapshot) is not hashed again.
    digests: DigestCache = field(default_factory=lambda: DigestCache())
    #: Keep blobs as files here instead of in the blob table (None: the table).
    blob_dir: Path | None = None
    #: Keep blobs as objects in this bucket instead of in the blob table.
    blob_bucket: S3Bucket | None = None
    #: Secret texts met lately: stored encrypted wherever they appear whole.
    secrets: KnownSecrets = field(default_factory=lambda: KnownSecrets())
    #: Stored payload bytes of the executions whose tasks were claimed lately.
    claimed_totals: ClaimedTotals = field(default_factory=lambda: ClaimedTotals())

    def blob_table(self, table: BlobTable) -> BlobTable:
        """Where blobs go for a store whose own table is ``table``."""
        # The directory's and the bucket's modules are imported only for a store
        # that keeps blobs there: most keep them in their own table, and every
        # process opening a store would pay for both.
        if self.blob_bucket is not None:
            from cadenza.store.blob_s3 import S3Blobs

            return S3Blobs(self.blob_bucket, table)
        if self.blob_dir is None:
            return table
        from cadenza.store.blob_directory import DirectoryBlobs

        return DirectoryBlobs(self.blob_dir, table)


@dataclass(frozen=True)
class PayloadScope:
    """The blob table and options of the store operation running on this thread."""

    blobs: BlobTable
    options: StoreOptions
    #: Whether values are read to be used, to decide with or to run a task
    #: (a secret must then be readable: without the key it is an error, not a
    #: ciphertext handed to a workflow or an action), rather than to be shown.
    deciding: bool = False


_current: ContextVar[PayloadScope | None] = ContextVar("cadenza_payload_scope", default=None)


@contextmanager
def payload_scope(
    blobs: BlobTable, options: StoreOptions, *, deciding: bool = False
) -> Iterator[PayloadScope]:
    """Make ``blobs`` and ``options`` the codec's inside the ``with`` block."""
    scope = PayloadScope(blobs, options, deciding)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


def current_scope() -> PayloadScope | None:
    """The scope of the store operation running here, if any."""
    return _current.get()


def required_scope(what: str) -> PayloadScope:
    """The current scope; ``HistoryCorrupt`` when ``what`` (a stored reference)
    is read outside any store operation."""
    scope = _current.get()
    if scope is None:
        raise HistoryCorrupt(f"{what} was read outside a store operation: its blob is out of reach")
    return scope


def store_options(
    limits: PayloadLimits | None = None,
    key_file: str | os.PathLike[str] | None = None,
    blob_dir: str | os.PathLike[str] | None = None,
) -> StoreOptions:
    """A store's options: ``limits`` (default: from the environment), the key in
    ``key_file`` (default: ``CADENZA_KEY_FILE``), read once when first needed,
    and where blobs are kept: ``blob_dir``, a directory or an ``s3://bucket/prefix``
    URL (default: ``CADENZA_BLOB_URL``, else ``CADENZA_BLOB_DIR``, else the
    store's blob table).

    A bucket is checked now: ``StoreFault`` when it does not exist or the
    credentials are refused, before anything is stored.
    """
    found: list[SecretKey | None] = []
    location = (
        os.fspath(blob_dir)
        if blob_dir
        else os.environ.get(BLOB_URL_VARIABLE) or os.environ.get(BLOB_DIR_VARIABLE)
    )
    bucket = None
    if location:
        from cadenza.store.blob_s3 import S3Bucket, is_bucket_url  # see blob_table

        bucket = S3Bucket.from_url(location) if is_bucket_url(location) else None
    if bucket is not None:
        bucket.check()

    def key() -> SecretKey | None:
        if not found:
            found.append(configured_key(key_file))
        return found[0]

    outside = bool(location)
    return StoreOptions(
        limits=limits if limits is not None else PayloadLimits.from_environment(),
        key=key,
        now=time.time,
        blob_dir=Path(location) if location and bucket is None else None,
        blob_bucket=bucket,
        claimed_totals=UncountedTotals() if outside else ClaimedTotals(),
    )
