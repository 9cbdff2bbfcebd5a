"""ExecutionStore: executions, their append-only histories and their inboxes."""

from __future__ import annotations

import pytest

from cadenza.model.errors import ExecutionNotFound, StoreError
from cadenza.model.events import (
    CancelRequested,
    ExecutionStarted,
    PauseRequested,
    ResumeRequested,
    TaskCompleted,
)
from cadenza.store.protocol import Store
from cadenza.store.records import DecisionWork

from .conftest import (
    DEFINITION,
    NOW,
    inbox,
    pending,
    planned,
    result_for,
    run,
    start,
    types_of,
)

# --- creating and loading ------------------------------------------------------------


def test_a_new_execution_waits_with_its_first_event_in_the_inbox(store: Store) -> None:
    first = ExecutionStarted(
        input={"n": 1, "text": "é"}, context={"parent": "p"}, seed=42, meta={"k": [1, 2]}
    )
    store.create_execution("e1", DEFINITION, first, NOW + 0.5)

    record = store.load_execution("e1")
    assert (record.id, record.definition_id, record.kind, record.name) == (
        "e1",
        DEFINITION.id,
        DEFINITION.kind,
        DEFINITION.name,
    )
    assert record.status == "requested"
    assert record.created_at == record.updated_at == NOW + 0.5
    assert (record.output, record.errors, record.last_seq) == (None, [], 0)
    assert store.read_history("e1") == []

    work = pending(store)["e1"]
    assert work.inputs == [first]
    assert work.input_times == [NOW + 0.5]
    assert (work.decision_no, work.next_seq, work.status) == (0, 1, "requested")
    assert store.next_wakeup() == NOW + 0.5


def test_an_unknown_execution_is_not_found(store: Store) -> None:
    start(store, 1)
    with pytest.raises(ExecutionNotFound) as caught:
        store.load_execution("nope")
    assert caught.value.code == "execution.not_found"
    assert "nope" in caught.value.message
    with pytest.raises(ExecutionNotFound):
        store.read_history("nope")
    with pytest.raises(ExecutionNotFound):
        store.read_history("nope", after_seq=3)


def test_an_execution_id_in_use_is_refused_and_nothing_changes(store: Store) -> None:
    store.create_execution("e", DEFINITION, ExecutionStarted(seed=1), NOW)
    with pytest.raises(StoreError):
        store.create_execution("e", DEFINITION, ExecutionStarted(seed=2), NOW + 5)
    assert inbox(store, "e") == [ExecutionStarted(seed=1)]
    assert store.load_execution("e").created_at == NOW
    assert [r.id for r in store.list_executions()] == ["e"]


# --- listing ------------------------------------------------------------------------


def _four_in_four_statuses(store: Store) -> None:
    for execution_id, created in (("a", NOW), ("b", NOW + 1), ("c", NOW + 2), ("d", NOW + 2)):
        store.create_execution(execution_id, DEFINITION, ExecutionStarted(), created)
    run(
        store,
        planned(
            {
                "a": lambda w: result_for(w, status="running"),
                "b": lambda w: result_for(w, status="succeeded", completed=True),
                "c": lambda w: result_for(w, status="failed", completed=True),
            }
        ),
    )


def test_executions_are_listed_newest_first(store: Store) -> None:
    _four_in_four_statuses(store)
    listed = store.list_executions()
    # c and d were created at the same moment: the larger id comes first.
    assert [r.id for r in listed] == ["d", "c", "b", "a"]
    assert [r.status for r in listed] == ["requested", "failed", "succeeded", "running"]
    assert [r.id for r in store.list_executions(limit=2)] == ["d", "c"]
    assert [r.id for r in store.list_executions(limit=1)] == ["d"]


def test_statuses_keep_only_those_and_excluding_drops_those(store: Store) -> None:
    _four_in_four_statuses(store)

    def ids(**filters: list[str]) -> list[str]:
        return [r.id for r in store.list_executions(**filters)]  # type: ignore[arg-type]

    assert ids(statuses=["running"]) == ["a"]
    assert ids(statuses=["succeeded", "failed"]) == ["c", "b"]
    assert ids(statuses=["nothing-has-this"]) == []
    assert ids(excluding=["requested"]) == ["c", "b", "a"]
    assert ids(excluding=["succeeded", "failed", "requested"]) == ["a"]
    assert ids(statuses=["running", "requested"], excluding=["requested"]) == ["a"]
    assert ids(statuses=[], excluding=[]) == ["d", "c", "b", "a"]


