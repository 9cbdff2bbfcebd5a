"""Deleting blobs kept as files or S3 objects that nothing refers to any more.

Blobs in the store's own table are deleted as their last reference goes (see
``cadenza.store.blobs``). Blobs kept outside the database cannot be: the count
of references lives in the table's rows, and deleting a file or an object
cannot be part of the transaction that drops the last reference. So they are
swept instead (``cadenza db sweep-blobs``), in two steps, each held back by a
*grace period* (an hour by default) that must be longer than any store
transaction lasts:

1. A blob that no stored row refers to (history, inbox, tasks, an execution's
   snapshot, output and errors) and that is older than the grace period is *set
   aside*: moved to ``swept/`` beside the blobs, stamped with the time.
2. A blob set aside more than the grace period ago that still no row refers to
   is deleted; one that a row refers to again is put back.

Why two steps: a writer that found a blob in place (``put``, ``present``) may
commit a row referring to it after the sweep read the references. Readers look
for a blob set aside when it is not in its place, so such a row reads it; and
the writer committed within the grace period of finding it, so before the next
sweep that could delete it reads the references, which then include the row,
and the blob goes back. A blob written by a transaction not yet committed is
younger than the grace period, and not even set aside.

Run one sweep at a time per store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from cadenza.model.errors import InputError
from cadenza.store.blob_directory import DirectorySweep, KeptBlob
from cadenza.store.blob_s3 import BucketSweep, S3Bucket
from cadenza.store.payloads import describe_size

#: How long a blob nothing refers to is kept by default, in seconds.
DEFAULT_GRACE = 3600.0

#: Every stored text that may refer to blobs (those migration 0008 counts).
_REFERRING_COLUMNS = (
    ("history", "payload"),
    ("inbox", "payload"),
    ("tasks", "input"),
    ("tasks", "meta"),
    ("tasks", "retry"),
    ("executions", "snapshot"),
    ("executions", "output"),
    ("executions", "errors"),
)


def _claims(pattern: str) -> str:
    return "\n        UNION ALL ".join(
        f"SELECT {column} AS t FROM {table} WHERE {column} LIKE {pattern}"
        for table, column in _REFERRING_COLUMNS
    )


#: The digests every stored row refers to, read in one statement (one snapshot).
SQLITE_BLOB_REFERENCES = f"""
SELECT DISTINCT json_extract(part.value, '$[1]') AS digest FROM (
        {_claims(":claim")}
    ) AS stored, json_each(substr(stored.t, 8), '$.b') AS part
"""
POSTGRES_BLOB_REFERENCES = f"""
SELECT DISTINCT part ->> 1 AS digest FROM (
        {_claims("%(claim)s")}
    ) AS stored, json_array_elements(substr(stored.t, 8)::json -> 'b') AS part
"""


@runtime_checkable
class SweptStore(Protocol):
    """What a sweep needs of a store."""

    def blob_location(self) -> Path | S3Bucket | None:
        """Where the store keeps blobs outside the database (None: its table)."""

    def blob_references(self) -> set[str]:
        """The digests of every blob a stored row refers to."""


class BlobPlace(Protocol):
    """A directory or a bucket of blobs, as a sweep sees it."""

    def describe(self) -> str: ...
    def listing(self) -> Iterator[KeptBlob]: ...
    def set_aside(self, digest: str, now: float) -> None: ...
    def restore(self, digest: str) -> None: ...
    def delete(self, blob: KeptBlob) -> None: ...


@dataclass
class SweepReport:
    """What a sweep found and did (or, dry, would do)."""

    place: str
    grace: float
    dry_run: bool = False
    #: Blobs a stored row refers to, and their bytes.
    referenced: int = 0
    referenced_bytes: int = 0
    #: Blobs nothing refers to, kept because they are younger than the grace period.
    recent: int = 0
    recent_bytes: int = 0
    #: Blobs nothing refers to, set aside by this sweep.
    set_aside: int = 0
    set_aside_bytes: int = 0
    #: Blobs set aside by an earlier sweep and deleted now.
    deleted: int = 0
    deleted_bytes: int = 0
    #: Blobs set aside earlier that a row refers to again, put back.
    restored: int = 0
    #: Blobs set aside less than the grace period ago, still unreferenced, left there.
    waiting: int = 0
    waiting_bytes: int = 0
    #: Writes that never completed (a writer died), older than the grace period, deleted.
    unfinished: int = 0
    unfinished_bytes: int = 0
    #: Digests a stored row refers to that are nowhere (a sign of damage).
    missing: int = 0

    def summary(self) -> list[str]:
        """The report for people, one line per kind of blob."""
        would = "would " if self.dry_run else ""
        lines = [
            f"blobs in {self.place}:",
            f"  referenced by stored rows: {_count(self.referenced, self.referenced_bytes)}",
            f"  unreferenced, younger than the grace period: "
            f"{_count(self.recent, self.recent_bytes)}",
            f"  {would}set aside now: {_count(self.set_aside, self.set_aside_bytes)}",
            f"  {would}deleted (set aside before): {_count(self.deleted, self.deleted_bytes)}",
            f"  set aside, deleted by a sweep after the grace period: "
            f"{_count(self.waiting, self.waiting_bytes)}",
            f"  {would}put back (referred to again): {self.restored}",
        ]
        if self.unfinished:
            lines.append(
                f"  unfinished writes {would}deleted: "
                f"{_count(self.unfinished, self.unfinished_bytes)}"
            )
        if self.missing:
            lines.append(f"  referenced but missing: {self.missing}")
        return lines


def _count(n: int, size: int) -> str:
    return f"{n} ({describe_size(size)})"


def place_of(location: Path | S3Bucket) -> BlobPlace:
    """The sweepable place of a store's blob location."""
    if isinstance(location, S3Bucket):
        return BucketSweep(location)
    return DirectorySweep(location)


