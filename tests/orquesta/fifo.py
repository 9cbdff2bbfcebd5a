"""The conformance README's "fifo policy" driver for the pure Orquesta interpreter.

It plays the engine: hands every scheduled action its scripted outcome, completes the
oldest running action first, completes action-less tasks at once, applies the case's
operations when their trigger holds, and collects the facts the cases record.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
from cadenza.interpreters.protocol import Interpreter
from cadenza.model.commands import (
    Command,
    CompleteExecution,
    RejectRequest,
    ScheduleTask,
    SetStatus,
)
from cadenza.model.errors import DefinitionError
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
)

from .cases import Case, Facts, with_kinds

FINAL = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})
SUSPENDED = frozenset({"pending", "paused"})
MAX_STEPS = 5000


def request_entry(command: ScheduleTask) -> dict[str, Any]:
    """The README's request fact for one scheduled action."""
    meta = command.meta
    if meta.get("items_count") == 0:
        return {"task_id": command.name, "route": meta["route"], "items_count": 0}
    entry: dict[str, Any] = {
        "task_id": command.name,
        "route": meta["route"],
        "action": command.action,
        "input": command.input,
    }
    for key in ("item_id", "items_count", "concurrency"):
        if meta.get(key) is not None:
            entry[key] = meta[key]
    if command.delay > 0:
        entry["delay"] = (
            int(command.delay) if command.delay == int(command.delay) else command.delay
        )
    return entry