def test_listing_an_empty_store_gives_nothing(store: Store) -> None:
    assert store.list_executions() == []
    assert store.list_executions(statuses=["running"], excluding=["failed"]) == []


def test_executions_are_listed_by_definition_time_and_a_page_at_a_time(store: Store) -> None:
    from .conftest import OTHER_KIND

    ours = start(store, 3, prefix="a")  # NOW, NOW+1, NOW+2
    theirs = start(store, 2, prefix="b", definition=OTHER_KIND, at=NOW + 1)  # NOW+1, NOW+2
    # Ties on the creation time are ordered by id, newest (highest) first.
    everything = [r.id for r in store.list_executions()]
    assert everything == ["b001", "a002", "b000", "a001", "a000"]
    assert [r.id for r in store.list_executions(definition_id=DEFINITION.id)] == ours[::-1]
    assert [r.id for r in store.list_executions(kinds=[OTHER_KIND.kind])] == theirs[::-1]
    assert [r.id for r in store.list_executions(since=NOW + 1, until=NOW + 2)] == [
        "b000",
        "a001",
    ]
    pages: list[list[str]] = []
    before = None
    while True:
        page = store.list_executions(limit=2, before=before)
        if not page:
            break
        pages.append([r.id for r in page])
        before = (page[-1].created_at, page[-1].id)
    assert pages == [["b001", "a002"], ["b000", "a001"], ["a000"]]
    assert store.list_executions(limit=2, before=(NOW + 1, "b000"), statuses=["requested"]) == (
        store.list_executions(limit=2, before=(NOW + 1, "b000"))
    )


# --- history --------------------------------------------------------------------------


def test_history_is_read_in_order_after_a_sequence_number(store: Store) -> None:
    (execution_id,) = start(store, 1)
    run(store, planned({execution_id: lambda w: result_for(w, records=[PauseRequested()])}))
    store.deliver(execution_id, [ResumeRequested(), CancelRequested()], NOW + 3)
    run(store, now=NOW + 4)

    recorded = store.read_history(execution_id)
    assert [(r.seq, r.decision, r.event.type) for r in recorded] == [
        (1, 1, "ExecutionStarted"),
        (2, 1, "PauseRequested"),
        (3, 2, "ResumeRequested"),
        (4, 2, "CancelRequested"),
    ]
    assert [r.time for r in recorded] == [NOW, NOW, NOW + 3, NOW + 3]
    assert recorded[0].event == ExecutionStarted(seed=0)
    assert store.read_history(execution_id, after_seq=2) == recorded[2:]
    assert store.read_history(execution_id, after_seq=3) == recorded[3:]
    assert store.read_history(execution_id, after_seq=4) == []
    assert store.read_history(execution_id, after_seq=0) == recorded
    assert store.load_execution(execution_id).last_seq == 4


def test_history_keeps_every_character_and_time_exactly(store: Store) -> None:
    tricky = 'tab\t newline\n backslash\\ quote" nul\x00 é ☃ \\N 𝄞 \r\n'
    when = NOW + 0.1 + 1e-6
    store.create_execution("e", DEFINITION, ExecutionStarted(input={"s": tricky}), when)
    done = TaskCompleted(task_id="t", result={"text": tricky, tricky: [1.5e-300, -0.0, 2**53]})
    store.deliver("e", [done], when + 0.000_25)
    run(store)
    recorded = store.read_history("e")
    assert recorded[0].event == ExecutionStarted(input={"s": tricky})
    assert recorded[0].time == when
    assert recorded[1].event == done
    assert recorded[1].time == when + 0.000_25


# --- delivering -----------------------------------------------------------------------


def test_delivered_events_wait_in_order_after_the_first(store: Store) -> None:
    (execution_id,) = start(store, 1)
    store.deliver(execution_id, [PauseRequested(), ResumeRequested()], NOW + 1)
    store.deliver(execution_id, [CancelRequested()], NOW + 2)
    work = pending(store)[execution_id]
    assert [e.type for e in work.inputs] == [
        "ExecutionStarted",
        "PauseRequested",
        "ResumeRequested",
        "CancelRequested",
    ]
    assert work.input_times == [NOW, NOW + 1, NOW + 1, NOW + 2]


