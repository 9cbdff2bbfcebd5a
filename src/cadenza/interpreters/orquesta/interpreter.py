"""The Orquesta interpreter: the engine-facing fold over a compiled definition.

``decide`` folds a batch of input events into the state with the :class:`Conductor`,
then hands out every action that may start now, and reports status changes:

* ``ScheduleTask`` per action run. ``task_id`` is ``"<task>.<route>.<run>"``, plus
  ``".<item>"`` for a with-items item, where ``run`` counts the runs of that task on that
  route (a retry, a pass through a cycle or a rerun is a new run; the items of one
  with-items run share it). ``meta`` holds ``route``, ``run`` and, for with-items,
  ``item_id``, ``items_count`` and ``concurrency``. A task without action is scheduled
  with ``action=None``; a with-items task over an empty list is scheduled once with
  ``action=None`` and ``meta.items_count == 0``. The engine answers both with
  ``TaskCompleted(succeeded)``; the empty with-items task's result is then ``[]``.
* ``SetStatus`` for each non-final workflow status reached, in order;
  ``CompleteExecution`` when the decision ends in a final status -- again if a later
  event changes the final status, output or errors (late completions of actions that
  were running when the workflow failed still log their errors).
* ``RejectRequest`` for a refused pause/resume/cancel/rerun.
* ``CancelTask`` for each action still waiting out its ``delay`` when a cancel is
  accepted: it has not started, so it is withdrawn and the task is ``canceled``.
* ``StartChild`` instead of ``ScheduleTask`` for an action whose metadata names a
  workflow (see :mod:`.actions`): the workflow runs as a child execution and the task's
  result is StackStorm's ``{"output": <child output>}`` (plus ``"errors"`` when the child
  did not succeed). With a ``delay``, a ``StartTimer("start:<task id>")`` comes first and
  the child starts when it fires. A cancel that is accepted sends ``CancelTask`` to every
  running child, so cancelling cascades down the tree; the parent is ``canceled`` once
  the children report their end. A rerun of a task whose child did not succeed sends
  ``RelayToChild(<that task id>, "rerun")`` instead of starting a new child: the child
  reruns from its failed tasks, and its end is again that task's completion.
* ``StartTimer("ttl:<task id>")`` with each ``core.ask`` task whose ``ttl`` (minutes) is
  above 0, and ``meta["expires_at"]`` its deadline: when it fires unanswered, the task
  is withdrawn (``CancelTask``), a paused workflow resumed, and the task ends
  ``timeout`` with the question as its result, as StackStorm expires an inquiry.
* Parameters of actions with metadata are completed with their defaults before they
  are scheduled or given to a child; those the metadata marks ``secret`` are listed in
  ``meta["secret_paths"]`` of the ``ScheduleTask`` or ``StartChild``, so every view
  masks their values while the action receives them in clear.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cadenza.expressions import ExpressionFailure
from cadenza.interpreters.orquesta import state as st
from cadenza.interpreters.orquesta.actions import ActionCatalog, ActionSpec, child_result
from cadenza.interpreters.orquesta.conductor import (
    ActionEvent,
    Conductor,
    Crash,
    RequestRefused,
)
from cadenza.interpreters.orquesta.datastore_reads import (
    DATASTORE_META,
    datastore_keys,
    definition_texts,
    reads_st2_context,
    st2_context,
    view_of,
)
from cadenza.interpreters.orquesta.inquiry import (
    EXPIRES_META,
    INQUIRY_ACTION,
    INQUIRY_EXPIRED,
    INQUIRY_META,
    question,
    ttl_seconds,
)
from cadenza.interpreters.orquesta.machines import COMPLETED
from cadenza.interpreters.orquesta.output import render_output
from cadenza.interpreters.orquesta.parameter_defaults import with_rendered_defaults
from cadenza.interpreters.orquesta.rerun import RERUN_CHILD, remember_child_end, rerun
from cadenza.interpreters.orquesta.task_updates import update_task
from cadenza.interpreters.orquesta.validation import ENGINE_COMMANDS, OrquestaDefinition, TaskGraph
from cadenza.interpreters.protocol import ActionUse, DatastoreKeys, ExecutionView, TaskView
from cadenza.model.commands import (
    CancelTask,
    Command,
    CompleteExecution,
    RejectRequest,
    RelayToChild,
    ScheduleTask,
    SetStatus,
    StartChild,
    StartTimer,
)
from cadenza.model.events import (
    CancelRequested,
    Event,
    ExecutionStarted,
    PauseRequested,
    RerunRequested,
    ResumeRequested,
    TaskCompleted,
    TaskResumed,
    TaskSuspended,
    TimerFired,
)
from cadenza.model.secrets import SECRET_PATHS

#: Prefix of the timer that starts a delayed child execution.
_START_TIMER = "start:"
#: Prefix of the timer that expires an unanswered inquiry (``core.ask`` ``ttl``).
_TTL_TIMER = "ttl:"

_REQUESTS = {
    PauseRequested: ("pause", "pausing"),
    ResumeRequested: ("resume", "resuming"),
    CancelRequested: ("cancel", "canceling"),
}


class OrquestaInterpreter:
    """The decision function of one Orquesta definition (``Interpreter`` protocol)."""

    kind = "orquesta"

    def __init__(
        self,
        definition: OrquestaDefinition,
        datastore: Mapping[str, Any] | None = None,
        action_uses: Sequence[ActionUse] = (),
        catalog: ActionCatalog | None = None,
        decrypt: Callable[[str], str] | None = None,
    ) -> None:
        self.definition = definition
        self.action_uses = tuple(action_uses)
        self.catalog = catalog if catalog is not None else ActionCatalog()
        self.graph = TaskGraph(definition.tasks)
        self.graph.lay_out()
        self.datastore = dict(datastore or {})
        #: Decrypts encrypted datastore values (``st2kv(key, decrypt=true)``).
        self.decrypt = decrypt
        self._keys: DatastoreKeys | None = None

    def datastore_keys(self) -> DatastoreKeys:
        """The datastore entries executions of this definition may read (the
        engine records them at the start; see :mod:`.datastore_reads`)."""
        if self._keys is None:
            refs = [t.action for t in self.definition.tasks.values()]
            self._keys = datastore_keys(
                definition_texts(self.definition.source, refs, self.catalog),
                calls_workflows=any(_runs_child(self.catalog.get(r)) for r in refs),
            )
        return self._keys

    def actions(self) -> list[ActionUse]:
        """The actions the definition names literally (refs built by expressions are
        only known when they run), so unknown actions can be refused up front."""
        return list(self.action_uses)

    def new_state(self) -> st.State:
        return st.new_state()

    def dump_state(self, state: st.State) -> Any:
        return st.snapshot(state)

    def load_state(self, data: Any) -> st.State:
        return st.upgrade(json.loads(json.dumps(data)))

    def decide(self, state: st.State, events: Sequence[Event], now: float) -> list[Command]:
        c = Conductor(self.definition, self.graph, state, now, self._kv(state))
        commands: list[Command] = []
        for event in events:
            try:
                self._fold(c, event, commands)
            except (ExpressionFailure, Crash) as exc:
                self._crash(c, exc)
        try:
            commands.extend(self._schedule(c))
        except (ExpressionFailure, Crash) as exc:
            self._crash(c, exc)
        c.settle_resume()
        try:
            render_output(c)
        except (ExpressionFailure, Crash) as exc:
            self._crash(c, exc)
        commands.extend(self._report(c))
        return commands

    def _kv(self, state: st.State) -> Mapping[str, Any]:
        return view_of(state.get(DATASTORE_META), self.datastore, self.decrypt)

    def _fold(self, c: Conductor, event: Event, commands: list[Command]) -> None:
        if isinstance(event, ExecutionStarted):
            c.state["seed"] = event.seed
            context = dict(event.context or {})
            meta = event.meta or {}
            if DATASTORE_META in meta:
                c.state[DATASTORE_META] = meta[DATASTORE_META]
                c.state["st2"] = st2_context(meta)
                c.kv = self._kv(c.state)
                given = context.get("st2")
                if reads_st2_context(self.definition.source):
                    # What the start context says of itself wins (a caller's user).
                    mine = dict(c.state["st2"])
                    context["st2"] = {**mine, **given} if isinstance(given, Mapping) else mine
            c.start(event.input or {}, context)
        elif isinstance(event, TaskCompleted):
            self._action_event(
                c, event.task_id, event.status, event.result, final=True, error=event.error
            )
        elif isinstance(event, TaskSuspended):
            self._action_event(c, event.task_id, event.status, event.result, final=False)
        elif isinstance(event, TaskResumed):
            self._action_event(c, event.task_id, "running", None, final=False)
        elif isinstance(event, TimerFired) and event.timer_id.startswith(_START_TIMER):
            commands.extend(self._start_delayed_child(c, event.timer_id[len(_START_TIMER) :]))
        elif isinstance(event, TimerFired) and event.timer_id.startswith(_TTL_TIMER):
            commands.extend(self._expire(c, event.timer_id[len(_TTL_TIMER) :]))
        elif type(event) in _REQUESTS:
            request, status = _REQUESTS[type(event)]
            try:
                c.request_status(status)
            except RequestRefused as exc:
                commands.append(RejectRequest(request, {"kind": exc.kind, "message": str(exc)}))
            else:
                if status == "canceling":
                    commands.extend(self._withdraw_delayed(c))
                    commands.extend(self._cancel_children(c))
                elif status in ("pausing", "resuming"):
                    commands.extend(self._relay_to_children(c, request))
        elif isinstance(event, RerunRequested):
            tasks = [
                (str(t["task_id"]), int(t.get("route") or 0), bool(t.get("reset_items", False)))
                for t in event.tasks
            ]
            try:
                rerun(c, tasks)
            except RequestRefused as exc:
                commands.append(RejectRequest("rerun", {"kind": exc.kind, "message": str(exc)}))
            except Crash as exc:
                self._crash(c, exc)

    def _withdraw_delayed(self, c: Conductor) -> list[Command]:
        """Cancel the actions still waiting out their ``delay``: they have not started
        (no worker claims a task before it is due), so, as in StackStorm, they are
        canceled at once and never run."""
        commands: list[Command] = []
        for task_id, action in sorted(c.state["actions"].items()):
            due = action.get("due")
            if due is None or float(due) <= c.now:
                continue
            commands.append(CancelTask(task_id))
            self._action_event(c, task_id, "canceled", None, final=True)
        return commands

    def _cancel_children(self, c: Conductor) -> list[Command]:
        """Ask every running child execution to cancel; each reports its end as its
        task's completion, and the workflow is ``canceled`` when the last one has."""
        return [
            CancelTask(task_id)
            for task_id, action in sorted(c.state["actions"].items())
            if action.get("child") and "start" not in action
        ]

    def _relay_to_children(self, c: Conductor, request: str) -> list[Command]:
        """Pass a pause or resume on to the running child executions, as StackStorm
        cascades them into subworkflows; each child reports back when it has."""
        return [
            RelayToChild(task_id, request)
            for task_id, action in sorted(c.state["actions"].items())
            if action.get("child") and "start" not in action
        ]

    def _start_delayed_child(self, c: Conductor, task_id: str) -> list[Command]:
        action = c.state["actions"].get(task_id)
        if action is None or "start" not in action:
            return []  # withdrawn while it waited
        start = action.pop("start")
        action.pop("due", None)
        return [
            StartChild(task_id, action["name"], start["definition"], start["input"], start["meta"])
        ]

    def _action_event(
        self,
        c: Conductor,
        task_id: str,
        status: str,
        result: Any,
        *,
        final: bool,
        error: Any = None,
    ) -> None:
        action = c.state["actions"].get(task_id)
        if action is None:
            return
        if final:
            del c.state["actions"][task_id]
            if action.get("empty"):
                result = []
            elif action.get("child"):
                result = child_result(result, error)
                remember_child_end(c.state, task_id, action, status)
        self._update_task(
            c,
            action["name"],
            action["route"],
            ActionEvent(status, result, action.get("item"), error=error),
        )

    def _rerun_child(self, c: Conductor, name: str, route: int, task_id: str) -> Command:
        """Wait again for the child started as ``task_id``, and ask it to rerun."""
        c.state["actions"][task_id] = {"name": name, "route": route, "item": None, "child": True}
        self._mark_running(c, name, route, None)
        return RelayToChild(task_id, "rerun")

    def _update_task(self, c: Conductor, name: str, route: int, event: ActionEvent) -> None:
        """Fold one action event; a crash of the conductor fails the workflow."""
        try:
            update_task(c, name, route, event)
        except (ExpressionFailure, Crash) as exc:
            self._crash(c, exc, name, route)

    def _crash(
        self,
        c: Conductor,
        exc: ExpressionFailure | Crash,
        task_id: str | None = None,
        route: int | None = None,
    ) -> None:
        """Orquesta raised out of its conductor: log it and fail, as StackStorm does."""
        c.log_failure(exc, task_id, route)
        try:
            c.request_status("failed")
        except RequestRefused:
            if c.status not in COMPLETED:
                c.set_status("failed")

    def _schedule(self, c: Conductor) -> list[Command]:
        commands: list[Command] = []
        runs = c.state["runs"]
        for task in c.next_tasks():
            key = st.entry_key(task.name, task.route)
            staged = st.get_staged(c.state, task.name, task.route)
            if staged is not None and RERUN_CHILD in staged:
                child = str(staged.pop(RERUN_CHILD))
                commands.append(self._rerun_child(c, task.name, task.route, child))
                continue
            if task.has_items and staged is not None and "run" in staged:
                run = int(staged["run"])
            else:
                run = runs.get(key, 0)
                runs[key] = run + 1
                if task.has_items and staged is not None:
                    staged["run"] = run
            meta: dict[str, Any] = {"route": task.route, "run": run}
            if task.has_items:
                meta["items_count"] = task.items_count
                meta["concurrency"] = task.concurrency
            delay = float(task.delay or 0)
            if task.has_items and task.items_count == 0:
                task_id = f"{task.name}.{task.route}.{run}"
                c.state["actions"][task_id] = {
                    "name": task.name,
                    "route": task.route,
                    "empty": True,
                }
                commands.append(ScheduleTask(task_id, task.name, None, None, delay, meta))
                self._mark_running(c, task.name, task.route, None)
                continue
            for action in task.actions:
                task_id = f"{task.name}.{task.route}.{run}"
                item_meta = dict(meta)
                if action.item_id is not None:
                    task_id += f".{action.item_id}"
                    item_meta["item_id"] = action.item_id
                c.state["actions"][task_id] = {
                    "name": task.name,
                    "route": task.route,
                    "item": action.item_id,
                }
                if delay > 0 and action.action is not None:
                    c.state["actions"][task_id]["due"] = c.now + delay
                ref = None if action.action is None else str(action.action)
                spec = self.catalog.get(ref)
                action_input = action.input
                if spec is not None and isinstance(action_input, Mapping | None):
                    action_input = with_rendered_defaults(
                        spec, action_input or {}, c.kv, c.state.get("st2")
                    )
                    secret = spec.secret_paths(action_input)
                    if secret:
                        item_meta[SECRET_PATHS] = secret
                if ref == INQUIRY_ACTION:
                    item_meta[INQUIRY_META] = True
                    commands.extend(self._expiry(c, task_id, action_input, delay, item_meta))
                if spec is not None and spec.workflow is not None:
                    commands.extend(
                        self._child(
                            c, task_id, task.name, spec.workflow, action_input, delay, item_meta
                        )
                    )
                else:
                    commands.append(
                        ScheduleTask(task_id, task.name, ref, action_input, delay, item_meta)
                    )
                self._mark_running(c, task.name, task.route, action.item_id)
        return commands

    def _child(
        self,
        c: Conductor,
        task_id: str,
        name: str,
        workflow: str,
        child_input: Any,
        delay: float,
        task_meta: Mapping[str, Any],
    ) -> list[Command]:
        """Start ``workflow`` as the child execution of ``task_id`` (after ``delay``)."""
        record = c.state["actions"][task_id]
        record["child"] = True
        meta: dict[str, Any] = {"route": record["route"], "item_id": record.get("item")}
        if SECRET_PATHS in task_meta:
            meta[SECRET_PATHS] = task_meta[SECRET_PATHS]
        if DATASTORE_META in c.state:
            # The child reads what its parent recorded (store/children.py moves it).
            meta[DATASTORE_META] = c.state[DATASTORE_META]
        if delay > 0:
            record["start"] = {"definition": workflow, "input": child_input, "meta": meta}
            return [StartTimer(_START_TIMER + task_id, delay)]
        return [StartChild(task_id, name, workflow, child_input, meta)]

    def _expiry(
        self, c: Conductor, task_id: str, parameters: Any, delay: float, meta: dict[str, Any]
    ) -> list[Command]:
        """The timer that expires an inquiry after its ``ttl`` minutes (none for a
        ``ttl`` of 0 or less, as in StackStorm); the deadline goes in ``meta``."""
        ttl = ttl_seconds(parameters)
        if ttl is None:
            return []
        c.state["actions"][task_id]["question"] = question(parameters)
        meta[EXPIRES_META] = c.now + delay + ttl
        return [StartTimer(_TTL_TIMER + task_id, delay + ttl)]

    def _expire(self, c: Conductor, task_id: str) -> list[Command]:
        """An inquiry nobody answered in time: withdrawn (an answer now is refused)
        and ended ``timeout`` with the question as its result; then the paused
        workflow is resumed, to go on or fail from there, as StackStorm's garbage
        collector does with an expired inquiry."""
        action = c.state["actions"].get(task_id)
        if action is None or "question" not in action:
            return []  # answered (or withdrawn) before it expired
        ttl = action["question"].get("ttl")
        error = {
            "type": INQUIRY_EXPIRED,
            "message": f"the inquiry was not answered within its ttl of {ttl} minute(s)",
        }
        commands: list[Command] = [CancelTask(task_id)]
        if c.status == "paused":
            # Resumed first, so the task's end moves a running workflow (a paused
            # one ignores a task's failure, and would then resume as succeeded).
            try:
                c.request_status("resuming")
            except RequestRefused as exc:
                commands.append(RejectRequest("resume", {"kind": exc.kind, "message": str(exc)}))
            else:
                commands.extend(self._relay_to_children(c, "resume"))
        self._action_event(c, task_id, "timeout", action["question"], final=True, error=error)
        return commands

    def _mark_running(self, c: Conductor, name: str, route: int, item: int | None) -> None:
        self._update_task(c, name, route, ActionEvent("running", None, item))

    def _report(self, c: Conductor) -> list[Command]:
        commands: list[Command] = []
        for status in c.status_trail:
            if status not in COMPLETED:
                commands.append(SetStatus(status))
        if c.status in COMPLETED:
            report = [c.status, c.state["output"], c.state["errors"]]
            if c.state.get("reported") != report:
                c.state["reported"] = json.loads(json.dumps(report))
                commands.append(
                    CompleteExecution(c.status, c.state["output"], list(c.state["errors"]))
                )
        else:
            c.state["reported"] = None
        return commands

    def describe(self, state: st.State) -> ExecutionView:
        tasks = [
            TaskView(e["id"], str(e.get("status") or "null"), str(e["route"]), e.get("result"))
            for e in st.latest_entries(state)
            if e["id"] not in ENGINE_COMMANDS
        ]
        tasks.sort(key=lambda t: (t.name, int(t.key)))
        return ExecutionView(
            status=str(state["status"]),
            output=state["output"],
            errors=list(state["errors"]),
            tasks=tasks,
        )


def _runs_child(spec: ActionSpec | None) -> bool:
    return spec is not None and spec.runs_child
