"""The rows a round's write locks first, in one statement: the executions it
decides, the parents their decisions report to, and the executions whose
finished attempts it delivers, so that two rounds in two processes never wait
for each other's rows (a child's end reported to its parent, decided
elsewhere, whose round delivers a finish to the child)."""

from __future__ import annotations

from cadenza.store.children import rows_to_lock
from cadenza.store.records import DecisionResult, DecisionWork, Family


def _work(execution_id: str, status: str, parent: str | None) -> DecisionWork:
    family = Family(parent, "task" if parent else None, False)
    return DecisionWork(execution_id, "d", "k", status, 1, 1, 0, [], [], family=family)


def _result(execution_id: str, status: str, *, completed: bool = False) -> DecisionResult:
    return DecisionResult(execution_id, 2, 0, [], None, status, completed=completed)


def test_decided_parents_told_and_finished_executions_in_id_order() -> None:
    works = {
        "c-ends": _work("c-ends", "running", parent="p-1"),
        "c-pauses": _work("c-pauses", "running", parent="p-2"),
        "c-goes-on": _work("c-goes-on", "running", parent="p-3"),
        "lone": _work("lone", "running", parent=None),
    }
    results = [
        _result("c-ends", "succeeded", completed=True),
        _result("c-pauses", "paused"),
        _result("c-goes-on", "running"),
        _result("lone", "succeeded", completed=True),
    ]
    locked = rows_to_lock(["a-finished", "c-ends"], results, works)
    # p-3 is not told anything: its child is still running as before.
    assert locked == ["a-finished", "c-ends", "c-goes-on", "c-pauses", "lone", "p-1", "p-2"]


def test_a_child_whose_links_were_not_read_adds_no_parent() -> None:
    work = DecisionWork("c", "d", "k", "running", 1, 1, 0, [], [])
    assert rows_to_lock([], [_result("c", "failed", completed=True)], {"c": work}) == ["c"]