def test_a_delivery_wakes_a_decided_execution_again(store: Store) -> None:
    (execution_id,) = start(store, 1)
    run(store)
    assert pending(store) == {}
    assert store.next_wakeup() is None
    store.deliver(execution_id, [ResumeRequested()], NOW + 7)
    assert inbox(store, execution_id) == [ResumeRequested()]
    assert store.next_wakeup() == NOW + 7


def test_delivering_nothing_changes_nothing(store: Store) -> None:
    (execution_id,) = start(store, 1)
    run(store)
    store.deliver(execution_id, [], NOW + 1)
    assert pending(store) == {}
    assert store.next_wakeup() is None


def test_a_delivery_to_an_unknown_execution_is_refused_and_stores_nothing(
    store: Store,
) -> None:
    start(store, 1)
    with pytest.raises(ExecutionNotFound):
        store.deliver("nope", [ResumeRequested(), CancelRequested()], NOW - 10)
    with pytest.raises(ExecutionNotFound):
        store.deliver("nope", [], NOW)
    assert store.next_wakeup() == NOW  # not NOW - 10: nothing of it was kept
    assert list(pending(store)) == ["e000"]
    # An execution created later with that id starts with its own event only.
    store.create_execution("nope", DEFINITION, ExecutionStarted(seed=9), NOW + 1)
    assert inbox(store, "nope") == [ExecutionStarted(seed=9)]


# --- forgetting snapshots ---------------------------------------------------------------


def _decided_twice(store: Store, count: int) -> list[str]:
    ids = start(store, count)
    run(store)
    for execution_id in ids:
        store.deliver(execution_id, [ResumeRequested()], NOW + 10)
    return ids


def test_forgotten_snapshots_are_rebuilt_from_the_whole_history(store: Store) -> None:
    ids = _decided_twice(store, 3)
    before = pending(store)
    assert all(before[i].snapshot == {"decision": 1} for i in ids)
    assert all(before[i].history == [] for i in ids)

    assert store.forget_snapshots([ids[0]]) == 1
    after = pending(store)
    forgotten: DecisionWork = after[ids[0]]
    assert forgotten.snapshot is None and forgotten.snapshot_seq == 0
    assert forgotten.history == store.read_history(ids[0])
    assert [r.event.type for r in forgotten.history] == ["ExecutionStarted"]
    assert after[ids[1]].snapshot == {"decision": 1} and after[ids[1]].history == []
    assert types_of(store, ids[0]) == ["ExecutionStarted"]  # history is untouched


def test_forgetting_all_none_or_unknown_snapshots(store: Store) -> None:
    ids = _decided_twice(store, 3)
    assert store.forget_snapshots([]) == 0
    assert store.forget_snapshots(["nope"]) == 0
    assert all(w.snapshot == {"decision": 1} for w in pending(store).values())
    assert store.forget_snapshots() == 3
    after = pending(store)
    assert [after[i].snapshot for i in ids] == [None, None, None]
    assert all(after[i].history == store.read_history(i) for i in ids)


def test_executions_and_tasks_are_counted_by_kind_queue_and_status(store: Store) -> None:
    from .conftest import OTHER_KIND, new_task, start_with_tasks

    start(store, 2, prefix="a")
    start(store, 1, prefix="b", definition=OTHER_KIND)
    assert store.execution_counts() == {
        (DEFINITION.kind, "requested"): 2,
        (OTHER_KIND.kind, "requested"): 1,
    }
    start_with_tasks(store, 1, new_task("x", queue="q1"), new_task("y", queue="q2"), prefix="c")
    assert store.task_counts() == {("q1", "scheduled"): 1, ("q2", "scheduled"): 1}


# --- retention -------------------------------------------------------------------------


def test_deleting_executions_removes_final_ones_whole_and_leaves_live_ones(store: Store) -> None:
    ended, live = start(store, 2)
    run(
        store,
        planned(
            {
                ended: lambda w: result_for(
                    w, status="succeeded", completed=True, timers=[("t", NOW + 99)]
                ),
                live: lambda w: result_for(w, timers=[("t", NOW + 99)]),
            }
        ),
    )
    store.deliver(ended, [PauseRequested()], NOW)  # a late request, still in its inbox

    assert store.delete_executions([ended, live, "no-such-id"]) == 1

    with pytest.raises(ExecutionNotFound):
        store.load_execution(ended)
    with pytest.raises(ExecutionNotFound):
        store.read_history(ended)
    assert store.load_execution(live).status == "running"
    assert types_of(store, live) == ["ExecutionStarted"]
    assert store.delete_executions([]) == 0
