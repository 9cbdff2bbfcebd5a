"""DecisionRounds, one store object at a time: what a round loads, saves and refuses.

Rounds racing other store objects are in ``test_decision_races``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from cadenza.model.events import (
    CancelRequested,
    ExecutionStarted,
    PauseRequested,
    ResumeRequested,
    TaskCompleted,
    TaskScheduled,
)
from cadenza.store.protocol import ClaimRequest, FinishRequest, Store
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    Family,
    FinishOutcome,
    NewChild,
    TaskFinish,
)

from .conftest import (
    DEFINITION,
    NOW,
    OTHER_KIND,
    Recorder,
    claim,
    fold_inputs,
    history,
    inbox,
    new_task,
    one_task_each,
    pending,
    planned,
    result_for,
    run,
    start,
    start_with_tasks,
    types_of,
)

CLAIM = ClaimRequest("me", ("default",), 100, 30.0)


def done(
    execution_id: str, task_id: str = "t1", attempt: int = 1, owner: str = "w"
) -> FinishRequest:
    """A finish that ends the attempt with ``TaskCompleted``."""
    completed = TaskCompleted(task_id=task_id, result={"from": execution_id}, attempt=attempt)
    return FinishRequest(
        execution_id, task_id, attempt, owner, TaskFinish(FinishOutcome.DONE, [completed])
    )


# --- one commit ---------------------------------------------------------------------------


def test_one_round_decides_many_executions_and_claims_with_one_commit(store: Store) -> None:
    ids = start(store, 5)
    commits = store.commits
    outcome = run(store, one_task_each, decide_limit=10, claim=CLAIM)
    assert store.commits == commits + 1
    assert [r.execution_id for r in outcome.saved] == ids  # oldest waiting first
    assert outcome.decided == 5
    assert (outcome.refused, outcome.lost) == ([], [])
    # The tasks the round's own decisions scheduled are claimed by it.
    assert sorted((t.execution_id, t.task_id) for t in outcome.claimed) == [(i, "t1") for i in ids]
    assert {(t.lease_owner, t.attempt, t.status) for t in outcome.claimed} == {("me", 1, "claimed")}
    for execution_id in ids:
        assert history(store, execution_id) == [
            (1, 1, "ExecutionStarted"),
            (2, 1, "TaskScheduled"),
        ]
        record = store.load_execution(execution_id)
        assert (record.status, record.last_seq, record.updated_at) == ("running", 2, NOW)
    assert pending(store) == {}


def test_an_idle_round_neither_decides_nor_commits(store: Store) -> None:
    recorder = Recorder()
    commits = store.commits
    outcome = run(store, recorder, claim=CLAIM)
    assert recorder.calls == []
    assert (outcome.saved, outcome.refused, outcome.claimed, outcome.lost) == ([], [], [], [])
    assert store.commits == commits


def test_a_decider_that_decides_nothing_leaves_the_work_as_it_was(store: Store) -> None:
    ids = start(store, 2)
    outcome = run(store, Recorder(lambda works: []), claim=CLAIM)
    assert (outcome.saved, outcome.refused, outcome.claimed) == ([], [], [])
    assert sorted(pending(store)) == ids
    assert [store.read_history(i) for i in ids] == [[], []]
    assert [inbox(store, i) for i in ids] == [
        [ExecutionStarted(seed=0)],
        [ExecutionStarted(seed=1)],
    ]


def test_decide_limit_takes_the_oldest_waiting_first(store: Store) -> None:
    ids = start(store, 5)
    recorder = Recorder()
    assert [r.execution_id for r in run(store, recorder, decide_limit=2).saved] == ids[:2]
    assert [w.execution_id for w in recorder.calls[-1]] == ids[:2]
    # ids[0] waits again, now behind the ones that waited all along.
    store.deliver(ids[0], [ResumeRequested()], NOW + 100)
    assert [r.execution_id for r in run(store, decide_limit=3).saved] == [ids[2], ids[3], ids[4]]
    assert [r.execution_id for r in run(store, decide_limit=3).saved] == [ids[0]]


def test_decide_limit_zero_decides_nothing(store: Store) -> None:
    ids = start(store, 2)
    recorder = Recorder()
    commits = store.commits
    outcome = run(store, recorder, decide_limit=0)
    assert recorder.calls == [] and outcome.saved == [] and store.commits == commits
    assert sorted(pending(store)) == ids


def test_a_work_the_decider_leaves_out_stays_pending_untouched(store: Store) -> None:
    ids = start(store, 3)
    outcome = run(store, planned({ids[1]: lambda w: result_for(w)}))
    assert [r.execution_id for r in outcome.saved] == [ids[1]]
    left = pending(store)
    assert sorted(left) == [ids[0], ids[2]]
    assert left[ids[0]].inputs == [ExecutionStarted(seed=0)]
    assert (left[ids[0]].decision_no, left[ids[0]].next_seq) == (0, 1)
    assert store.read_history(ids[0]) == []
    assert store.load_execution(ids[0]).status == "requested"


# --- what a work holds -------------------------------------------------------------------


def test_a_first_work_has_the_definition_and_no_state_to_rebuild(store: Store) -> None:
    (execution_id,) = start(store, 1)
    work = pending(store)[execution_id]
    assert work == DecisionWork(
        execution_id=execution_id,
        definition_id=DEFINITION.id,
        kind=DEFINITION.kind,
        status="requested",
        decision_no=0,
        next_seq=1,
        snapshot_seq=0,
        inputs=[ExecutionStarted(seed=0)],
        input_times=[NOW],
        snapshot=None,
        history=None,
        definition=DEFINITION,
        family=Family(None, None, False),
    )


def test_a_later_work_has_the_saved_snapshot_and_the_history_after_it(store: Store) -> None:
    (execution_id,) = start(store, 1)
    run(store, one_task_each)
    store.deliver(execution_id, [PauseRequested()], NOW + 1)
    work = pending(store)[execution_id]
    assert (work.decision_no, work.next_seq, work.snapshot_seq) == (1, 3, 2)
    assert (work.status, work.snapshot, work.history) == ("running", {"decision": 1}, [])
    assert work.inputs == [PauseRequested()]

    # Decision 2 keeps the previous snapshot: its events are replayed on top.
    run(store, planned({execution_id: lambda w: result_for(w, snapshot=None)}), now=NOW + 2)
    store.deliver(execution_id, [ResumeRequested()], NOW + 3)
    work = pending(store)[execution_id]
    assert (work.decision_no, work.next_seq, work.snapshot_seq) == (2, 4, 2)
    assert work.snapshot == {"decision": 1}
    assert work.history == store.read_history(execution_id, after_seq=2)
    assert [(r.seq, r.event.type) for r in work.history] == [(3, "PauseRequested")]


def test_held_states_and_known_definitions_are_not_loaded(store: Store) -> None:
    (execution_id,) = start(store, 1)
    assert pending(store, known_definitions={DEFINITION.id})[execution_id].definition is None
    run(store)
    store.deliver(execution_id, [ResumeRequested()], NOW + 1)

    held = pending(store, held={execution_id: 1}, known_definitions={DEFINITION.id})
    work = held[execution_id]
    assert (work.snapshot, work.history, work.definition) == (None, None, None)
    assert work.inputs == [ResumeRequested()] and work.decision_no == 1

    # A state held at another decision number, or another definition, is loaded.
    stale = pending(store, held={execution_id: 7}, known_definitions={"other"})[execution_id]
    assert stale.snapshot == {"decision": 1} and stale.history == []
    assert stale.definition == DEFINITION


# --- what a result saves ------------------------------------------------------------------


def test_a_completed_result_saves_output_and_errors_and_a_later_one_keeps_them(
    store: Store,
) -> None:
    (execution_id,) = start(store, 1)
    errors = [{"type": "boom", "message": "ünïcode"}]
    run(
        store,
        planned(
            {
                execution_id: lambda w: result_for(
                    w, status="failed", completed=True, output={"x": [1, None]}, errors=errors
                )
            }
        ),
        now=NOW + 1,
    )
    record = store.load_execution(execution_id)
    assert (record.status, record.output, record.errors) == ("failed", {"x": [1, None]}, errors)
    assert record.updated_at == NOW + 1

    store.deliver(execution_id, [ResumeRequested()], NOW + 2)
    run(
        store,
        planned({execution_id: lambda w: result_for(w, status="running", output="ignored")}),
        now=NOW + 3,
    )
    record = store.load_execution(execution_id)
    assert (record.status, record.output, record.errors) == ("running", {"x": [1, None]}, errors)
    assert record.updated_at == NOW + 3


def test_a_result_enqueues_tasks_and_timers_and_withdraws_canceled_tasks(store: Store) -> None:
    (execution_id,) = start(store, 1)
    tasks = [new_task("a"), new_task("b"), new_task("c")]
    run(store, planned({execution_id: lambda w: result_for(w, tasks=tasks, timers=[("z", NOW)])}))
    assert types_of(store, execution_id) == ["ExecutionStarted"] + ["TaskScheduled"] * 3
    (taken,) = claim(store, limit=1)
    assert taken.task_id == "a"

    # Canceling withdraws a task whatever its state: queued (b) or claimed (a).
    assert store.fire_due_timers(NOW, 10) == 1
    run(store, planned({execution_id: lambda w: result_for(w, canceled=["a", "b"])}))
    assert [(t.task_id, t.attempt) for t in claim(store)] == [("c", 1)]
    assert store.heartbeat_tasks("w", [(execution_id, "a")], 30, NOW) == set()
    assert store.lease_owners() == ["w"]  # c only
    assert store.expired_tasks(NOW + 1000, 10)[0].task_id == "c"


def test_a_decision_may_consume_only_part_of_its_inputs(store: Store) -> None:
    (execution_id,) = start(store, 1)
    store.deliver(execution_id, [PauseRequested(), ResumeRequested()], NOW + 1)
    run(store, planned({execution_id: lambda w: result_for(w, consumed=1)}))
    assert types_of(store, execution_id) == ["ExecutionStarted"]
    assert inbox(store, execution_id) == [PauseRequested(), ResumeRequested()]
    assert pending(store)[execution_id].input_times == [NOW + 1, NOW + 1]
    run(store, now=NOW + 2)
    assert types_of(store, execution_id) == [
        "ExecutionStarted",
        "PauseRequested",
        "ResumeRequested",
    ]
    assert [r.decision for r in store.read_history(execution_id)] == [1, 2, 2]
    assert pending(store) == {}


# --- kinds --------------------------------------------------------------------------------


def test_kinds_leave_other_kinds_pending(store: Store) -> None:
    steps = start(store, 2, prefix="s")
    states = start(store, 2, prefix="x", definition=OTHER_KIND)
    recorder = Recorder()
    outcome = run(store, recorder, kinds=frozenset({"steps"}))
    assert sorted(r.execution_id for r in outcome.saved) == steps
    assert {w.kind for w in recorder.calls[-1]} == {"steps"}
    left = pending(store)
    assert sorted(left) == states
    assert all(left[i].inputs == [ExecutionStarted(seed=n)] for n, i in enumerate(states))

    assert run(store, recorder, kinds=frozenset()).saved == []
    assert run(store, recorder, kinds=frozenset({"nothing"})).saved == []
    assert sorted(pending(store)) == states
    outcome = run(store, kinds=frozenset({"states", "steps"}))
    assert sorted(r.execution_id for r in outcome.saved) == states


# --- finished attempts ---------------------------------------------------------------------


def test_finished_attempts_are_decided_in_the_same_round_with_one_commit(store: Store) -> None:
    ids = start_with_tasks(store, 2)
    assert len(claim(store)) == 2
    commits = store.commits
    recorder = Recorder()
    finishes = [done(i) for i in ids]
    outcome = run(store, recorder, finishes=finishes, now=NOW + 5)

    assert store.commits == commits + 1
    assert sorted(r.execution_id for r in outcome.saved) == ids
    assert (outcome.refused, outcome.lost) == ([], [])
    works = recorder.works
    for execution_id, finish in zip(ids, finishes, strict=True):
        assert works[execution_id].inputs == list(finish.finish.events)
        assert works[execution_id].input_times == [NOW + 5]
        # Recorded as an input of the decision this round saved.
        last = store.read_history(execution_id)[-1]
        assert (last.seq, last.decision, last.time) == (3, 2, NOW + 5)
        assert last.event == finish.finish.events[0]
    assert pending(store) == {}  # nothing was left in an inbox
    assert store.lease_owners() == [] and claim(store) == []


@pytest.mark.parametrize("why", ["no decide_limit", "left out", "other kind"])
def test_finished_events_go_to_the_inbox_when_their_execution_is_not_decided(
    store: Store, why: str
) -> None:
    (execution_id,) = start_with_tasks(store, 1)
    claim(store)
    requests: dict[str, dict[str, Any]] = {
        "no decide_limit": {"decide_limit": 0},
        "left out": {},
        "other kind": {"kinds": frozenset({"states"})},
    }
    request = requests[why]
    decide = planned({}) if why == "left out" else fold_inputs
    finish = done(execution_id)
    outcome = run(store, decide, finishes=[finish], now=NOW + 5, **request)
    assert (outcome.saved, outcome.refused, outcome.lost) == ([], [], [])
    assert store.lease_owners() == []  # the attempt did end
    work = pending(store)[execution_id]
    assert work.inputs == list(finish.finish.events) and work.input_times == [NOW + 5]
    assert types_of(store, execution_id) == ["ExecutionStarted", "TaskScheduled"]


def test_a_round_decides_its_finishes_before_older_waiting_work_but_keeps_a_share(
    store: Store,
) -> None:
    running = start_with_tasks(store, 4, prefix="r")
    assert len(claim(store)) == 4
    waiting = start(store, 6, prefix="w", at=NOW + 1)  # all older than the finishes
    finishes = [done(i) for i in running]
    # decide_limit 8 keeps 2 for the oldest waiting: then the 4 finishing, then
    # the next oldest waiting ones fill what is left.
    outcome = run(store, fold_inputs, finishes=finishes, decide_limit=8, now=NOW + 50)
    decided = {r.execution_id for r in outcome.saved}
    assert decided == set(running) | set(waiting[:4])
    assert sorted(pending(store)) == waiting[4:]  # no finish went to an inbox


def test_finishes_beyond_the_share_go_to_the_inbox_behind_the_oldest(store: Store) -> None:
    running = start_with_tasks(store, 4, prefix="r")
    assert len(claim(store)) == 4
    waiting = start(store, 2, prefix="w", at=NOW + 1)
    outcome = run(
        store, fold_inputs, finishes=[done(i) for i in running], decide_limit=4, now=NOW + 50
    )
    # One of four is kept for the oldest waiting; three finishing fill the rest.
    assert {r.execution_id for r in outcome.saved} == {waiting[0], *running[:3]}
    left = pending(store)
    assert sorted(left) == [running[3], waiting[1]]
    assert left[running[3]].input_times == [NOW + 50]


def test_a_lost_finish_refuses_its_executions_decision_and_no_other(store: Store) -> None:
    tainted, fine = start_with_tasks(store, 2)
    claim(store)
    store.deliver(tainted, [ResumeRequested()], NOW + 1)
    lost = done(tainted, attempt=2)  # the attempt held is 1
    outcome = run(store, finishes=[lost, done(fine)], now=NOW + 2)

    assert outcome.lost == [lost]
    assert outcome.refused == [tainted]
    assert [r.execution_id for r in outcome.saved] == [fine]
    assert types_of(store, fine)[-1] == "TaskCompleted"
    # Nothing of the tainted execution was saved or consumed, and the lost
    # attempt's events were not delivered.
    assert types_of(store, tainted) == ["ExecutionStarted", "TaskScheduled"]
    assert inbox(store, tainted) == [ResumeRequested()]
    assert store.heartbeat_tasks("w", [(tainted, "t1"), (fine, "t1")], 30, NOW) == {(tainted, "t1")}


def test_the_held_finishes_of_a_tainted_execution_still_deliver_their_events(
    store: Store,
) -> None:
    (execution_id,) = start_with_tasks(store, 1, new_task("a"), new_task("b"))
    claim(store)
    held, lost = done(execution_id, "a"), done(execution_id, "b", attempt=3)
    outcome = run(store, finishes=[held, lost])
    assert (outcome.lost, outcome.refused, outcome.saved) == ([lost], [execution_id], [])
    assert types_of(store, execution_id) == ["ExecutionStarted", "TaskScheduled", "TaskScheduled"]
    # The attempt that was held did end; its completion waits to be decided.
    assert inbox(store, execution_id) == list(held.finish.events)
    assert store.heartbeat_tasks("w", [(execution_id, "a"), (execution_id, "b")], 30, NOW) == {
        (execution_id, "b")
    }


@pytest.mark.parametrize("wrong", ["owner", "attempt", "finished already"])
def test_a_finish_of_an_attempt_no_longer_held_comes_back_lost(store: Store, wrong: str) -> None:
    (execution_id,) = start_with_tasks(store, 1)
    claim(store)
    if wrong == "finished already":
        store.finish_task(done(execution_id), NOW)
        finish = done(execution_id)
    else:
        finish = done(execution_id, **{"owner": "x"} if wrong == "owner" else {"attempt": 2})
    recorder = Recorder()
    outcome = run(store, recorder, finishes=[finish], decide_limit=0)
    assert outcome.lost == [finish] and outcome.saved == []
    assert recorder.calls == []
    events = inbox(store, execution_id)
    assert events == ([] if wrong != "finished already" else list(finish.finish.events))


def test_two_finishes_of_one_execution_are_decided_together(store: Store) -> None:
    (execution_id,) = start_with_tasks(store, 1, new_task("a"), new_task("b"))
    claim(store)
    store.deliver(execution_id, [PauseRequested()], NOW + 1)
    recorder = Recorder()
    outcome = run(store, recorder, finishes=[done(execution_id, "a"), done(execution_id, "b")])
    assert [r.execution_id for r in outcome.saved] == [execution_id]
    assert [e.type for e in recorder.works[execution_id].inputs] == [
        "PauseRequested",
        "TaskCompleted",
        "TaskCompleted",
    ]
    assert types_of(store, execution_id)[-3:] == [
        "PauseRequested",
        "TaskCompleted",
        "TaskCompleted",
    ]
    assert pending(store) == {}


def test_a_decision_consuming_part_of_the_finished_events_leaves_exactly_the_rest(
    store: Store,
) -> None:
    (execution_id,) = start_with_tasks(store, 1, new_task("a"), new_task("b"))
    claim(store)
    first, second = done(execution_id, "a"), done(execution_id, "b")
    run(
        store,
        planned({execution_id: lambda w: result_for(w, consumed=1)}),
        finishes=[first, second],
    )
    recorded = [r.event for r in store.read_history(execution_id)]
    assert recorded.count(first.finish.events[0]) == 1
    # The consumed event is recorded once and not delivered again.
    assert inbox(store, execution_id) == list(second.finish.events)


# --- a decision is never applied twice -------------------------------------------------------


def test_a_decision_saved_again_is_refused(store: Store) -> None:
    """A result computed from works that were decided and saved already (a caller
    that did not learn its commit happened, and offers the same result again)."""
    ids = start(store, 2)
    first = run(store, fold_inputs)
    assert first.decided == 2
    saved = {i: history(store, i) for i in ids}
    for execution_id in ids:
        store.deliver(execution_id, [ResumeRequested()], NOW + 1)

    again = Recorder(lambda works: list(first.saved))
    outcome = run(store, again, now=NOW + 2)
    assert [w.decision_no for w in again.calls[-1]] == [1, 1]
    assert sorted(outcome.refused) == ids
    assert outcome.saved == []
    assert {i: history(store, i) for i in ids} == saved
    assert [store.load_execution(i).last_seq for i in ids] == [1, 1]
    # The events that arrived meanwhile were not lost: the next round decides them.
    assert all(inbox(store, i) == [ResumeRequested()] for i in ids)
    assert run(store, now=NOW + 3).decided == 2
    assert history(store, ids[0]) == [(1, 1, "ExecutionStarted"), (2, 2, "ResumeRequested")]


def test_a_result_computed_from_a_stale_work_is_refused_and_the_fresh_one_saved(
    store: Store,
) -> None:
    fresh_id, stale_id = start(store, 2)
    old = pending(store)
    run(store, one_task_each)  # decision 1 of both
    store.deliver(fresh_id, [ResumeRequested()], NOW + 1)
    store.deliver(stale_id, [CancelRequested()], NOW + 1)
    before = history(store, stale_id)

    def decide(works: list[DecisionWork]) -> list[DecisionResult]:
        # The fresh execution is decided from what the round loaded; the other
        # from its work before decision 1, as a slow decider would have it.
        now = {w.execution_id: w for w in works}
        return [result_for(now[fresh_id]), result_for(old[stale_id])]

    outcome = run(store, decide, now=NOW + 2)
    assert [r.execution_id for r in outcome.saved] == [fresh_id]
    assert outcome.refused == [stale_id]
    assert types_of(store, fresh_id)[-1] == "ResumeRequested"
    assert history(store, stale_id) == before
    assert inbox(store, stale_id) == [CancelRequested()]


def test_a_result_is_saved_with_its_own_inputs_times(store: Store) -> None:
    (execution_id,) = start(store, 1, at=NOW + 0.5)
    outcome = run(store, one_task_each, now=NOW + 9)
    (saved,) = outcome.saved
    assert saved.appended[0] == (1, NOW + 0.5, ExecutionStarted(seed=0))
    recorded = store.read_history(execution_id)
    assert [(r.time, r.event) for r in recorded] == [
        (NOW + 0.5, ExecutionStarted(seed=0)),
        (NOW, TaskScheduled(task_id="t1", name="t", action="x")),
    ]


def test_a_work_knows_who_started_its_execution_and_whether_it_started_any(
    store: Store,
) -> None:
    # The round reads each execution's links along with its row (``Family``),
    # so the write of a decision that ends it need not look them up.
    (parent,) = start(store, 1, prefix="parent")
    child = NewChild("kid", "call", "call", DEFINITION.id, {"n": 1}, {})
    outcome = run(store, planned({parent: lambda w: replace(result_for(w), children=[child])}))
    assert [r.execution_id for r in outcome.saved] == [parent]
    assert outcome.rows[parent].family == Family(None, None, True)
    works = pending(store)
    assert works["kid"].family == Family(parent, "call", False)

    # The child ends: its parent hears of it as the task's completion, found
    # from the links the round read.
    ended = run(
        store,
        planned({"kid": lambda w: result_for(w, status="succeeded", completed=True, output=7)}),
        now=NOW + 1,
    )
    assert [r.execution_id for r in ended.saved] == ["kid"] and ended.delivered == 1
    (event,) = pending(store)[parent].inputs
    assert isinstance(event, TaskCompleted) and event.task_id == "call" and event.result == 7
    assert pending(store)[parent].family == Family(None, None, True)
