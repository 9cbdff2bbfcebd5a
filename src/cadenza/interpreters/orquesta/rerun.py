"""Rerunning a completed execution from some of its tasks (spec §16).

A task that ran a workflow action (a child execution) that did not succeed is rerun
by rerunning that child from its own failed tasks, not by starting a new child.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from cadenza.interpreters.orquesta import state as st
from cadenza.interpreters.orquesta.conductor import Conductor, RequestRefused
from cadenza.interpreters.orquesta.machines import ABENDED, COMPLETED
from cadenza.interpreters.orquesta.task_updates import add_entry

RerunTask = tuple[str, int, bool]
"""(task name, route, reset_items)."""

#: State key: for each task (``entry_key``) whose last child execution did not
#: succeed, that child's task id, so a rerun can rerun the child itself.
FAILED_CHILDREN = "failed_children"

#: Staged-task key: the task id of the failed child a rerun of this task reruns
#: (``RelayToChild(task_id, "rerun")``), instead of starting a new child.
RERUN_CHILD = "rerun_child"


def _terminal(c: Conductor) -> list[tuple[int, dict[str, Any]]]:
    return [(i, e) for i, e in enumerate(c.state["sequence"]) if e.get("term")]


def _following(c: Conductor, name: str, route: int) -> list[int]:
    """The entry of ``name`` on ``route`` and the entries it led to directly."""
    index = st.entry_index(c.state, name, route)
    found = [] if index is None else [index]
    sequence = c.state["sequence"]
    for i, entry in enumerate(sequence):
        for prev in entry["prev"].values():
            if sequence[prev]["id"] == name and sequence[prev]["route"] == route:
                found.append(i)
    return found


def remember_child_end(
    state: dict[str, Any], task_id: str, action: Mapping[str, Any], status: str
) -> None:
    """Remember the child of a task (not a with-items item) that did not succeed, for
    a rerun of the task to rerun that child; forget it once a child succeeded."""
    if action.get("item") is not None:
        return
    key = st.entry_key(action["name"], action["route"])
    failed = state.setdefault(FAILED_CHILDREN, {})
    if status == "succeeded":
        failed.pop(key, None)
    else:
        failed[key] = task_id
    if not failed:
        del state[FAILED_CHILDREN]


def rerun(c: Conductor, requests: list[RerunTask]) -> None:
    """Reopen a completed execution; raises :class:`RequestRefused` when not allowed."""
    state = c.state
    if c.status not in COMPLETED:
        raise RequestRefused(
            "WorkflowIsActiveAndNotRerunableError",
            "Unable to rerun workflow because it is not in a completed state.",
        )
    wanted = {st.entry_key(name, route): (name, route, reset) for name, route, reset in requests}
    invalid = [f"{n}|{r}" for key, (n, r, _) in wanted.items() if key not in state["tasks"]]
    if invalid:
        raise RequestRefused(
            "InvalidTaskRerunRequest",
            "Unable to rerun task|route(s) because it doesn't exist or isn't rerunnable: "
            + ", ".join(invalid),
        )
    if not wanted:
        candidates = {
            st.entry_key(e["id"], e["route"]): (i, e)
            for i, e in _terminal(c)
            if e.get("status") in ABENDED
        }
    else:
        sequences = {k: _following(c, n, r) for k, (n, r, _) in wanted.items()}
        if len(sequences) > 1:
            # Drop a request whose run is entirely inside every other request's run.
            sequences = {
                k: s
                for k, s in sequences.items()
                if any(set(s) - set(o) for o in sequences.values())
            }
        candidates = {
            k: (state["tasks"][k], state["sequence"][state["tasks"][k]])
            for k in wanted
            if k in sequences
        }
    if not candidates:
        # Orquesta would set ``resuming`` with nothing to run, and the workflow would
        # wait forever: refuse instead, changing nothing.
        raise RequestRefused(
            "WorkflowIsNotRerunableError",
            f'Unable to rerun workflow in "{c.status}" status: there is no failed task '
            "that ended a path to rerun; name the tasks to rerun.",
        )
    state["reruns"].append([i for i, _ in candidates.values()])
    for _, entry in sorted(candidates.values(), key=lambda x: (x[1]["id"], x[1]["route"])):
        key = st.entry_key(entry["id"], entry["route"])
        reset = wanted[key][2] if key in wanted else False
        _rerun_task(c, entry["id"], entry["route"], reset)
    for _, entry in _terminal(c):
        if any(entry["next"].values()):
            entry.pop("term", None)
    state["output"] = None
    c.set_status("resuming")


def _rerun_task(c: Conductor, name: str, route: int, reset_items: bool) -> None:
    state = c.state
    entry = st.get_entry(state, name, route)
    assert entry is not None
    ctxs = int(entry["ctxs"]["in"])
    prev = copy.deepcopy(entry["prev"])
    entry.pop("term", None)
    staged = st.get_staged(state, name, route)
    if staged is not None:
        staged.pop("completed", None)
    state["errors"] = [e for e in state["errors"] if e.get("task_id") != name]
    if c.has_items(name) and staged is not None:
        for item in staged.get("items", []):
            if reset_items or item["status"] in ABENDED:
                item["status"] = "null"
        staged.pop("run", None)
    else:
        add_entry(c, name, route, ctxs, prev)
        staged = st.add_staged(state, name, route, ctxs, prev, ready=True)
        child = state.get(FAILED_CHILDREN, {}).pop(st.entry_key(name, route), None)
        if child is not None:
            # As StackStorm reruns a failed subworkflow from its failed task: the
            # same child execution is rerun, and the task waits for it again.
            staged[RERUN_CHILD] = child
    for index in _following(c, name, route):
        state["sequence"][index].pop("term", None)
