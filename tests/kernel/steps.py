"""A tiny front end for kernel tests: a JSON list of steps run one after another.

``{"steps": [{"name": "a", "action": "core.echo", "input": {...}}, ...]}``; the
output is the list of results. A failed step fails the execution. It keeps
the engine's tests independent of any real workflow language.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cadenza.interpreters.protocol import (
    ActionUse,
    ExecutionView,
    HistoryView,
    PendingTask,
    Recognition,
    RerunRequest,
    SnapshotPolicy,
    TaskAnswer,
    TaskView,
)
from cadenza.model.commands import (
    CancelTask,
    Command,
    CompleteExecution,
    RejectRequest,
    ScheduleTask,
    SetStatus,
    StartChild,
)
from cadenza.model.definitions import DefinitionSource
from cadenza.model.errors import DefinitionError, InputError, Problem
from cadenza.model.events import (
    CancelRequested,
    Event,
    ExecutionStarted,
    PauseRequested,
    RerunRequested,
    ResumeRequested,
    TaskCompleted,
)
from cadenza.model.retry import RetryPolicy
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES


class StepsInterpreter:
    kind = "steps"

    def __init__(self, steps: list[dict[str, Any]], retry: RetryPolicy | None) -> None:
        self.steps = steps
        self.retry = retry

    def new_state(self) -> dict[str, Any]:
        return {"index": 0, "results": [], "status": "requested", "paused": False, "waiting": False}

    def _schedule(self, state: dict[str, Any]) -> Command:
        i = state["index"]
        if i >= len(self.steps):
            state["status"] = "succeeded"
            return CompleteExecution("succeeded", output=state["results"])
        step = self.steps[i]
        state["waiting"] = True
        if "child" in step:
            # A step may run another definition as a child execution.
            return StartChild(
                task_id=f"{step['name']}.{i}",
                name=step["name"],
                definition=step["child"],
                input=step.get("input"),
            )
        return ScheduleTask(
            task_id=f"{step['name']}.{i}",
            name=step["name"],
            action=step.get("action"),
            input=step.get("input"),
            delay=float(step.get("delay", 0)),
            retry=self.retry,
            timeout=step.get("timeout"),
            heartbeat_timeout=step.get("heartbeat_timeout"),
            queue=step.get("queue", "default"),
            external=bool(step.get("external", False)),
        )

    def decide(self, state: dict[str, Any], events: Sequence[Event], now: float) -> list[Command]:
        out: list[Command] = []
        for event in events:
            if isinstance(event, ExecutionStarted):
                state["status"] = "running"
                out.append(SetStatus("running"))
                out.append(self._schedule(state))
            elif isinstance(event, TaskCompleted):
                if state["status"] in FINAL_EXECUTION_STATUSES:
                    continue  # a late answer for a withdrawn task
                state["waiting"] = False
                if event.status != "succeeded":
                    state["status"] = "failed"
                    out.append(
                        CompleteExecution(
                            "failed", errors=[{"task": event.task_id, "error": event.error}]
                        )
                    )
                    continue
                state["results"].append(event.result)
                state["index"] += 1
                if state["paused"]:
                    state["status"] = "paused"
                    out.append(SetStatus("paused"))
                else:
                    out.append(self._schedule(state))
            elif isinstance(event, CancelRequested):
                if state["status"] in FINAL_EXECUTION_STATUSES:
                    out.append(RejectRequest("cancel", {"kind": "Refused", "message": "ended"}))
                    continue
                if state["waiting"]:
                    i = state["index"]
                    out.append(CancelTask(f"{self.steps[i]['name']}.{i}"))
                state["status"] = "canceled"
                out.append(CompleteExecution("canceled"))
            elif isinstance(event, PauseRequested):
                if state["status"] != "running":
                    out.append(
                        RejectRequest("pause", {"kind": "Refused", "message": "not running"})
                    )
                else:
                    state["paused"] = True
                    state["status"] = "pausing"
                    out.append(SetStatus("pausing"))
            elif isinstance(event, ResumeRequested):
                state["paused"] = False
                if state["status"] == "paused":
                    state["status"] = "running"
                    out.append(SetStatus("running"))
                    out.append(self._schedule(state))
                elif state["status"] == "pausing":
                    state["status"] = "running"
                    out.append(SetStatus("running"))
        return out

    def actions(self) -> list[ActionUse]:
        return []

    def dump_state(self, state: Any) -> Any:
        return json.loads(json.dumps(state))

    def load_state(self, data: Any) -> Any:
        return data

    def describe(self, state: Any) -> ExecutionView:
        return ExecutionView(
            status=state["status"],
            output=state["results"],
            tasks=[
                TaskView(name=s["name"], status="succeeded") for s in self.steps[: state["index"]]
            ],
        )


class StepsFrontEnd:
    kind = "steps"
    suffixes: tuple[str, ...] = ()
    input_must_be_object = True
    final_statuses = frozenset(FINAL_EXECUTION_STATUSES)
    waiting_statuses = frozenset({"paused"})
    snapshots = SnapshotPolicy()

    def __init__(self, retry: RetryPolicy | None = None) -> None:
        self.retry = retry

    def recognize(self, source: DefinitionSource) -> Recognition:
        return (
            Recognition.YES if isinstance(source, str) and '"steps"' in source else Recognition.NO
        )

    def rerun_event(self, request: RerunRequest) -> RerunRequested:
        raise InputError("a list of steps cannot be rerun")

    def answer(self, task: PendingTask, answer: TaskAnswer) -> TaskCompleted:
        status = "failed" if answer.failed else "succeeded"
        return TaskCompleted(task_id=task.task_id, status=status, result=answer.result)

    def history_views(self) -> Mapping[str, HistoryView]:
        return {}

    def compile(self, source: DefinitionSource, *, origin: str | None = None) -> StepsInterpreter:
        assert isinstance(source, str)
        try:
            data = json.loads(source)
        except ValueError as exc:
            raise DefinitionError(
                problems=[Problem("", f"not JSON: {exc}")], source=origin
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
            raise DefinitionError(
                problems=[Problem("steps", "a list of steps is required")], source=origin
            )
        return StepsInterpreter(data["steps"], self.retry)


def steps(*items: dict[str, Any]) -> str:
    return json.dumps({"steps": list(items)})
