"""The PostgreSQL store's listings for people and tools: executions filtered,
counted and tagged, the counts the metrics show, tasks whose leases keep being
lost, and when worker loops last polled each queue."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from cadenza.model.statuses import FINAL_EXECUTION_STATUSES
from cadenza.store.blobs import CLAIM_PATTERN, StoreOptions
from cadenza.store.codec import execution_from_row
from cadenza.store.postgres.connections import Connection
from cadenza.store.postgres.queries import QUERIES
from cadenza.store.protocol import LostLeases, QueuePoll
from cadenza.store.queries import like_pattern
from cadenza.store.records import ExecutionRecord

if TYPE_CHECKING:
    from cadenza.store.blob_s3 import S3Bucket

T = TypeVar("T")

# The queue poll statements stay here, beside their only callers: a few lines
# that no round or claim shares.
_RECORD_QUEUE_POLL = """
INSERT INTO queue_polls (queue, poller, description, polled_at)
VALUES (%(queue)s, %(poller)s, %(description)s, %(polled_at)s)
ON CONFLICT (queue, poller) DO UPDATE SET
    description = CASE WHEN EXCLUDED.polled_at >= queue_polls.polled_at
                       THEN EXCLUDED.description ELSE queue_polls.description END,
    polled_at = GREATEST(queue_polls.polled_at, EXCLUDED.polled_at)
"""
_FORGET_QUEUE_POLLS = "DELETE FROM queue_polls WHERE polled_at < %(before)s"
_QUEUE_POLLS = """
SELECT queue, poller, description, polled_at FROM queue_polls
ORDER BY queue, polled_at DESC, poller
"""


class PostgresListings:
    """The listing part of ``PostgresStore`` (which provides ``_read`` and ``_write``)."""

    _options: StoreOptions

    def _read(self, fn: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def list_executions(
        self,
        *,
        limit: int = 100,
        statuses: Sequence[str] = (),
        excluding: Sequence[str] = (),
        kinds: Sequence[str] | None = None,
        definition_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        before: tuple[float, str] | None = None,
        parent_id: str | None = None,
        tags: Sequence[str] = (),
        text: str | None = None,
        updated_before: float | None = None,
    ) -> list[ExecutionRecord]:
        params = {
            "statuses": list(statuses),
            "excluding": list(excluding),
            "kinds": None if kinds is None else list(kinds),
            "definition_id": definition_id,
            "parent_id": parent_id,
            "since": since,
            "until": until,
            "updated_before": updated_before,
            "tags": sorted(set(tags)),
            "text": like_pattern(text),
            "before_time": None if before is None else before[0],
            "before_id": None if before is None else before[1],
            "limit": limit,
        }
        return self._read(
            lambda c: [
                execution_from_row(r)
                for r in c.execute(QUERIES["list_executions"], params).fetchall()
            ]
        )

    def count_executions(
        self,
        *,
        statuses: Sequence[str] = (),
        excluding: Sequence[str] = (),
        kinds: Sequence[str] | None = None,
        definition_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        tags: Sequence[str] = (),
        text: str | None = None,
        updated_before: float | None = None,
    ) -> dict[str, int]:
        params = {
            "statuses": list(statuses),
            "excluding": list(excluding),
            "kinds": None if kinds is None else list(kinds),
            "definition_id": definition_id,
            "since": since,
            "until": until,
            "updated_before": updated_before,
            "tags": sorted(set(tags)),
            "text": like_pattern(text),
        }
        rows = self._read(lambda c: c.execute(QUERIES["count_executions"], params).fetchall())
        return {r["status"]: int(r["n"]) for r in rows}

    def execution_tags(self, execution_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        ids = list(execution_ids)
        rows = self._read(lambda c: c.execute(QUERIES["execution_tags"], (ids,)).fetchall())
        return {r["id"]: tuple(r["tags"]) for r in rows}

    def execution_counts(self) -> dict[tuple[str, str], int]:
        rows = self._read(lambda c: c.execute(QUERIES["execution_counts"]).fetchall())
        return {(r["kind"], r["status"]): int(r["n"]) for r in rows}

    def task_counts(self) -> dict[tuple[str, str], int]:
        rows = self._read(lambda c: c.execute(QUERIES["task_counts"]).fetchall())
        return {(r["queue"], r["status"]): int(r["n"]) for r in rows}

    def lost_leases(
        self, error_types: Sequence[str], *, at_least: int = 2, limit: int = 100
    ) -> list[LostLeases]:
        params = {
            "final": sorted(FINAL_EXECUTION_STATUSES),
            "error_types": list(error_types),
            "at_least": at_least,
            "limit": limit,
        }
        rows = self._read(lambda c: c.execute(QUERIES["lost_leases"], params).fetchall())
        return [LostLeases.of_row(r) for r in rows]

    def record_queue_polls(self, polls: Sequence[QueuePoll], forget_before: float) -> None:
        # In key order: two processes writing overlapping rows lock them in the
        # same order, so they wait for each other instead of deadlocking.
        rows = [asdict(p) for p in sorted(polls, key=lambda p: (p.queue, p.poller))]
        with self._write() as conn:
            if rows:
                conn.cursor().executemany(_RECORD_QUEUE_POLL, rows)
            conn.execute(_FORGET_QUEUE_POLLS, {"before": forget_before})

    def queue_polls(self) -> list[QueuePoll]:
        rows = self._read(lambda c: c.execute(_QUEUE_POLLS).fetchall())
        return [QueuePoll.of_row(r) for r in rows]

    def blob_location(self) -> Path | S3Bucket | None:
        """Where this store keeps blobs outside the database: a directory, a
        bucket, or None (its blob table)."""
        return self._options.blob_bucket or self._options.blob_dir

    def blob_references(self) -> set[str]:
        """The digests of every blob a stored row refers to, read at once
        (for ``cadenza db sweep-blobs``, see ``cadenza.store.blob_sweep``)."""
        # Imported here: only ``cadenza db sweep-blobs`` asks, and the sweep's module
        # brings the directory's and the bucket's with it.
        from cadenza.store.blob_sweep import POSTGRES_BLOB_REFERENCES

        params = {"claim": CLAIM_PATTERN}
        rows = self._read(lambda c: c.execute(POSTGRES_BLOB_REFERENCES, params).fetchall())
        return {str(r["digest"]) for r in rows}
