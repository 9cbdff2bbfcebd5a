"""The JSON state of one Orquesta execution and the queries on it.

The state is a plain ``dict`` so that snapshots are ``json.dumps`` of it. Its shape
follows Orquesta's conductor state, which keeps the semantics easy to check:

* ``contexts``: list of dicts; 0 is the initial context, each publish appends one;
* ``routes``: list of branch paths (lists of transition ids); 0 is the root;
* ``chains``: the context lists as shared nodes (:mod:`contexts`); a ``ctxs.in`` below
  is the id of one node, not a list, so an entry's size does not grow with the run;
* ``sequence``: one entry per task occurrence (``id``, ``route``, ``ctxs.in``, ``prev``,
  ``next`` = transition id -> taken, ``status``, ``retry``, ``term``, ``result``);
* ``tasks``: ``"<task>__r<route>"`` -> index of the latest entry in ``sequence``;
* ``counts``: status -> how many latest entries have it, and ``active``: the sorted
  indexes of the latest entries with an active status (kept by :func:`set_status`
  and :func:`add_latest`, so status questions do not scan the entries);
* ``staged``: tasks waiting to run (``id``, ``route``, ``ctxs.in``, ``prev``, ``ready``,
  and for with-items ``items`` statuses and ``results``);
* ``status``, ``errors``, ``output``, ``input``, ``parent``;
* ``actions``: outstanding action runs by ``task_id`` (what a completion refers to);
* ``runs``: per ``"<task>__r<route>"``, how many action runs were handed out (task ids).

Per-step queries look at the counters, the active entries and the staged list, never
at the whole history, so a long loop does not make each step slower.
"""

from __future__ import annotations

import bisect
from typing import Any

from cadenza.interpreters.orquesta import contexts
from cadenza.interpreters.orquesta.machines import ACTIVE

State = dict[str, Any]


def new_state() -> State:
    """The state before ``ExecutionStarted``."""
    return {
        "status": "null",
        "contexts": [],
        "chains": contexts.ChainList(),
        "routes": [],
        "sequence": [],
        "tasks": {},
        "counts": {},
        "active": [],
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
    """The latest entry of every (task, route), in sequence order (O(entries))."""
    return [state["sequence"][i] for i in sorted(state["tasks"].values())]


def active_entries(state: State) -> list[dict[str, Any]]:
    """The latest entries with an active status, in sequence order."""
    return [state["sequence"][i] for i in state["active"]]


def has_status(state: State, statuses: frozenset[str] | set[str]) -> bool:
    """Whether some latest entry has one of ``statuses``."""
    counts = state["counts"]
    # Asked several times per task event: a plain loop costs less than any() over a
    # generator (about 1% of a decision's instructions).
    for status in statuses:  # noqa: SIM110 - see above
        if counts.get(status):
            return True
    return False


def has_active_tasks(state: State) -> bool:
    return bool(state["active"])


def _count(state: State, index: int, status: str | None, delta: int) -> None:
    if status is None:
        return
    counts = state["counts"]
    left = counts.get(status, 0) + delta
    if left:
        counts[status] = left
    else:
        counts.pop(status, None)
    if status in ACTIVE:
        active = state["active"]
        if delta > 0:
            bisect.insort(active, index)
        else:
            del active[bisect.bisect_left(active, index)]


def set_status(state: State, index: int, status: str) -> None:
    """Set the status of the latest entry at ``index``, keeping the counters right."""
    entry = state["sequence"][index]
    old = entry.get("status")
    if old == status:
        return
    _count(state, index, old, -1)
    _count(state, index, status, 1)
    entry["status"] = status


def add_latest(state: State, entry: dict[str, Any]) -> int:
    """Append ``entry`` as the latest of its (task, route); the one before stops counting."""
    key = entry_key(entry["id"], entry["route"])
    replaced = state["tasks"].get(key)
    if replaced is not None:
        _count(state, replaced, state["sequence"][replaced].get("status"), -1)
    state["sequence"].append(entry)
    index = len(state["sequence"]) - 1
    state["tasks"][key] = index
    _count(state, index, entry.get("status"), 1)
    return index


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
    ctxs: int,
    prev: dict[str, int],
    ready: bool,
    retry: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Stage ``task_id`` on ``route`` with the context list of chain node ``ctxs``."""
    entry: dict[str, Any] = {
        "id": task_id,
        "ctxs": {"in": ctxs},
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


def context_of(state: State, node: int) -> dict[str, Any]:
    """The merge, in order, of the contexts of chain node ``node``'s list."""
    return contexts.merged_context(state, node)


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


_APPEND_ONLY = frozenset({"contexts", "chains"})
"""State lists whose items are never changed once appended (published contexts, chain
nodes): a snapshot may share those items with the live state."""


def snapshot(state: State) -> State:
    """A JSON copy of ``state`` that later in-place changes to ``state`` do not reach.

    Cheaper than a JSON round trip: the append-only lists are copied shallowly (a snapshot
    is taken every few dozen events and the history part of the state grows with the run).
    """
    leaves = _LEAVES
    return {
        key: list(value)
        if key in _APPEND_ONLY
        else value
        if type(value) in leaves
        else _json_copy(value)
        for key, value in state.items()
    }


_LEAVES = frozenset({str, int, float, bool, type(None)})
"""Types a copy returns as they are, tested inline: most values of a state are
such leaves, and a call per leaf was most of a snapshot's cost."""


def _json_copy(value: Any) -> Any:
    kind = type(value)
    leaves = _LEAVES
    # A shallow copy in C, then only the containers replaced by their copies: most
    # values are leaves, and a comprehension stores every one of them again in Python.
    if kind is dict:
        copied = value.copy()
        for key, item in value.items():
            if type(item) not in leaves:
                copied[key] = _json_copy(item)
        return copied
    if kind is list or kind is tuple:
        listed = list(value)
        for index, item in enumerate(value):
            if type(item) not in leaves:
                listed[index] = _json_copy(item)
        return listed
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_copy(item) for item in value]
    return value


def upgrade(state: State) -> State:
    """Bring a state saved before chains and status counters to today's shape, in place.

    Such a state holds plain context lists in ``ctxs.in``; they become chain nodes, and
    the counters are rebuilt from the latest entries.
    """
    if "chains" not in state:
        holders = [e["ctxs"] for e in state["sequence"] + state["staged"]]
        if state["contexts"]:
            nodes = contexts.chains_from_lists(state, [h["in"] for h in holders])
            for holder, node in zip(holders, nodes, strict=True):
                holder["in"] = node
        else:
            state["chains"] = contexts.ChainList()
    if "counts" not in state:
        state["counts"], state["active"] = {}, []
        for index in sorted(state["tasks"].values()):
            _count(state, index, state["sequence"][index].get("status"), 1)
    return state
