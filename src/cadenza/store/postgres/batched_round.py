"""The decision round's write phase sent as one PostgreSQL pipeline.

``PostgresBatchedRoundWriter`` sends the whole write phase and its COMMIT in
one pipeline: a sequential step costs two round trips (the read, then the
write with its commit) instead of about eleven, and one when the round read
nothing. The batch assumes that every finished attempt is still held and
every decision still current, and the database checks each assumption as it
runs the statement (a row count compared in the statement itself,
``cadenza_round_expect``); a failed check aborts the transaction, nothing is
committed, and the round writes again statement by statement. COPY cannot
run in a pipeline, so a batched write sends its history and task rows as one
JSON argument per statement (migration 0012's functions); a round with many
rows (``BATCH_ROWS``) uses COPY, statement by statement
(``round_statements.PostgresRoundWriter``). A round that read nothing and
only ends attempts, saves decisions and inserts tasks is one statement, its
own transaction (``quiet_round``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg

from cadenza.store.codec import (
    FINISH_STATEMENTS,
    finish_values,
    json_text,
    task_from_row,
)
from cadenza.store.history_rows import encoded_history
from cadenza.store.postgres.connections import Connection
from cadenza.store.postgres.queries import QUERIES
from cadenza.store.postgres.round_statements import (
    PostgresRoundWriter,
    claim_parameters,
    save_parameters,
    split_leased,
    withdraw_and_time,
)
from cadenza.store.protocol import ClaimRequest, FinishRequest
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    FinishOutcome,
    NewTaskLease,
    TaskRecord,
    claim_order,
)
from cadenza.store.round_backend import NotCurrent

#: The most history and task rows a round writes in one pipeline; above it,
#: COPY (which cannot be pipelined) is faster than that many INSERTs.
BATCH_ROWS = 256

#: The SQLSTATE of a failed check of a batch (``cadenza_round_expect``).
ASSUMPTION_FAILED = "ZC001"


def _columns(statement: str) -> tuple[str, ...]:
    """The column names of a ``COPY table (columns) FROM STDIN`` or an ``INSERT
    INTO table (columns) ...`` statement."""
    found = re.match(r"\s*(?:COPY|INSERT\s+INTO)\s+\w+\s*\(([^)]*)\)", statement, re.I)
    if found is None:
        raise ValueError(f"not a COPY or INSERT naming its columns: {statement!r}")
    return tuple(column.strip() for column in found.group(1).split(","))


#: The names of the values of a history row, a new task's row and a leased
#: one, in the order ``encoded_history``, ``task_values`` and
#: ``leased_task_values`` give them: the order of the statements that COPY or
#: insert them one by one, so the two name the same columns by construction.
_HISTORY_COLUMNS = _columns(QUERIES["copy_history"])
_TASK_COLUMNS = _columns(QUERIES["copy_tasks"])
_LEASED_TASK_COLUMNS = _columns(QUERIES["insert_leased_task"])


def _objects(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """``rows`` as a JSON array of objects keyed by ``columns`` (for
    ``json_to_recordset``)."""
    return json_text([dict(zip(columns, row, strict=True)) for row in rows])


def _attempts(finishes: Sequence[FinishRequest]) -> str:
    """The attempts ``finishes`` end, as a JSON array of objects (for
    ``json_to_recordset``)."""
    return json_text(
        [
            {"execution_id": f.execution_id, "task_id": f.task_id, "attempt": f.attempt}
            for f in finishes
        ]
    )


def _expecting(statement: str, rows: str) -> str:
    """``statement`` (which returns a row for each row it touches) wrapped so that
    the database checks that it touched ``rows`` rows, and fails the
    transaction with ``ASSUMPTION_FAILED`` when it did not (migration 0010's
    ``cadenza_round_expect``). Nothing needs to be read back before the commit."""
    body = statement.strip().rstrip(";")
    # The body on lines of its own: a comment on its last line ends there.
    return (
        f"WITH touched AS (\n{body}\n)\nSELECT cadenza_round_expect(COUNT(*) = {rows}) FROM touched"
    )


_FINISH_EXPECTED = {
    outcome: _expecting(QUERIES[name].strip().rstrip(";") + "\nRETURNING 1", "1")
    for outcome, name in FINISH_STATEMENTS.items()
}
_FINISH_DONE_EXPECTED = _expecting(QUERIES["finish_tasks_done"], "%(expected)s")
_CONSUME_EXPECTED = _expecting(QUERIES["consume_inbox"], "%s")
_SAVE_EXPECTED = _expecting(QUERIES["save_executions"], "%(expected_rows)s")


def _assumption_failed(error: psycopg.Error) -> bool:
    """Whether ``error`` says that the batch was built on an assumption that no
    longer holds: a check of ``_expecting`` failed, or a decision another one
    overtook wrote rows that exist already."""
    return error.sqlstate == ASSUMPTION_FAILED or isinstance(error, psycopg.errors.IntegrityError)


def quiet_round(
    conn: Connection,
    finishes: Sequence[FinishRequest],
    decisions: Sequence[tuple[DecisionWork, DecisionResult]],
    lease: NewTaskLease | None,
    now: float,
) -> list[TaskRecord] | None:
    """The whole write of a round that read nothing as one statement (migration
    0012's ``cadenza_quiet_round``) on ``conn`` in autocommit, so that it is its
    own transaction: no BEGIN and COMMIT to send or wait for (unless encoding
    the values put a blob, which opened a transaction to commit with them).
    For a round whose write only ends its attempts (done, all of one owner),
    saves decisions and inserts tasks; None (nothing sent) for any other.
    Returns the leased tasks; a failed assumption rolls the statement back and
    raises ``NotCurrent``."""
    owners = {finish.owner for finish in finishes}
    if len(owners) != 1 or any(f.finish.outcome != FinishOutcome.DONE for f in finishes):
        return None
    results = [result for _work, result in decisions]
    history, added = encoded_history(decisions)
    saved = save_parameters(decisions, now, added)
    plain, leased = split_leased(results, now, lease)
    parameters = {
        "now": now,
        "owner": owners.pop(),
        "finishes": _attempts(finishes),
        "decisions": saved["decisions"],
        "refs": saved["refs"],
        "history": _objects(_HISTORY_COLUMNS, history),
        "tasks": _objects(_TASK_COLUMNS, plain),
        "leased": _objects(_LEASED_TASK_COLUMNS, leased),
    }
    try:
        rows = statement_alone(conn, QUERIES["quiet_round"], parameters)
    except psycopg.Error as exc:
        if not _assumption_failed(exc):
            raise
        raise NotCurrent(str(exc)) from exc
    return [task_from_row(row["task"]) for row in rows]


def statement_alone(conn: Connection, query: str, parameters: Mapping[str, Any]) -> list[Any]:
    """Run one statement on ``conn`` in autocommit, its own transaction, and
    return its rows. Encoding its values may have put a blob, which opened a
    transaction (``PostgresBlobs.begin_on_put``): that one is committed with
    the statement, or rolled back when it fails."""
    try:
        rows = conn.execute(query, parameters).fetchall()
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            conn.execute("COMMIT")
    except psycopg.Error:
        idle = psycopg.pq.TransactionStatus.IDLE
        if not (conn.closed or conn.broken) and conn.info.transaction_status != idle:
            conn.execute("ROLLBACK")
        raise
    return rows


@contextmanager
def batched_transaction(
    conn: Connection,
    scope: Callable[[], AbstractContextManager[object]],
    *,
    before_commit: Callable[[], None],
    committed: Callable[[], None],
) -> Iterator[PostgresBatchedRoundWriter]:
    """One transaction in pipeline mode: BEGIN, the caller's statements, those of
    ``before_commit`` and COMMIT all travel together, in one round trip, and
    the database checks the batch's assumptions itself (``_expecting``): a
    failed one rolls the whole batch back and raises ``NotCurrent``. ``scope``
    is entered around the caller's statements and the reading of the answers
    after the commit; ``committed`` is called after the commit.

    The transaction is written out here, not with ``conn.transaction()``, which
    in pipeline mode waits for the answer to BEGIN and to COMMIT separately.
    """
    done = False
    try:
        with scope():
            with conn.pipeline() as pipeline:
                conn.execute("BEGIN")
                writer = PostgresBatchedRoundWriter(conn, pipeline)
                yield writer
                before_commit()
                conn.execute("COMMIT")
            done = True
            writer.settle()
    except psycopg.Error as exc:
        if not _assumption_failed(exc):
            raise
        # The careful path finds out what moved and refuses it.
        raise NotCurrent(str(exc)) from exc
    finally:
        if not (done or conn.closed or conn.broken):
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
            forget_prepared_statements(conn)
    committed()


@contextmanager
def pipelined_transaction(conn: Connection) -> Iterator[None]:
    """BEGIN, the block's statements and COMMIT sent together, one round trip,
    for statements whose answers are not read: an error surfaces when the
    block ends, and nothing of it is committed."""
    committed = False
    try:
        with conn.pipeline():
            conn.execute("BEGIN")
            yield
            conn.execute("COMMIT")
        committed = True
    finally:
        if not (committed or conn.closed or conn.broken):
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
            forget_prepared_statements(conn)


def forget_prepared_statements(conn: Connection) -> None:
    """Make ``conn`` prepare its statements afresh, after a batch that failed.

    psycopg prepares a statement on its sixth execution; in a pipeline it
    counts the statement as prepared when it sends the PREPARE, and a batch
    that fails before the server reaches it skips it, so that the statement
    would fail on every later use ("prepared statement does not exist").
    psycopg has no public call for this: its cache is cleared (which sends
    DEALLOCATE ALL before the next statement), or, should that attribute ever
    go, the connection stops preparing statements.
    """
    prepared = getattr(conn, "_prepared", None)
    clear = getattr(prepared, "clear", None)
    if callable(clear):
        clear()
    else:
        conn.prepare_threshold = None


class PostgresBatchedRoundWriter(PostgresRoundWriter):
    """The round's write phase (``BatchedRoundWriter``) in pipeline mode: statements
    are queued and sent with the COMMIT, each assumption checked by the
    database; the answers are read once the transaction is over (``settle``).

    A statement whose answer the caller reads at once (the children a
    decision starts, deliveries) sends what is queued so far, a round trip
    more; a sequential step has none.
    """

    def __init__(self, conn: Connection, pipeline: psycopg.Pipeline) -> None:
        super().__init__(conn)
        self.pipeline = pipeline
        self._claim: psycopg.Cursor[Any] | None = None
        self._claimed: list[TaskRecord] = []
        self._leased_json: psycopg.Cursor[Any] | None = None
        self._leased_tasks: list[TaskRecord] = []

    def finish_all_later(self, requests: Sequence[FinishRequest], now: float) -> None:
        # The attempts that ended done under a lease (nearly all) go in one
        # statement per owner; the rest one by one.
        done: dict[str, list[FinishRequest]] = {}
        for request in requests:
            outcome = request.finish.outcome
            if outcome == FinishOutcome.DONE and request.owner is not None:
                done.setdefault(request.owner, []).append(request)
                continue
            self.conn.execute(
                _FINISH_EXPECTED[outcome],
                finish_values(request, now),
            )
            if outcome == FinishOutcome.RETRY:
                # Sent whether or not the attempt is still held: if it is not, the
                # batch is rolled back and the notification never leaves.
                self.conn.execute(QUERIES["notify_work"])
        for owner, ends in done.items():
            self.conn.execute(
                _FINISH_DONE_EXPECTED,
                {"owner": owner, "finishes": _attempts(ends), "expected": len(ends)},
            )

    def lock_executions_later(self, ids: Sequence[str]) -> None:
        # The row locks in id order, as the careful path takes them, so two
        # deciders saving overlapping executions cannot deadlock. Whether the
        # decision numbers moved is checked by the save (guarded by them).
        self.conn.execute(QUERIES["decision_numbers"], (sorted(ids),))

    def consume_inbox_later(self, entry_ids: Sequence[int]) -> None:
        self.conn.execute(_CONSUME_EXPECTED, (list(entry_ids), len(set(entry_ids))))

    def save_later(
        self,
        decisions: Sequence[tuple[DecisionWork, DecisionResult]],
        now: float,
        lease: NewTaskLease | None = None,
    ) -> Callable[[], list[TaskRecord]]:
        results = [result for _work, result in decisions]
        # Encoded first: the rows' blobs are queued before the execution rows
        # add up their sizes.
        history, added = encoded_history(decisions)
        parameters = save_parameters(decisions, now, added)
        parameters["expected_rows"] = len(results)
        self.conn.execute(_SAVE_EXPECTED, parameters)
        # The rows as one JSON argument per statement: a pipeline sends (and
        # the client prepares) one message per row of an executemany.
        self.conn.execute(QUERIES["insert_history_rows"], (_objects(_HISTORY_COLUMNS, history),))
        tasks, leased_rows = split_leased(results, now, lease)
        if tasks:
            self.conn.execute(QUERIES["insert_task_rows"], (_objects(_TASK_COLUMNS, tasks),))
        with self.conn.cursor() as rows:
            withdraw_and_time(rows, results, tasks)
        if leased_rows:
            self._leased_json = self.conn.execute(
                QUERIES["insert_leased_task_rows"], (_objects(_LEASED_TASK_COLUMNS, leased_rows),)
            )
        return lambda: self._leased_tasks

    def claim_later(self, request: ClaimRequest, now: float) -> Callable[[], list[TaskRecord]]:
        if request.limit <= 0 or not request.queues:
            return list
        self._claim = self.conn.execute(QUERIES["claim_tasks"], claim_parameters(request, now))
        return lambda: self._claimed

    def settle(self) -> None:
        """Read the answers, once the transaction is committed."""
        if self._claim is not None:
            self._claimed = sorted(
                (task_from_row(r) for r in self._claim.fetchall()), key=claim_order
            )
        if self._leased_json is not None:
            self._leased_tasks += [task_from_row(r["task"]) for r in self._leased_json.fetchall()]

    def hold_workflow_id(self, execution_id: str, workflow_id: str) -> None:
        # Its refusal needs a savepoint, which a pipeline cannot take: rare (a
        # run continuing a workflow id), so the careful path writes it.
        raise NotCurrent("a workflow id is given statement by statement")
