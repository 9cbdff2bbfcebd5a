"""The decision round's write phase on SQLite when every assumption is
expected to hold (``BatchedRoundWriter``); PostgreSQL's counterpart sends
its batch as one pipeline (``store/postgres/batched_round.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cadenza.store.codec import FINISH_STATEMENTS, finish_values
from cadenza.store.protocol import ClaimRequest, FinishRequest
from cadenza.store.records import DecisionResult, DecisionWork, NewTaskLease, TaskRecord
from cadenza.store.round_backend import NotCurrent
from cadenza.store.sqlite.round_statements import SQLiteRoundWriter, claim
from cadenza.store.sqlite.statements import QUERIES


class SQLiteBatchedRoundWriter(SQLiteRoundWriter):
    """The round's write phase when every assumption is expected to hold
    (``BatchedRoundWriter``): no statement reads a row only to check it.

    SQLite has no round trips to save, but statements cost: each ``*_later``
    runs at once and checks its own row count (the finished attempt still
    held, every inbox row still there, each execution row still at its
    decision number, guarded in the statement that saves it, so the locked
    read of the decision numbers is not needed). A failed check raises
    ``NotCurrent``, the transaction is rolled back, and the round writes again
    the careful way, which refuses what is stale.
    """

    def finish_all_later(self, requests: Sequence[FinishRequest], now: float) -> None:
        # One executemany per statement: each row ends one attempt, so the
        # rows changed must be as many as the requests.
        by_statement: dict[str, list[dict[str, Any]]] = {}
        for request in requests:
            by_statement.setdefault(FINISH_STATEMENTS[request.finish.outcome], []).append(
                finish_values(request, now)
            )
        for name, values in by_statement.items():
            if self.conn.executemany(QUERIES[name], values).rowcount != len(values):
                raise NotCurrent(name)

    def lock_executions_later(self, ids: Sequence[str]) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` holds the whole file's write lock."""

    def consume_inbox_later(self, entry_ids: Sequence[int]) -> None:
        if len(self.consume_inbox(entry_ids)) != len(set(entry_ids)):
            raise NotCurrent("inbox")

    def save_later(
        self,
        decisions: Sequence[tuple[DecisionWork, DecisionResult]],
        now: float,
        lease: NewTaskLease | None = None,
    ) -> Callable[[], list[TaskRecord]]:
        leased = self._save(
            decisions, now, lambda work, _result: NotCurrent(work.execution_id), lease
        )
        return lambda: leased

    def claim_later(self, request: ClaimRequest, now: float) -> Callable[[], list[TaskRecord]]:
        claimed = claim(self.conn, request, now)
        return lambda: claimed
