"""The States interpreter: the engine-facing fold over a compiled definition.

``decide`` folds each input event with a :class:`Run` and returns its commands:
``RecordMarker(kind="sfn")`` per Step Functions history event, ``ScheduleTask``
per task attempt, ``StartTimer`` for waits, retries and timeouts, and one
``CompleteExecution`` when the execution reaches a final status (again after a
redrive ends). Late answers for states that already moved on are ignored.

After the events, the ready threads are stepped until each is blocked or done
(:func:`_drain`): entering a state runs its type's work from the dispatch table
``_WORK``, and the ends of branches and iterations are told to their
Parallel/Map.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from cadenza.interpreters.protocol import ActionUse, ExecutionView, TaskView
from cadenza.interpreters.states import concurrency, simple_states, tasks
from cadenza.interpreters.states.dataflow import dumps, iso_time
from cadenza.interpreters.states.definition import Definition
from cadenza.interpreters.states.errors import StateFailure
from cadenza.interpreters.states.mocks import CONTEXT_KEY as MOCKS_KEY
from cadenza.interpreters.states.runtime import Run
from cadenza.model.commands import (
    CancelTask,
    Command,
    CompleteExecution,
    RejectRequest,
    SetStatus,
    StartTimer,
)
from cadenza.model.events import (
    CancelRequested,
    Event,
    ExecutionStarted,
    RerunRequested,
    TaskCompleted,
    TaskStarted,
    TimerFired,
)
from cadenza.model.ids import uuid_shaped
from cadenza.model.secrets import SECRET_RESULTS

if TYPE_CHECKING:
    from cadenza.interpreters.states.state import ExecutionState, Thread

__all__ = ["AWS_TO_CADENZA", "StatesInterpreter", "aws_status"]

REGION = "us-east-1"
ACCOUNT = "111111111111"

AWS_TO_CADENZA = {
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "TIMED_OUT": "timeout",
    "ABORTED": "canceled",
    "NEW": "requested",
}
_REDRIVABLE = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


#: The work of each state type, run when a thread enters the state (and again
#: for each retry): it finishes the state at once or starts what it waits for.
_WORK: dict[str, Callable[[Run, Thread], None]] = {
    "Pass": simple_states.run_pass,
    "Wait": simple_states.run_wait,
    "Choice": simple_states.run_choice,
    "Succeed": simple_states.run_succeed,
    "Fail": simple_states.run_fail,
    "Task": tasks.start_task,
    "Parallel": concurrency.start_parallel,
    "Map": concurrency.start_map,
}


def aws_status(state: ExecutionState) -> str:
    """The execution status with Step Functions' name (RUNNING, SUCCEEDED, ...)."""
    return str(state["status"])


def _drain(run: Run) -> None:
    """Step every ready thread until all are blocked or done."""
    state = run.state
    while run.ready or run.deferred:
        if state["status"] != "RUNNING":
            run.ready.clear()
            run.deferred.clear()
            return
        if not run.ready:
            tid, outcome = run.deferred.popleft()
            child = state["threads"].get(tid)
            if child is None:
                continue
            if isinstance(outcome, StateFailure):
                concurrency.child_failed(run, child, outcome)
            else:
                concurrency.child_succeeded(run, child, outcome[0])
            continue
        th = state["threads"].get(run.ready.popleft())
        if th is None or th["done"]:
            continue
        run.entered(th)
        _work(run, th)


def _work(run: Run, th: Thread) -> None:
    """Run (or re-run, after a retry delay) the current state's work."""
    try:
        _WORK[run.spec(th)["Type"]](run, th)
    except StateFailure as failure:
        run.state_failed(th, failure)


def _timer_fired(run: Run, timer_id: str) -> None:
    timer = run.state["timers"].pop(timer_id, None)
    if timer is None:
        return
    if timer["kind"] == "execution":
        simple_states.execution_timed_out(run)
        return
    th = run.state["threads"].get(timer["thread"])
    if th is None or th["done"]:
        return
    if timer["kind"] == "retry":
        _work(run, th)
    elif timer["kind"] == "wait":
        simple_states.wait_over(run, th)
    elif timer["kind"] == "timeout":
        tasks.task_timed_out(run, th, timer)


