"""The PostgreSQL store's listings for people and tools: executions filtered,
counted and tagged, the counts the metrics show, and tasks whose leases keep
being lost."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from cadenza.model.statuses import FINAL_EXECUTION_STATUSES
from cadenza.store.codec import execution_from_row
from cadenza.store.postgres.connections import Connection
from cadenza.store.postgres.queries import QUERIES
from cadenza.store.protocol import LostLeases
from cadenza.store.queries import like_pattern
from cadenza.store.records import ExecutionRecord

T = TypeVar("T")


class PostgresListings:
    """The listing part of ``PostgresStore`` (which provides ``_read``)."""

    def _read(self, fn: Callable[[Connection], T]) -> T:
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
