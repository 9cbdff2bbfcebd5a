"""The Orquesta conductor: folds task outcomes and requests into the execution state.

This is the semantic core of the Orquesta front end (spec §7-§13): staging tasks,
evaluating retries and transitions, publishing, routes and joins, and moving the task
and workflow statuses through the tables of :mod:`machines`. It never raises for what a
workflow does: failures become error entries and a ``failed`` status.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cadenza.expressions import CurrentTask, ExpressionFailure, Scope
from cadenza.interpreters.orquesta import contexts
from cadenza.interpreters.orquesta import state as st
from cadenza.interpreters.orquesta.machines import (
    ABENDED,
    ACTIVE,
    CANCEL_REQUESTS,
    COMPLETED,
    PAUSE_REQUESTS,
    RUNNING_STATUSES,
    TASK_MACHINE,
    WORKFLOW_MACHINE,
)
from cadenza.interpreters.orquesta.rendering import (
    RenderedTask,
    render_input,
    render_rolling,
    render_task,
)
from cadenza.interpreters.orquesta.state import State
from cadenza.interpreters.orquesta.validation import OrquestaDefinition, Task, TaskGraph

SATISFIED, IN_PROGRESS, NOT_SATISFIED = "satisfied", "in_progress", "not_satisfied"
ITEM_OUTCOME_EVENTS = frozenset(
    {"resuming", "pending", "paused", "succeeded", "failed", "timeout", "abandoned", "canceled"}
)
_CONDITIONAL = frozenset(
    {"pending", "paused", "succeeded", "failed", "remediated", "canceled", "retrying"}
)
EXECUTION_FAILED = "Execution failed. See result for details."
# Built once: each task event asks these questions of the status counters.
_HOLDING_REQUESTS = PAUSE_REQUESTS | CANCEL_REQUESTS
_CANCELING = frozenset({"canceling", "canceled"})
_PAUSING = frozenset({"pausing", "paused", "pending"})
_PAUSED_OR_PENDING = frozenset({"paused", "pending"})
_PENDING = frozenset({"pending"})
_PAUSED = frozenset({"paused"})


class RequestRefused(Exception):
    """A workflow status request is not valid in the current status."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Crash(Exception):
    """Orquesta would raise out of its conductor here (e.g. a bad retry count)."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


@dataclass
class ActionEvent:
    """What happened to one action run (``item_id`` set for with-items items)."""

    status: str
    result: Any = None
    item_id: int | None = None
    command: str | None = None
    error: Any = None


class StateFacts:
    """Answers ``task_status()`` and ``task()`` from the state (spec §10)."""

    def __init__(self, state: State) -> None:
        self.state = state

    def _entry(self, name: str, route: int) -> dict[str, Any] | None:
        entry = st.get_entry(self.state, name, route)
        if entry is None and route > 0:
            # Fall back to the routes this one branched from, longest first.
            current = set(self.state["routes"][route])
            for earlier in range(route - 1, -1, -1):
                if not set(self.state["routes"][earlier]) - current:
                    return self._entry(name, earlier)
        return entry

    def task_status(self, name: str, route: int) -> str:
        entry = self._entry(name, route)
        return "null" if entry is None else str(entry.get("status") or "null")

    def task_record(self, name: str, route: int) -> dict[str, Any] | None:
        entry = self._entry(name, route)
        if entry is None:
            return None
        return {
            "task_id": name,
            "task_name": name,
            "route": entry["route"],
            "status": entry.get("status"),
            "result": entry.get("record_result", entry.get("result")),
        }


class Conductor:
    """One execution's conductor over its JSON ``state`` (mutated in place)."""

    def __init__(
        self,
        definition: OrquestaDefinition,
        graph: TaskGraph,
        state: State,
        now: float = 0.0,
        kv: Mapping[str, Any] | None = None,
    ) -> None:
        self.definition = definition
        self.tasks: Mapping[str, Task] = definition.tasks
        self.graph = graph
        self.state = state
        self.now = now
        self.kv = kv or {}
        self.facts = StateFacts(state)
        self.status_trail: list[str] = []

    def has_items(self, name: str) -> bool:
        """Whether ``name`` is a with-items task (engine commands are not tasks)."""
        task = self.tasks.get(name)
        return task is not None and task.with_items is not None

    # --- scopes and statuses ------------------------------------------------

    def draw(self) -> float:
        """The next number of the execution's seeded sequence (splitmix64)."""
        self.state["draws"] += 1
        draws = int(self.state["draws"])
        z = (int(self.state["seed"]) + draws * 0x9E3779B97F4A7C15) % 2**64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
        return ((z ^ (z >> 31)) >> 11) / float(2**53)

    def scope(self, variables: dict[str, Any], current: CurrentTask | None = None) -> Scope:
        return Scope(variables, current, facts=self.facts, kv=self.kv, draw=self.draw, now=self.now)

    @property
    def status(self) -> str:
        return str(self.state["status"])

    def set_status(self, status: str) -> None:
        if status != self.state["status"]:
            self.state["status"] = status
            self.status_trail.append(status)

    def log_failure(
        self,
        exc: ExpressionFailure | Crash,
        task_id: str | None = None,
        route: int | None = None,
        transition_id: str | None = None,
    ) -> None:
        message = exc.message if isinstance(exc, ExpressionFailure) else f"{exc.kind}: {exc}"
        st.log_error(self.state, message, task_id, route, transition_id)

    # --- start ------------------------------------------------------------------

    def start(self, runtime_input: Mapping[str, Any], parent: Mapping[str, Any]) -> None:
        """Render input and vars, stage the start tasks, and set the workflow running."""
        self.state["input"] = copy.deepcopy(dict(runtime_input))
        self.state["parent"] = copy.deepcopy(dict(parent))
        initial = copy.deepcopy(dict(parent))
        rendered, input_failures = render_input(
            self.definition.input, runtime_input, self.scope(initial)
        )
        initial = contexts.deep_merge(initial, rendered)
        _, rendered_vars, var_failures = render_rolling(self.definition.vars, self.scope(initial))
        initial = contexts.deep_merge(initial, rendered_vars)
        failures = input_failures + var_failures
        for failure in failures:
            self.log_failure(failure)
        if failures:
            self.request_status("failed")
            return
        self.state["contexts"].append(initial)
        contexts.start_chains(self.state)
        self.state["routes"].append([])
        for task in self.graph.start_tasks:
            st.add_staged(self.state, task, 0, contexts.ROOT, {}, ready=True)
        self.request_status("running")

    # --- workflow status ------------------------------------------------------------

    def request_status(self, status: str) -> None:
        """Ask for a workflow status (pausing, resuming, canceling, failed, ...)."""
        current = self.status
        # A copy: the events change which entries are active.
        for index in list(self.state["active"]):
            self._task_workflow_event(index, status)
        key = f"wf:{status}"
        if status in _HOLDING_REQUESTS:
            key += "/active" if st.has_active_tasks(self.state) else "/dormant"
        if (
            current == "paused"
            and status in ("running", "resuming")
            and not st.has_active_tasks(self.state)
            and not st.ready_staged(self.state)
            and not st.has_status(self.state, _PAUSED_OR_PENDING)
        ):
            key += "/completed"
        new = WORKFLOW_MACHINE.get(current, {}).get(key)
        if new is not None:
            self.set_status(new)
        updated = self.status
        if status == "paused" and current == "pausing" and updated == "pausing":
            return
        if status == "canceled" and current == "canceling" and updated == "canceling":
            return
        if status != current and current == updated:
            event = "workflow_" + key[3:].replace("/", "_workflow_", 1).replace("/", "_")
            raise RequestRefused(
                "InvalidWorkflowStatusTransition",
                f'Unable to process event "{event}" for workflow in "{current}" status.',
            )

    def settle_resume(self) -> None:
        """A resume that leaves nothing to run while inquiries still wait goes back to
        ``paused``.

        In StackStorm the next task event does it (``resuming`` with a pending task and
        nothing active is ``paused``). Here the answer that came with the resume was
        folded before it, so no event would follow and the workflow would stay
        ``resuming`` for good. A ``paused`` task (a sub-workflow) is resumed by the
        request and reports ``running`` itself, so it keeps the workflow ``resuming``.
        """
        if (
            self.status == "resuming"
            and not st.has_active_tasks(self.state)
            and not st.ready_staged(self.state)
            and st.has_status(self.state, _PENDING)
            and not st.has_status(self.state, _PAUSED)
        ):
            self.set_status("paused")

    def _task_workflow_event(self, index: int, status: str) -> None:
        entry = self.state["sequence"][index]
        key = f"wf:{status}"
        staged = st.get_staged(self.state, entry["id"], entry["route"])
        if status in _HOLDING_REQUESTS and staged and "items" in staged:
            statuses = [i.get("status", "null") for i in staged["items"]]
            if not any(s not in COMPLETED for s in statuses):
                return
            key += "/active" if any(s in ACTIVE for s in statuses) else "/dormant"
        new = TASK_MACHINE.get(entry.get("status") or "null", {}).get(key)
        if new is not None:
            st.set_status(self.state, index, new)

    def workflow_task_event(self, task_id: str, route: int, status: str) -> None:
        """Move the workflow status after a task of ``task_id`` on ``route`` changed."""
        abended = status in ABENDED
        # Only a success or a failure looks at what follows the task (these queries
        # are pure): not asked for the "running" of every task that starts.
        has_next = (abended or status == "succeeded") and self.has_next_tasks(task_id, route)
        remediated = abended and (has_next or self.has_join_next(task_id, route))
        event = "remediated" if remediated else status
        key = f"task:{event}"
        if event in _CONDITIONAL:
            key += "/active" if st.has_active_tasks(self.state) else "/dormant"
        if event in ("succeeded", "remediated"):
            if st.has_status(self.state, _CANCELING):
                key += "/canceled"
            elif st.has_status(self.state, _PAUSING):
                key += "/paused"
            elif st.ready_staged(self.state) or has_next:
                key += "/incomplete"
            else:
                key += "/completed"
        new = WORKFLOW_MACHINE.get(self.status, {}).get(key)
        if new is None:
            return
        self.set_status(new)
        if self.status in COMPLETED:
            self._fail_unreachable_joins()

    def _fail_unreachable_joins(self) -> None:
        unreachable = [
            s
            for s in self.state["staged"]
            if self.graph.is_join(s["id"])
            and not s["ready"]
            and self.inbound_status(s["id"], s["route"]) == NOT_SATISFIED
        ]
        if unreachable:
            self.set_status("failed")
        for staged in unreachable:
            task_id, route = staged["id"], staged["route"]
            st.log_error(
                self.state,
                f'UnreachableJoinError: The join task|route "{task_id}|{route}" is partially '
                "satisfied but unreachable.",
                task_id,
                route,
            )

    # --- graph queries ----------------------------------------------------------------

    def inbound_status(self, task_id: str, route: int) -> str:
        """Whether a task's inbound transitions satisfy it (joins wait for several)."""
        edges = self.graph.prev_edges(task_id)
        evaluation: dict[str, bool | None] = {e.source: None for e in edges}
        requirement = self.graph.join_requirement(task_id)
        for edge in edges:
            prev = st.get_entry(self.state, edge.source, route)
            if prev is None:
                continue
            if not evaluation[edge.source]:
                evaluation[edge.source] = bool(prev["next"].get(edge.transition_id))
        if list(evaluation.values()).count(True) >= requirement:
            return SATISFIED
        if None in evaluation.values() and (
            st.has_active_tasks(self.state) or st.ready_staged(self.state)
        ):
            return IN_PROGRESS
        return NOT_SATISFIED

    def has_next_tasks(self, task_id: str, route: int) -> bool:
        entry = st.get_entry(self.state, task_id, route)
        if entry is None or entry.get("status") not in COMPLETED:
            return False
        for edge in self.graph.next_edges(task_id):
            if edge.target == "continue" or not entry["next"].get(edge.transition_id):
                continue
            if self.graph.is_join(edge.target) and (
                self.inbound_status(edge.target, route) == NOT_SATISFIED
            ):
                continue
            return True
        return False

    def has_join_next(self, task_id: str, route: int) -> bool:
        """Whether a taken transition of the task leads into a join, satisfied or not.

        Since orquesta 1.4 a failed task routed into a join counts as remediated even
        while the join still waits for other branches.
        """
        entry = st.get_entry(self.state, task_id, route)
        if entry is None or entry.get("status") not in COMPLETED:
            return False
        return any(
            self.graph.is_join(edge.target) and entry["next"].get(edge.transition_id)
            for edge in self.graph.next_edges(task_id)
        )

    # --- next tasks ---------------------------------------------------------------------

    def task_context(self, task_id: str, route: int) -> dict[str, Any]:
        staged = st.get_staged(self.state, task_id, route)
        if staged is not None:
            return st.context_of(self.state, staged["ctxs"]["in"])
        entry = st.get_entry(self.state, task_id, route)
        if entry is not None:
            return st.context_of(self.state, entry["ctxs"]["in"])
        return copy.deepcopy(self.state["contexts"][0])

    def next_tasks(self) -> list[RenderedTask]:
        """Tasks to hand out now, each with the actions (items) that may start."""
        staged_tasks = st.ready_staged(self.state)
        remediation: list[dict[str, Any]] = []
        if self.status == "failed":
            remediation = [s for s in staged_tasks if s.get("run_on_fail")]
        if self.status not in RUNNING_STATUSES and not remediation:
            return []
        found: list[RenderedTask] = []
        failed = False
        for staged in remediation or staged_tasks:
            name, route = staged["id"], staged["route"]
            try:
                wanted = self._startable_items(staged)
                if wanted is not None and not wanted:
                    continue  # every item has started: nothing to hand out
                scope = self.scope(self.task_context(name, route), CurrentTask(name, route))
                task = render_task(name, route, self.tasks.get(name), scope, wanted)
            except ExpressionFailure as exc:
                failed = True
                self.log_failure(exc, name, route)
                continue
            self._trim_items(staged, task)
            if "retry" in staged:
                task.delay = staged["retry"].get("delay") or 0
            if task.actions or task.items_count == 0:
                found.append(task)
        if failed:
            self.request_status("failed")
            return []
        return sorted(found, key=lambda t: (t.name, t.route))

    def _startable_items(self, staged: dict[str, Any]) -> set[int] | None:
        """Indexes of a staged with-items task's items not started yet (None before
        its first rendering, when the list is not known)."""
        items = staged.get("items")
        if not items:
            return None
        return {i for i, item in enumerate(items) if item["status"] == "null"}

    def _trim_items(self, staged: dict[str, Any], task: RenderedTask) -> None:
        if not task.has_items:
            return
        if not staged.get("items"):
            staged["items"] = [{"status": "null"} for _ in range(task.items_count or 0)]
            staged["results"] = [None] * (task.items_count or 0)
            staged.pop("run", None)
        items = staged["items"]
        not_run = [a for a in task.actions if items[a.item_id or 0]["status"] == "null"]
        active = [i for i in items if i["status"] in ACTIVE]
        if task.concurrency is not None:
            available = int(task.concurrency) - len(active)
            task.actions = not_run[:available] if available > 0 else []
        else:
            task.actions = not_run
