"""The decision function of one toml-steps definition: run the steps in order.

The state is a small JSON object::

    {"status": "running",      # requested, running, pausing, paused, or final
     "next": 2,                # index of the step to run next (= steps done)
     "results": [r0, r1],      # results of the steps done, in order
     "runs": [1, 1, 0],        # how often each step was scheduled (for task ids)
     "last": ["succeeded", "succeeded", null],   # latest status of each step
     "task": "check.1",        # the task outstanding, if any
     "waiting": false,         # that task waits for an answer (core.ask)
     "errors": []}

``decide`` folds events into it and returns commands. It reads no clock,
draws no random number, does no I/O and raises for nothing a workflow or an
operator can do: a failed step fails the execution, a request that makes no
sense here is refused with ``RejectRequest``, an event about a task that is
not outstanding (a late answer to a withdrawn task) is ignored.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cadenza.interpreters.protocol import ActionUse, ExecutionView, TaskView
from cadenza.model.commands import (
    CancelTask,
    Command,
    CompleteExecution,
    RejectRequest,
    ScheduleTask,
    SetStatus,
)
from cadenza.model.events import (
    JSON,
    CancelRequested,
    Event,
    ExecutionStarted,
    PauseRequested,
    RerunRequested,
    ResumeRequested,
    TaskCompleted,
    TaskSuspended,
)

if TYPE_CHECKING:
    from .definition import Step

KIND = "toml-steps"
#: Statuses after which nothing happens unless an operator reruns.
FINAL = frozenset({"succeeded", "failed", "canceled"})


class TomlStepsInterpreter:
    """Runs ``steps`` one after another (the ``Interpreter`` protocol)."""

    kind = KIND

    def __init__(self, steps: tuple[Step, ...]) -> None:
        self.steps = steps

    # --- the protocol --------------------------------------------------------------

    def new_state(self) -> dict[str, Any]:
        count = len(self.steps)
        return {
            "status": "requested",
            "next": 0,
            "results": [],
            "runs": [0] * count,
            "last": [None] * count,
            "task": None,
            "waiting": False,
            "errors": [],
        }

    def decide(self, state: dict[str, Any], events: Sequence[Event], now: float) -> list[Command]:
        out: list[Command] = []
        for event in events:
            if isinstance(event, ExecutionStarted):
                if state["status"] == "requested":
                    self._set(state, "running", out)
                    self._advance(state, out)
            elif isinstance(event, TaskCompleted):
                if event.task_id == state["task"]:
                    self._completed(state, event, out)
            elif isinstance(event, TaskSuspended):
                if event.task_id == state["task"]:
                    self._suspended(state, out)
            elif isinstance(event, PauseRequested):
                self._pause(state, out)
            elif isinstance(event, ResumeRequested):
                self._resume(state, out)
            elif isinstance(event, CancelRequested):
                self._cancel(state, out)
            elif isinstance(event, RerunRequested):
                self._rerun(state, event, out)
            # TaskStarted, TaskResumed and TimerFired change nothing here.
        return out

    def dump_state(self, state: Any) -> JSON:
        # A copy: the live state goes on changing after the snapshot is taken.
        return json.loads(json.dumps(state))

    def load_state(self, data: JSON) -> Any:
        return json.loads(json.dumps(data))

    def describe(self, state: Any) -> ExecutionView:
        tasks = [
            TaskView(
                name=step.name,
                status=status,
                result=state["results"][i] if i < len(state["results"]) else None,
            )
            for i, (step, status) in enumerate(zip(self.steps, state["last"], strict=True))
            if status is not None
        ]
        return ExecutionView(
            status=state["status"],
            output=list(state["results"]),
            errors=list(state["errors"]),
            tasks=tasks,
        )

    def actions(self) -> list[ActionUse]:
        return [
            ActionUse(step.action, f"steps[{i}].action", step.line)
            for i, step in enumerate(self.steps)
        ]

    # --- events ----------------------------------------------------------------------

    def _completed(self, state: dict[str, Any], event: TaskCompleted, out: list[Command]) -> None:
        i = state["next"]
        state["task"], state["waiting"] = None, False
        state["last"][i] = event.status
        if event.status != "succeeded":
            # A failed, timed-out or abandoned step fails the execution; a rerun
            # starts again from this step.
            error = event.error if isinstance(event.error, dict) else {}
            failure = {
                "type": str(error.get("type") or event.status),
                "message": str(error.get("message") or f"the step {event.status}"),
                "task_id": event.task_id,
                "step": self.steps[i].name,
            }
            state["errors"] = [failure]
            self._finish(state, "failed", out)
            return
        state["results"].append(event.result)
        state["next"] = i + 1
        self._advance(state, out)

    def _suspended(self, state: dict[str, Any], out: list[Command]) -> None:
        # The step waits for an answer (``cadenza respond``): the execution
        # waits too, in a status the engine knows as waiting for an operator.
        state["waiting"] = True
        state["last"][state["next"]] = "waiting"
        if state["status"] in ("running", "pausing"):
            self._set(state, "paused", out)

    def _pause(self, state: dict[str, Any], out: list[Command]) -> None:
        if state["status"] == "running":
            # The step that runs now finishes; the next one does not start.
            self._set(state, "pausing", out)
        else:
            self._refuse(
                "pause", f"only a running execution can pause; it is {state['status']}", out
            )

    def _resume(self, state: dict[str, Any], out: list[Command]) -> None:
        status = state["status"]
        if status == "pausing":
            self._set(state, "running", out)  # the step still runs; carry on after it
        elif status == "paused" and state["waiting"]:
            name = self.steps[state["next"]].name
            self._refuse(
                "resume", f"the step {name!r} waits for an answer; answer it to go on", out
            )
        elif status == "paused":
            self._set(state, "running", out)
            self._advance(state, out)
        else:
            self._refuse(
                "resume", f"only a paused execution can resume; it is {state['status']}", out
            )

    def _cancel(self, state: dict[str, Any], out: list[Command]) -> None:
        if state["status"] in FINAL:
            self._refuse("cancel", f"the execution is over: it {state['status']}", out)
            return
        if state["task"] is not None:
            # Withdrawn: nobody claims it now, and a late report of it is refused.
            out.append(CancelTask(state["task"]))
            state["last"][state["next"]] = "canceled"
            state["task"], state["waiting"] = None, False
        self._finish(state, "canceled", out)

    def _rerun(self, state: dict[str, Any], event: RerunRequested, out: list[Command]) -> None:
        if state["status"] not in ("failed", "canceled"):
            status = state["status"]
            self._refuse(
                "rerun", f"only a failed or canceled execution can rerun; it is {status}", out
            )
        elif event.tasks:
            self._refuse("rerun", "a toml-steps execution reruns from the step that failed", out)
        else:
            state["errors"] = []
            self._set(state, "running", out)
            self._advance(state, out)  # the step that failed (or was canceled) runs again

    # --- helpers ---------------------------------------------------------------------

    def _advance(self, state: dict[str, Any], out: list[Command]) -> None:
        """Schedule the next step, or finish; a pause takes effect here."""
        i = state["next"]
        if i >= len(self.steps):
            self._finish(state, "succeeded", out)
            return
        if state["status"] == "pausing":
            self._set(state, "paused", out)
            return
        if state["status"] != "running":
            return  # paused while a step waited for its answer: resume goes on
        step = self.steps[i]
        state["runs"][i] += 1
        task_id = f"{step.name}.{state['runs'][i]}"
        state["task"] = task_id
        state["last"][i] = "running"
        out.append(
            ScheduleTask(
                task_id=task_id,
                name=step.name,
                action=step.action,
                input=copy.deepcopy(dict(step.input)),
                meta={"step": i},
            )
        )

    def _finish(self, state: dict[str, Any], status: str, out: list[Command]) -> None:
        state["status"] = status
        out.append(
            CompleteExecution(
                status, output=copy.deepcopy(state["results"]), errors=list(state["errors"])
            )
        )

    @staticmethod
    def _set(state: dict[str, Any], status: str, out: list[Command]) -> None:
        state["status"] = status
        out.append(SetStatus(status))

    @staticmethod
    def _refuse(request: str, message: str, out: list[Command]) -> None:
        """Refuse an operator's request: recorded in history, and nothing changes."""
        out.append(RejectRequest(request, {"kind": "operation.refused", "message": message}))
