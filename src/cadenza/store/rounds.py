"""The decision round, written once over each backend's small statement sets.

A round has three phases:

1. **Read** (no write lock): choose up to ``decide_limit`` executions that
   have inbox events or attempts finished in this round, and load what
   deciding them needs: inbox, definition, and the saved snapshot plus the
   history after it when the caller does not hold the state. A backend that
   serves many processes also marks the executions as being decided here
   (PostgreSQL: session advisory locks, skipped by other deciders), so
   processes rarely decide the same execution twice.
2. **Decide**, outside any transaction: the engine's pure ``decide``. User
   code in an interpreter holds no lock that other writers wait on.
3. **Write**, one transaction: end the finished attempts, then save each
   decision whose execution is still at the decision number it started from
   (a stale one, decided elsewhere meanwhile or saved before, is refused and
   stays pending for the next round), deliver the finished attempts' events
   that no saved decision consumed, and claim due tasks.

The events of attempts that finish in a round are decided in that same
round, so a sequential workflow still costs one commit per step. The tasks
the round's decisions schedule are leased to the caller as they are inserted,
up to all but one of its free threads, before its claim takes the longest
waiting (eager dispatch, ``quiet_rounds.round_lease``).

A caller that knows the rows of the executions its finished attempts belong
to (saved by its own earlier rounds, ``RoundOutcome.rows``) and has heard of
no other work gives them as ``RoundRequest.known``: the round then skips the
read phase, decides only those executions from the rows and the finish
events, and claims only the tasks its own decisions schedule, inserted
already leased (``cadenza.store.quiet_rounds``). A row that moved meanwhile
makes its decision stale, refused by the write as any stale decision is;
inbox events wait for the next round that reads.

A backend may also write in one batch (``BatchingRoundBackend``), assuming
that every finished attempt is still held and every decision still current,
and the database checks each assumption as it runs (nothing is read back
before the commit, and the decision numbers are not read under lock first).
PostgreSQL sends every statement of such a write at once with the commit, to
save network round trips; SQLite runs them one by one, to save statements.
When an assumption fails (another process took an attempt or decided an
execution meanwhile, which is rare) the batch is rolled back and the same
write runs again statement by statement, as above, so the outcome is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from cadenza.model.errors import DefinitionNotFound, LeaseLost
from cadenza.model.events import Event
from cadenza.store.children import ended_by_force, link_children, rows_to_lock
from cadenza.store.protocol import (
    ClaimRequest,
    DecideFn,
    FinishRequest,
    RoundOutcome,
    RoundRequest,
)
from cadenza.store.quiet_rounds import known_work, round_lease, rows_after
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    DefinitionRecord,
    NewTaskLease,
    TaskRecord,
    claim_order,
)
from cadenza.store.round_backend import (
    BatchedRoundWriter,
    NotCurrent,
    QuietRound,
    RoundBackend,
    RoundReader,
    RoundWriter,
)


def run_round(backend: RoundBackend, request: RoundRequest, decide: DecideFn) -> RoundOutcome:
    """One round (see the module docstring) on ``backend``."""
    finished = sorted({f.execution_id for f in request.finishes})
    claim = request.claim if request.claim is not None and request.claim.limit > 0 else None
    known = known_work(request, finished)
    inbox_ids: dict[str, list[int]]
    if known is not None:
        (works, inbox_ids), due = known, False
    else:
        with backend.reading() as reader:
            works, inbox_ids = (
                _load_work(reader, request, finished) if request.decide_limit > 0 else ([], {})
            )
            # Only an otherwise idle round asks whether a claim would find anything:
            # it must not open a write transaction (and count a commit) for nothing.
            due = (
                claim is not None
                and (bool(works) or reader.has_due_tasks(claim, request.now))
                and not request.finishes
            )
    results = decide(works) if works else []
    if not (request.finishes or results or due):
        return RoundOutcome(saved=[], refused=[], claimed=[], lost=[])

    now = request.now
    by_id = {work.execution_id: work for work in works}
    # Looked up, not isinstance() of a runtime protocol, which costs more than
    # a small round's whole decision.
    batched_writing = getattr(backend, "batched_writing", None)
    if batched_writing is not None:
        batched = _write_batched(
            batched_writing,
            getattr(backend, "quiet_round", None),
            request,
            claim,
            results,
            by_id,
            inbox_ids,
            known is not None,
        )
        if batched is not None:
            return batched
    with backend.writing() as writer:
        lost = [f for f in request.finishes if not writer.finish(f, now)]
        lost_in = {f.execution_id for f in lost}
        current = writer.decision_numbers(
            rows_to_lock([f.execution_id for f in request.finishes], results, by_id)
        )
        saved: list[DecisionResult] = []
        refused: list[str] = []
        for result in results:
            work = by_id[result.execution_id]
            if _is_stale(work, result, current) or result.execution_id in lost_in:
                refused.append(result.execution_id)
            else:
                saved.append(result)
        _consume(writer, saved, inbox_ids, by_id)
        lease, rest = round_lease(claim, saved, now, known is not None)
        leased = writer.save([(by_id[r.execution_id], r) for r in saved], now, lease)
        deliveries = link_children(
            writer,
            [(by_id[r.execution_id].status, r) for r in saved],
            now,
            {r.execution_id: by_id[r.execution_id].family for r in saved},
        ) + _undecided_finish_events(request.finishes, lost, saved, inbox_ids)
        writer.deliver(deliveries, now)
        if rest is not None:
            leased = leased + writer.claim(rest, now)
    return RoundOutcome(
        saved,
        refused,
        sorted(leased, key=claim_order),
        lost,
        rows_after(saved, by_id),
        len(deliveries),
    )


def _write_batched(
    batched_writing: Callable[[int], AbstractContextManager[BatchedRoundWriter] | None],
    quiet_round: QuietRound | None,
    request: RoundRequest,
    claim: ClaimRequest | None,
    results: Sequence[DecisionResult],
    by_id: dict[str, DecisionWork],
    inbox_ids: dict[str, list[int]],
    quiet: bool,
) -> RoundOutcome | None:
    """The write phase as one batch, assuming no finish is lost and no decision
    stale; None (and nothing written) when that did not hold. A ``quiet`` round
    (one that read nothing) claims only its own new tasks, leased as inserted."""
    now = request.now
    ids = [r.execution_id for r in results]
    loaded = {execution_id: by_id[execution_id].decision_no for execution_id in ids}
    if any(_is_stale(by_id[r.execution_id], r, loaded) for r in results):
        return None  # a result that does not follow its work: the careful path refuses it
    decisions = [(by_id[r.execution_id], r) for r in results]
    rows = sum(len(r.appended) + len(r.tasks) for r in results)
    writing = batched_writing(rows)
    if writing is None:
        return None
    lease, rest = round_lease(claim, results, now, quiet)
    try:
        # A backend may write a round that read nothing, and whose write only
        # ends attempts, saves decisions and inserts tasks, in one go.
        one_go = (
            quiet_round(request.finishes, decisions, lease, now)
            if quiet_round is not None
            and quiet
            and _plain_write(request, results, by_id, inbox_ids)
            else None
        )
        if one_go is not None:
            claimed, delivered = one_go, 0
        else:
            with writing as writer:
                answer, delivered = _write_each(writer, request, rest, decisions, inbox_ids, lease)
            claimed = answer()
    except NotCurrent:
        return None
    return RoundOutcome(
        list(results),
        [],
        sorted(claimed, key=claim_order),
        [],
        rows_after(results, by_id),
        delivered,
    )


def _write_each(
    writer: BatchedRoundWriter,
    request: RoundRequest,
    claim: ClaimRequest | None,
    decisions: list[tuple[DecisionWork, DecisionResult]],
    inbox_ids: dict[str, list[int]],
    lease: NewTaskLease | None,
) -> tuple[Callable[[], list[TaskRecord]], int]:
    """The batched write statement by statement (each queued); the tasks leased as
    inserted and those ``claim`` takes, answered after the commit, and how many
    events it delivered to inboxes."""
    now = request.now
    results = [result for _work, result in decisions]
    ids = [result.execution_id for result in results]
    if request.finishes:
        writer.finish_all_later(request.finishes, now)
    # The rows are locked first, in one order, with those the round delivers
    # to (two deciders cannot deadlock, see ``rows_to_lock``), and before the
    # save: the save sets each row's pending_since from the inbox as its
    # statement sees it, so an inbox row written by a transaction that
    # committed while the save waited for the row would be missed, its
    # execution never marked pending. Locked first, such a writer waits for
    # this commit instead. A round that decides nothing locks only as it
    # delivers, in one statement.
    if ids:
        works = {work.execution_id: work for work, _result in decisions}
        writer.lock_executions_later(
            rows_to_lock([f.execution_id for f in request.finishes], results, works)
        )
    wanted = [row_id for r in results for row_id in inbox_ids[r.execution_id][: r.consumed_inputs]]
    if wanted:
        writer.consume_inbox_later(wanted)
    # Where nothing is saved or claimed, the answer is empty.
    leased = writer.save_later(decisions, now, lease) if decisions else list
    statuses = [(work.status, result) for work, result in decisions]
    families = {work.execution_id: work.family for work, _result in decisions}
    deliveries = link_children(writer, statuses, now, families) + _undecided_finish_events(
        request.finishes, [], results, inbox_ids
    )
    writer.deliver(deliveries, now)
    if claim is None:
        return leased, len(deliveries)
    claimed = writer.claim_later(claim, now)
    return (lambda: leased() + claimed()), len(deliveries)


def _plain_write(
    request: RoundRequest,
    results: Sequence[DecisionResult],
    by_id: dict[str, DecisionWork],
    inbox_ids: dict[str, list[int]],
) -> bool:
    """Whether the write of these decisions only ends the round's attempts, saves
    the decisions and inserts their tasks: nothing started, withdrawn, relayed
    or timed, no execution ending or changing status that a parent or child
    may have to hear of, no inbox row consumed and every finish event decided."""
    for result in results:
        work = by_id[result.execution_id]
        if (
            result.children
            or result.relayed
            or result.canceled_tasks
            or result.timers
            or ((result.completed or result.status != work.status) and not _alone(work))
            or ended_by_force(result)
            or inbox_ids.get(result.execution_id)
        ):
            return False
    return not _undecided_finish_events(request.finishes, [], results, inbox_ids)


def _alone(work: DecisionWork) -> bool:
    """Whether the execution is known to have no parent and no child: its end
    or change of status is then no one else's news (``link_children`` would
    deliver nothing)."""
    family = work.family
    return family is not None and family.parent_id is None and not family.has_children


def _is_stale(work: DecisionWork, result: DecisionResult, current: dict[str, int]) -> bool:
    """Whether ``result`` cannot be saved: its execution moved past the decision the
    work was loaded at, or the result does not follow that decision (it was
    decided from other work, such as an earlier round's)."""
    if current.get(result.execution_id) != work.decision_no:
        return True
    first = result.appended[0][0] if result.appended else result.decision_no
    return first != work.decision_no + 1 or result.decision_no <= work.decision_no


def _undecided_finish_events(
    finishes: Sequence[FinishRequest],
    lost: Sequence[FinishRequest],
    saved: Sequence[DecisionResult],
    inbox_ids: dict[str, list[int]],
) -> list[tuple[str, Event]]:
    """The events of finished attempts that no saved decision consumed, in order:
    they go to the inbox, to be decided later."""
    # A saved decision consumed its inbox first, then this many finish events.
    taken = {
        r.execution_id: max(0, r.consumed_inputs - len(inbox_ids[r.execution_id])) for r in saved
    }
    lost_ids = {id(f) for f in lost}
    left: list[tuple[str, Event]] = []
    for finish in finishes:
        if id(finish) in lost_ids:
            continue
        for event in finish.finish.events:
            if taken.get(finish.execution_id, 0) > 0:
                taken[finish.execution_id] -= 1
            else:
                left.append((finish.execution_id, event))
    return left


def _load_work(
    reader: RoundReader, request: RoundRequest, finished: Sequence[str]
) -> tuple[list[DecisionWork], dict[str, list[int]]]:
    pending = reader.pending_work(request, finished)
    if not pending:
        return [], {}
    rows = [row for row, _inbox in pending]
    inboxes = {row.id: inbox for row, inbox in pending}
    wanted = sorted(
        {row.definition_id for row in rows if row.definition_id not in request.known_definitions}
    )
    definitions = reader.definitions(wanted) if wanted else {}
    # An interpreter state the caller does not hold is rebuilt from the last
    # snapshot plus the history recorded after it.
    rebuild = [
        row.id
        for row in rows
        if row.decision_no > 0 and request.held.get(row.id) != row.decision_no
    ]
    snapshots, histories = reader.snapshots_and_tails(rebuild) if rebuild else ({}, {})
    finishing: dict[str, list[Event]] = {}
    for finish in request.finishes:
        finishing.setdefault(finish.execution_id, []).extend(finish.finish.events)
    works = []
    for row in rows:
        definition: DefinitionRecord | None = None
        if row.definition_id in wanted:
            definition = definitions.get(row.definition_id)
            if definition is None:
                raise DefinitionNotFound(f"no definition with id {row.definition_id!r}")
        inbox = inboxes.get(row.id, [])
        extra = finishing.get(row.id, [])
        works.append(
            row.work(
                [entry.event for entry in inbox] + list(extra),
                [entry.time for entry in inbox] + [request.now] * len(extra),
                snapshot=snapshots.get(row.id),
                history=histories.get(row.id, []) if row.id in rebuild else None,
                definition=definition,
            )
        )
    return works, {row.id: [entry.id for entry in inboxes.get(row.id, [])] for row in rows}


def _consume(
    writer: RoundWriter,
    saved: Sequence[DecisionResult],
    inbox_ids: dict[str, list[int]],
    by_id: dict[str, DecisionWork],
) -> None:
    # Delete the exact rows that were decided, not "every row up to the last
    # one": ids are handed out before commit, so a row with a smaller id can
    # become visible after the inbox was read.
    consumed = {r.execution_id: inbox_ids[r.execution_id][: r.consumed_inputs] for r in saved}
    wanted = [row_id for ids in consumed.values() for row_id in ids]
    if not wanted:
        return
    gone = writer.consume_inbox(wanted)
    for execution_id, ids in consumed.items():
        if not gone.issuperset(ids):
            # Only a decision consumes inbox rows, and every decision moves the
            # decision number, which was checked under lock: this cannot
            # happen unless two writers broke the protocol. Save nothing.
            raise LeaseLost(
                f"execution {execution_id!r} lost inbox events that another decision "
                f"consumed (after decision {by_id[execution_id].decision_no}); nothing of "
                "this round was saved",
                execution_id=execution_id,
                decision_no=by_id[execution_id].decision_no,
            )


def attempt_lost(request: FinishRequest) -> LeaseLost:
    """The error for finishing an attempt its owner no longer holds."""
    return LeaseLost(
        f"task {request.task_id!r} of execution {request.execution_id!r} "
        f"(attempt {request.attempt}) is no longer held by this owner",
        execution_id=request.execution_id,
        task_id=request.task_id,
        attempt=request.attempt,
    )
