"""The JSON state of one Orquesta execution and the queries on it.

The state is a plain ``dict`` so that snapshots are ``json.dumps`` of it. Its shape
follows Orquesta's conductor state, which keeps the semantics easy to check:

* ``contexts``: list of dicts; 0 is the initial context, each publish appends one;
* ``routes``: list of branch paths (lists of transition ids); 0 is the root;
* ``sequence``: one entry per task occurrence (``id``, ``route``, ``ctxs.in``, ``prev``,
  ``next`` = transition id -> taken, ``status``, ``retry``, ``term``, ``result``);
* ``tasks``: ``"<task>__r<route>"`` -> index of the latest entry in ``sequence``;
* ``staged``: tasks waiting to run (``id``, ``route``, ``ctxs.in``, ``prev``, ``ready``,
  and for with-items ``items`` statuses and ``results``);
* ``status``, ``errors``, ``output``, ``input``, ``parent``;
* ``actions``: outstanding action runs by ``task_id`` (what a completion refers to);
* ``runs``: per ``"<task>__r<route>"``, how many action runs were handed out (task ids).

Per-step queries look at the latest entries (``tasks``) and the staged list, never at
the whole history, so a long loop does not make each step slower.
"""

from __future__ import annotations

from typing import Any

from cadenza.interpreters.orquesta.machines import ACTIVE

State = dict[str, Any]


def new_state() -> State:
    """The state before ``ExecutionStarted``."""
    return {
        "status": "null",
        "contexts": [],
        "routes": [],
        "sequence": [],
        "tasks": {},
        "staged": [],
        "errors": [],
        "output": None,
        "input": {},
        "parent": {},
        "actions": {},
        "runs": {},
        "reruns": [],
        "seed": 0,
        "draws": 0,
        "reported": None,
    }


def entry_key(task_id: str, route: int) -> str:
    return f"{task_id}__r{route}"


def get_entry(state: State, task_id: str, route: int) -> dict[str, Any] | None:
    index = state["tasks"].get(entry_key(task_id, route))
    return None if index is None else state["sequence"][index]


def entry_index(state: State, task_id: str, route: int) -> int | None:
    index = state["tasks"].get(entry_key(task_id, route))
    return None if index is None else int(index)


def latest_entries(state: State) -> list[dict[str, Any]]:
    """The latest entry of every (task, route), in sequence order."""
    return [state["sequence"][i] for i in sorted(state["tasks"].values())]


def has_status(state: State, statuses: frozenset[str] | set[str]) -> bool:
    return any(e.get("status") in statuses for e in latest_entries(state))


def has_active_tasks(state: State) -> bool:
    return has_status(state, ACTIVE)


def get_staged(state: State, task_id: str, route: int) -> dict[str, Any] | None:
    for staged in state["staged"]:
        if staged["id"] == task_id and staged["route"] == route:
            return staged  # type: ignore[no-any-return]
    return None


def ready_staged(state: State) -> list[dict[str, Any]]:
    """Staged tasks that may run now (ready and not flagged completed)."""
    return [s for s in state["staged"] if s["ready"] and not s.get("completed", False)]


def add_staged(
    state: State,
    task_id: str,
    route: int,
    ctxs: list[int],
    prev: dict[str, int],
    ready: bool,
    retry: dict[str, Any] | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": task_id,
        "ctxs": {"in": list(ctxs) or [0]},
        "route": route,
        "prev": dict(prev),
        "ready": ready,
    }
    if retry:
        entry["retry"] = retry
    state["staged"].append(entry)
    return entry


def remove_staged(state: State, task_id: str, route: int) -> None:
    """Unstage a task, unless some of its items are still running."""
    staged = get_staged(state, task_id, route)
    if staged is None:
        return
    if any(item["status"] in ACTIVE for item in staged.get("items", [])):
        return
    state["staged"].remove(staged)


def deep_merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    """``right`` over ``left``; where both hold a mapping, merge those recursively."""
    merged = dict(left)
    for key, value in right.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def context_of(state: State, indexes: list[int]) -> dict[str, Any]:
    """The merge, in order, of the context entries at ``indexes``."""
    merged: dict[str, Any] = {}
    for index in indexes:
        merged = deep_merge(merged, state["contexts"][index])
    return merged


def log_error(
    state: State,
    message: str,
    task_id: str | None = None,
    route: int | None = None,
    transition_id: str | None = None,
    result: Any = None,
    with_result: bool = False,
) -> None:
    """Append an error entry in Orquesta's shape, unless the same entry is logged."""
    entry: dict[str, Any] = {"type": "error", "message": message}
    if task_id is not None:
        entry["task_id"] = task_id
    if route is not None:
        entry["route"] = route
    if transition_id is not None:
        entry["task_transition_id"] = transition_id
    if with_result and result is not None:
        entry["result"] = result
    if entry not in state["errors"]:
        state["errors"].append(entry)
