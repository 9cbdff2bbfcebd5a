"""The SQLite store's listings for people and tools: executions filtered, counted
and tagged, the counts the metrics show, tasks whose leases keep being lost, and
when worker loops last polled each queue."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from cadenza.model.statuses import FINAL_EXECUTION_STATUSES
from cadenza.store.blobs import CLAIM_PATTERN, StoreOptions
from cadenza.store.codec import execution_from_row
from cadenza.store.protocol import LostLeases, QueuePoll
from cadenza.store.queries import like_pattern
from cadenza.store.records import ExecutionRecord
from cadenza.store.sqlite.statements import execute, sql_list

if TYPE_CHECKING:
    from cadenza.store.blob_s3 import S3Bucket

T = TypeVar("T")

# The queue poll statements stay here, beside their only callers: a few lines
# that no round or claim shares.
_RECORD_QUEUE_POLL = """
INSERT INTO queue_polls (queue, poller, description, polled_at)
VALUES (:queue, :poller, :description, :polled_at)
ON CONFLICT (queue, poller) DO UPDATE SET
    description = CASE WHEN excluded.polled_at >= queue_polls.polled_at
                       THEN excluded.description ELSE queue_polls.description END,
    polled_at = max(queue_polls.polled_at, excluded.polled_at)
"""
_FORGET_QUEUE_POLLS = "DELETE FROM queue_polls WHERE polled_at < :before"
_QUEUE_POLLS = """
SELECT queue, poller, description, polled_at FROM queue_polls
ORDER BY queue, polled_at DESC, poller
"""


class SQLiteListings:
    """The listing part of ``SQLiteStore`` (which provides ``_read`` and ``_write``)."""

    _options: StoreOptions

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
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
        params = _filters(statuses, excluding, kinds, definition_id, since, until, tags, text)
        params.update(
            parent_id=parent_id,
            updated_before=updated_before,
            before_time=None if before is None else before[0],
            before_id=None if before is None else before[1],
            limit=limit,
        )
        return self._read(
            lambda c: [
                execution_from_row(r) for r in execute(c, "list_executions", params).fetchall()
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
        params = _filters(statuses, excluding, kinds, definition_id, since, until, tags, text)
        params["updated_before"] = updated_before
        rows = self._read(lambda c: execute(c, "count_executions", params).fetchall())
        return {r["status"]: int(r["n"]) for r in rows}

    def execution_tags(self, execution_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        params = {"ids": sql_list(execution_ids)}
        rows = self._read(lambda c: execute(c, "execution_tags", params).fetchall())
        return {r["id"]: tuple(json.loads(r["tags"])) for r in rows}

    def execution_counts(self) -> dict[tuple[str, str], int]:
        rows = self._read(lambda c: execute(c, "execution_counts").fetchall())
        return {(r["kind"], r["status"]): int(r["n"]) for r in rows}

    def task_counts(self) -> dict[tuple[str, str], int]:
        rows = self._read(lambda c: execute(c, "task_counts").fetchall())
        return {(r["queue"], r["status"]): int(r["n"]) for r in rows}

    def lost_leases(
        self, error_types: Sequence[str], *, at_least: int = 2, limit: int = 100
    ) -> list[LostLeases]:
        params = {
            "final": sql_list(sorted(FINAL_EXECUTION_STATUSES)),
            "error_types": sql_list(error_types),
            "at_least": at_least,
            "limit": limit,
        }
        rows = self._read(lambda c: execute(c, "lost_leases", params).fetchall())
        return [LostLeases.of_row(r) for r in rows]

    def record_queue_polls(self, polls: Sequence[QueuePoll], forget_before: float) -> None:
        rows = [asdict(p) for p in polls]
        with self._write() as conn:
            conn.executemany(_RECORD_QUEUE_POLL, rows)
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
        from cadenza.store.blob_sweep import SQLITE_BLOB_REFERENCES

        params = {"claim": CLAIM_PATTERN}
        rows = self._read(lambda c: c.execute(SQLITE_BLOB_REFERENCES, params).fetchall())
        return {str(r["digest"]) for r in rows}


def _filters(
    statuses: Sequence[str],
    excluding: Sequence[str],
    kinds: Sequence[str] | None,
    definition_id: str | None,
    since: float | None,
    until: float | None,
    tags: Sequence[str],
    text: str | None,
) -> dict[str, object]:
    """The parameters of the filters ``list_executions`` and ``count_executions`` share."""
    wanted = sorted(set(tags))
    return {
        "statuses": sql_list(statuses) if statuses else None,
        "excluding": sql_list(excluding),
        "kinds": None if kinds is None else sql_list(kinds),
        "definition_id": definition_id,
        "since": since,
        "until": until,
        "tags": sql_list(wanted) if wanted else None,
        "tag_count": len(wanted),
        "text": like_pattern(text),
    }