def _resolve_inputs(value: Any, action_input: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$input"}:
            key = value["$input"]
            if key is None:
                return action_input
            return action_input.get(key) if isinstance(action_input, dict) else None
        return {k: _resolve_inputs(v, action_input) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_inputs(v, action_input) for v in value]
    return value


class FifoDriver:
    """Runs one case through an interpreter and records its facts."""

    def __init__(self, case: Case, interpreter: Interpreter) -> None:
        self.case = case
        self.interpreter = interpreter
        self.state = interpreter.new_state()
        self.requests: list[list[dict[str, Any]]] = []
        self.running: deque[ScheduleTask] = deque()
        self.instant: list[ScheduleTask] = []
        self.suspended: dict[str, ScheduleTask] = {}
        self.invocations: dict[tuple[str, int, Any], int] = {}
        self.counts: dict[str, int] = {}
        self.completions = 0
        self.operations: list[dict[str, Any]] = []
        self.status = "requested"

    # --- talking to the interpreter ----------------------------------------------

    def send(self, events: list[Event]) -> list[Command]:
        commands = self.interpreter.decide(self.state, events, 0.0)
        batch = [c for c in commands if isinstance(c, ScheduleTask)]
        if batch:
            entries = sorted(
                zip((request_entry(c) for c in batch), batch, strict=True),
                key=lambda p: (p[0]["task_id"], p[0]["route"], p[0].get("item_id") or 0),
            )
            self.requests.append([e for e, _ in entries])
            for _, command in entries:
                run_key = (command.name, command.meta["route"], command.meta.get("run"))
                if command.action is not None and run_key not in self.invocations:
                    self.invocations[run_key] = self.counts.get(command.name, 0)
                    self.counts[command.name] = self.invocations[run_key] + 1
            for command in batch:
                if command.action is None:
                    self.instant.append(command)
                else:
                    self.running.append(command)
        for command in commands:
            if isinstance(command, SetStatus | CompleteExecution):
                self.status = command.status
        return commands

    def outcome(self, command: ScheduleTask) -> tuple[str, Any]:
        run_key = (command.name, command.meta["route"], command.meta.get("run"))
        index = self.invocations.get(run_key, 0)
        scripted = self.case.get("script", {}).get(command.name, [])
        entry = scripted[index] if index < len(scripted) else None
        item = command.meta.get("item_id")
        if entry is not None and item is not None and "items" in entry:
            items = entry["items"]
            entry = items[item] if item < len(items) else None
        elif entry is not None and "items" in entry:
            entry = None
        default = self.case.get("action_defaults", {}).get(command.action) or {}
        status = (entry or {}).get("status") or default.get("status") or "succeeded"
        result = entry["result"] if entry and "result" in entry else default.get("result")
        return status, _resolve_inputs(result, command.input)

    # --- operations ------------------------------------------------------------------

    def _due_by_count(self) -> bool:
        pending = self.case.get("operations", [])[len(self.operations) :]
        return bool(pending) and pending[0].get("when", "idle") != "idle" and self._due(False)

    def _due(self, idle: bool) -> bool:
        pending = self.case.get("operations", [])[len(self.operations) :]
        if not pending:
            return False
        when = pending[0].get("when", "idle")
        if when == "idle":
            return idle
        return self.completions >= int(when["completions"])

    def _operation_events(self, op: dict[str, Any]) -> list[Event]:
        kind = op["op"]
        if kind == "pause":
            return [PauseRequested()]
        if kind == "resume":
            return [ResumeRequested()]
        if kind == "cancel":
            return [CancelRequested()]
        if kind == "rerun":
            tasks = [
                {
                    "task_id": t["task_id"],
                    "route": t.get("route", 0),
                    "reset_items": t.get("reset_items", False),
                }
                for t in op.get("tasks", [])
            ]
            return [RerunRequested(tasks=tasks)]
        target = self._suspended_for(op)
        if target is None:
            return []
        del self.suspended[target.task_id]
        events: list[Event] = [
            TaskResumed(task_id=target.task_id) for s in op.get("before", []) if s == "running"
        ]
        events.append(
            TaskCompleted(
                task_id=target.task_id,
                status=op.get("status", "succeeded"),
                result=op.get("result"),
            )
        )
        return events

    def apply_operation(self, leading: list[Event] | None = None) -> None:
        """Apply the next operation, in one batch after ``leading`` events (a completion).

        The oracle applies an operation before asking for new tasks, so a completion
        that makes it due and the operation itself are folded together.
        """
        op = self.case["operations"][len(self.operations)]
        before = self.status
        record: dict[str, Any] = {"op": op["op"], "at_completions": self.completions}
        events = (leading or []) + self._operation_events(op)
        commands = self.send(events) if events else []
        changes = [c.status for c in commands if isinstance(c, SetStatus | CompleteExecution)]
        if len(changes) > 1 and changes[-1] == "running":
            # The last change comes from starting tasks after the operation.
            changes = changes[:-1]
        record["status_after"] = changes[-1] if changes else before
        for command in commands:
            if isinstance(command, RejectRequest):
                record["error"] = dict(command.error)
        self.operations.append(record)

    def _suspended_for(self, op: dict[str, Any]) -> ScheduleTask | None:
        for command in self.suspended.values():
            if command.name != op["task_id"] or command.meta["route"] != op.get("route", 0):
                continue
            if op.get("item_id") is not None and command.meta.get("item_id") != op["item_id"]:
                continue
            return command
        return None

    # --- the loop ----------------------------------------------------------------------

    def run(self) -> Facts:
        case = self.case
        self.send([ExecutionStarted(input=case.get("input", {}), context=case.get("context", {}))])
        for _ in range(MAX_STEPS):
            if self.instant:
                done, self.instant = self.instant, []
                self.send(
                    [
                        TaskCompleted(task_id=c.task_id, status="succeeded", result=None)
                        for c in done
                    ]
                )
                continue
            if self._due_by_count():
                self.apply_operation()
                continue
            if self.running:
                command = self.running.popleft()
                status, result = self.outcome(command)
                self.completions += 1
                event: Event
                if status in SUSPENDED:
                    self.suspended[command.task_id] = command
                    event = TaskSuspended(task_id=command.task_id, status=status, result=result)
                else:
                    event = TaskCompleted(task_id=command.task_id, status=status, result=result)
                if self._due_by_count():
                    self.apply_operation(leading=[event])
                else:
                    self.send([event])
                continue
            if self._due(idle=True):
                self.apply_operation()
                continue
            break
        return self.facts()

    def facts(self) -> Facts:
        view = self.interpreter.describe(self.state)
        return {
            "valid": True,
            "requests": self.requests,
            "status": view.status,
            "output": view.output or None,
            "errors": with_kinds(view.errors),
            "tasks": [
                {"task_id": t.name, "route": int(t.key), "status": t.status} for t in view.tasks
            ],
            "operations": self.operations,
            "pending": [
                {"task_id": c.name, "route": c.meta["route"]} for c in self.suspended.values()
            ],
        }


def run_case(case: Case) -> Facts:
    """Validate and run a case with the fifo policy; the facts it produced."""
    front_end = OrquestaFrontEnd(
        context_names=list(case.get("context", {})), datastore=case.get("kv", {})
    )
    try:
        interpreter = front_end.compile(case["workflow"], origin=case["name"])
    except DefinitionError as exc:
        return {"valid": False, "problems": [p.to_dict() for p in exc.problems]}
    return FifoDriver(case, interpreter).run()