def sweep_blobs(
    store: SweptStore, *, now: float, grace: float = DEFAULT_GRACE, dry_run: bool = False
) -> SweepReport:
    """Set aside the blobs of ``store`` nothing refers to that are older than
    ``grace`` seconds at ``now``, and delete those set aside more than ``grace``
    ago that still nothing refers to (see the module's docstring).

    ``InputError`` when the store keeps its blobs in its own table (they are
    deleted as their last reference goes) or ``grace`` is negative.
    """
    if grace < 0:
        raise InputError(f"the grace period cannot be negative ({grace:g} s)")
    location = store.blob_location()
    if location is None:
        raise InputError(
            "this store keeps its blobs in its own table, where each is deleted with its "
            "last reference: there is nothing to sweep (sweep-blobs is for blobs kept in a "
            "directory or a bucket, CADENZA_BLOB_DIR or CADENZA_BLOB_URL)"
        )
    place = place_of(location)
    report = SweepReport(place.describe(), grace, dry_run)
    cutoff = now - grace
    blobs = list(place.listing())
    # Read after ``now`` was taken and the place listed: a row committed before
    # is among them (see the module's docstring).
    references = store.blob_references()
    kept = {blob.name for blob in blobs if blob.state == "kept"}
    found = kept | {blob.name for blob in blobs if blob.state == "set_aside"}
    report.missing = len(references - found)
    for blob in blobs:
        _sweep_one(place, blob, blob.name in references, blob.name in kept, cutoff, now, report)
    return report


def _sweep_one(
    place: BlobPlace,
    blob: KeptBlob,
    referenced: bool,
    in_place: bool,
    cutoff: float,
    now: float,
    report: SweepReport,
) -> None:
    act = not report.dry_run
    if blob.state == "unfinished":
        if blob.modified < cutoff:
            report.unfinished += 1
            report.unfinished_bytes += blob.size
            if act:
                place.delete(blob)
    elif blob.state == "kept":
        if referenced:
            report.referenced += 1
            report.referenced_bytes += blob.size
        elif blob.modified >= cutoff:
            report.recent += 1
            report.recent_bytes += blob.size
        else:
            report.set_aside += 1
            report.set_aside_bytes += blob.size
            if act:
                place.set_aside(blob.name, now)
    elif in_place:
        # Written again since it was set aside: the copy in place decides. When
        # it is referenced the copy set aside is not needed; when it is set
        # aside now, it replaces this one, stamped afresh.
        if referenced and act:
            place.delete(blob)
    elif referenced:
        report.restored += 1
        report.referenced += 1
        report.referenced_bytes += blob.size
        if act:
            place.restore(blob.name)
    elif blob.modified < cutoff:
        report.deleted += 1
        report.deleted_bytes += blob.size
        if act:
            place.delete(blob)
    else:
        report.waiting += 1
        report.waiting_bytes += blob.size