class StatesInterpreter:
    """The decision function of one States definition (``Interpreter`` protocol)."""

    kind = "states"

    def __init__(self, definition: Definition, action_uses: Sequence[ActionUse] = ()) -> None:
        self.definition = definition
        self.action_uses = tuple(action_uses)

    def actions(self) -> list[ActionUse]:
        """The Lambda function and activity ARNs the definition names literally."""
        return list(self.action_uses)

    def new_state(self) -> ExecutionState:
        return {
            "status": "NEW",
            "output": None,
            "error": None,
            "cause": None,
            "next_event_id": 1,
            "seq": 0,
            "draws": 0,
            "seed": 0,
            "redrive_count": 0,
            "context": {},
            "threads": {},
            "tasks": {},
            "timers": {},
            "reported": None,
            "redrive": None,
            "execution_id": "",
        }

    def dump_state(self, state: ExecutionState) -> Any:
        return json.loads(json.dumps(state))

    def load_state(self, data: Any) -> ExecutionState:
        return cast("ExecutionState", dict(copy.deepcopy(data)))

    def decide(self, state: ExecutionState, events: Sequence[Event], now: float) -> list[Command]:
        run = Run(self.definition, state, now)
        for event in events:
            self._guarded(run, functools.partial(self._fold, run, event))
        self._guarded(run, functools.partial(_drain, run))
        if state["status"] not in ("NEW", "RUNNING") and state["tasks"]:
            # The execution ended: withdraw what it still waited for, so no
            # worker takes it and a late answer is refused.
            run.commands.extend(CancelTask(task_id) for task_id in sorted(state["tasks"]))
            state["tasks"] = {}
        return run.commands + self._report(state)

    def _guarded(self, run: Run, step: Callable[[], None]) -> None:
        """Run one step; a defect while the execution runs fails it with
        ``States.Runtime``, as Step Functions reports its own errors.

        Any other defect (before the execution started, or after it ended) is
        raised: the engine records an exception escaping ``decide`` as an
        ``engine.interpreter_defect`` failure, so nothing is lost.
        """
        try:
            step()
        except Exception as exc:
            if run.state["status"] != "RUNNING":
                raise
            failure = StateFailure("States.Runtime", f"{type(exc).__name__}: {exc}")
            run.execution_failed(run.state["threads"].get("root"), failure)

    def _fold(self, run: Run, event: Event) -> None:
        state = run.state
        if isinstance(event, ExecutionStarted):
            if state["status"] == "NEW":
                self._start(run, event)
        elif isinstance(event, RerunRequested):
            if state["status"] in _REDRIVABLE and state.get("redrive"):
                self._redrive(run)
            else:
                message = f"a {state['status']} execution cannot be redriven"
                run.commands.append(
                    RejectRequest("rerun", {"kind": "operation.refused", "message": message})
                )
        elif isinstance(event, CancelRequested):
            if state["status"] != "RUNNING":
                message = f"a {state['status']} execution cannot be stopped"
                run.commands.append(
                    RejectRequest("cancel", {"kind": "operation.refused", "message": message})
                )
                return
            root = state["threads"].get("root")
            run.emit(root, "ExecutionAborted", "executionAbortedEventDetails", {})
            state.update({"status": "ABORTED", "output": None, "error": None, "cause": None})
        elif state["status"] != "RUNNING":
            return  # late answers after the end
        elif isinstance(event, TaskCompleted):
            if not concurrency.storage_task_completed(run, event):
                tasks.task_completed(run, event)
        elif isinstance(event, TaskStarted):
            tasks.task_started(run, event.task_id, event.worker)
        elif isinstance(event, TimerFired):
            _timer_fired(run, event.timer_id)

    def _start(self, run: Run, event: ExecutionStarted) -> None:
        state = run.state
        meta = event.meta or {}
        given = event.context if isinstance(event.context, dict) else {}
        parent = meta.get("parent")
        if not given and isinstance(parent, dict) and isinstance(parent.get("context"), dict):
            # A child started by ``states:startExecution``: its name, machine and role.
            given = parent["context"]
        machine = str(given.get("state_machine_name") or meta.get("definition_name") or "machine")
        machine_arn = str(
            given.get("state_machine_arn")
            or f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{machine}"
        )
        name = str(given.get("execution_name") or meta.get("execution_id") or "execution")
        execution_arn = str(given.get("execution_arn") or "")
        if not execution_arn and given.get("machine_type") == "EXPRESS":
            # Express ARNs end with an id of their own: drawn from the recorded seed.
            run_id = uuid_shaped(hashlib.sha256(f"express:{event.seed}".encode()).digest())
            execution_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:express:{machine}:{name}:{run_id}"
        if not execution_arn:
            execution_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{name}"
        started = float(meta.get("start_time") or run.now)
        execution: dict[str, Any] = {
            "Id": execution_arn,
            "Input": event.input,
            "StartTime": iso_time(started),
            "Name": name,
        }
        role = given.get("role_arn")
        if role:
            execution["RoleArn"] = role
        state["seed"] = event.seed
        state["execution_id"] = str(meta.get("execution_id") or name)
        state["unavailable"] = sorted(str(r) for r in given.get("unavailable_resources") or [])
        declared = given.get(SECRET_RESULTS)
        if isinstance(declared, dict) and declared:
            # Results of these states are secret at these paths (see tasks.start_task).
            state["secret_results"] = cast(dict[str, list[str]], declared)
        mocked = given.get(MOCKS_KEY)
        if isinstance(mocked, dict) and mocked:
            state["mocks"] = mocked
            state["mock_calls"] = {}
        state["context"] = {
            "Execution": execution,
            "StateMachine": {"Id": machine_arn, "Name": machine},
        }
        state["status"] = "RUNNING"
        details: dict[str, Any] = {
            "input": dumps(event.input),
            "inputDetails": {"truncated": False},
        }
        if role:
            details["roleArn"] = role
        run.emit(None, "ExecutionStarted", "executionStartedEventDetails", details)
        root = run.new_thread("", None, 0, event.input, {}, 0)
        if self.definition.timeout is not None:
            timer_id = f"execution.timeout.{run.seq()}"
            state["timers"][timer_id] = {"thread": "root", "kind": "execution"}
            run.commands.append(StartTimer(timer_id, self.definition.timeout))
        run.ready.append(root["id"])

    def _redrive(self, run: Run) -> None:
        state = run.state
        point = state.get("redrive")
        if not point:
            return
        state["redrive_count"] += 1
        state.update(
            {
                "status": "RUNNING",
                "output": None,
                "error": None,
                "cause": None,
                "reported": None,
                "reopened": True,
            }
        )
        run.emit(
            None,
            "ExecutionRedriven",
            "executionRedrivenEventDetails",
            {"redriveCount": state["redrive_count"]},
        )
        # Nothing from before the redrive may answer the new attempt.
        state["threads"], state["tasks"], state["timers"] = {}, {}, {}
        last = int(state["next_event_id"]) - 1
        root = run.new_thread(point["scope"], None, 0, point["input"], point["vars"], last)
        root["state"] = point["state"]
        if point.get("frame") is not None:
            root["redrive_frame"] = point["frame"]
        run.ready.append(root["id"])

    def _report(self, state: ExecutionState) -> list[Command]:
        status = state["status"]
        # Redriven: the execution is open again after its earlier end.
        reopened: list[Command] = [SetStatus("running")] if state.pop("reopened", False) else []
        if status in ("NEW", "RUNNING"):
            return reopened
        report = [status, state["output"], state["error"], state["cause"]]
        if state.get("reported") == report:
            return []
        state["reported"] = copy.deepcopy(report)
        if status != "SUCCEEDED":
            root = state["threads"].get("root")
            if root is not None:
                state["redrive"] = {
                    "scope": root["scope"],
                    "state": root["state"],
                    "input": root["input"],
                    "vars": root["vars"],
                    "frame": root.get("redrive_frame"),
                }
        errors = []
        if status != "SUCCEEDED":
            errors.append({"error": state["error"], "cause": state["cause"]})
        return [*reopened, CompleteExecution(AWS_TO_CADENZA[status], state["output"], errors)]

    def describe(self, state: ExecutionState) -> ExecutionView:
        active = [
            TaskView(th["state"], "running", th["id"])
            for th in state["threads"].values()
            if not th["done"]
        ]
        errors = []
        if state["status"] not in ("SUCCEEDED", "RUNNING", "NEW"):
            errors.append(
                {"error": state["error"], "cause": state["cause"], "status": state["status"]}
            )
        return ExecutionView(
            status=AWS_TO_CADENZA.get(state["status"], "running"),
            output=state["output"],
            errors=errors,
            tasks=sorted(active, key=lambda t: t.key),
        )
