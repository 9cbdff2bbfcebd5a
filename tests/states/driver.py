"""A pure conformance driver for the States interpreter.

It plays the engine and AWS around one execution: a fake clock that jumps to
the next due timer or task answer when nothing else can happen, Lambda
functions executed from the case's behaviour data, activity workers from
their step lists. The execution's Step Functions history is read back from
the interpreter's markers with ``sfn_history``.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from dataclasses import dataclass, field
from typing import Any

from cadenza.interpreters.states.frontend import AWS_PAYLOAD_LIMIT, StatesFrontEnd
from cadenza.interpreters.states.history import sfn_history
from cadenza.interpreters.states.interpreter import StatesInterpreter, aws_status
from cadenza.model.commands import CompleteExecution, RecordMarker, ScheduleTask, StartTimer
from cadenza.model.events import (
    Event,
    ExecutionStarted,
    MarkerRecorded,
    TaskCompleted,
    TaskStarted,
    TimerFired,
)

START_TIME = 1_700_000_000.0
MAX_DECISIONS = 200_000
REGION_ACCOUNT = "us-east-1:111111111111"
# Events the recorder dropped from sorted Parallel stretches (see the README's hints).
SORTED_STRETCH_DROPS = frozenset({"ParallelStateSucceeded", "ParallelStateFailed"})


def _lambda_error(behaviour: dict[str, Any]) -> dict[str, Any]:
    message = behaviour.get("errorMessage", "")
    return {
        "errorMessage": message,
        "errorType": behaviour.get("errorType", "Exception"),
        "requestId": "00000000-0000-4000-8000-000000000001",
        "stackTrace": [
            '  File "/var/task/handler.py", line 2, in handler\n'
            f"    raise Exception({json.dumps(message)})\n"
        ],
    }


def _python_str(value: Any) -> str:
    return str(value)


def _recorder_view(event: dict[str, Any]) -> dict[str, Any]:
    """What the recorder did to nested strings: JSON object text became the object."""
    out = dict(event)
    for key, details in event.items():
        if key.endswith("EventDetails") and isinstance(details, dict):
            nested = details.get("assignedVariables")
            if isinstance(nested, dict):
                parsed = {k: _parsed_object(v) for k, v in nested.items()}
                out[key] = {**details, "assignedVariables": parsed}
    return out


def _parsed_object(text: Any) -> Any:
    if isinstance(text, str) and text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


@dataclass(order=True)
class _Due:
    time: float
    order: int
    event: Event = field(compare=False)


class Driver:
    """Runs one execution of a case to its end (or until nothing more can happen)."""

    def __init__(self, case: dict[str, Any], execution: dict[str, Any]) -> None:
        self.case = case
        self.execution = execution
        machine = case.get("state_machine", {})
        # The recorded cases ran in AWS: its payload limit applies.
        self.interpreter: StatesInterpreter = StatesFrontEnd(
            machine.get("type", "STANDARD"), payload_limit=AWS_PAYLOAD_LIMIT
        ).compile(json.dumps(case["definition"]), origin=case["name"])
        self.state = self.interpreter.new_state()
        self.now = START_TIME
        self.agenda: list[_Due] = []
        self.order = 0
        self.markers: list[MarkerRecorded] = []
        self.final: CompleteExecution | None = None

    # --- the fake world ----------------------------------------------------------------------

    def at(self, delay: float, event: Event) -> None:
        self.order += 1
        heapq.heappush(self.agenda, _Due(self.now + delay, self.order, event))

    def lambda_outcome(self, command: ScheduleTask) -> tuple[float, TaskCompleted]:
        behaviour = self.case.get("resources", {}).get(command.action)
        delay = 0.0
        while behaviour is not None and behaviour.get("kind") == "sleep":
            delay += float(behaviour.get("seconds", 0))
            behaviour = behaviour.get("then")
        tid = command.task_id
        if behaviour is None:
            error = {"type": "action.not_found", "message": f"no function {command.action}"}
            return delay, TaskCompleted(task_id=tid, status="failed", error=error)
        kind = behaviour.get("kind")
        if kind == "identity":
            result: Any = command.input
        elif kind == "return":
            result = behaviour.get("value")
        elif kind == "raise":
            error = {"type": behaviour.get("errorType"), "message": behaviour.get("errorMessage")}
            payload = _lambda_error(behaviour)
            return delay, TaskCompleted(task_id=tid, status="failed", result=payload, error=error)
        elif kind == "return_bytes":
            text = behaviour.get("text")
            if text is None:
                text = str(behaviour.get("repeat", "")) * int(behaviour.get("count", 0))
            try:
                result = json.loads(text)
            except ValueError:
                result = text
        elif kind == "python_format":
            result = str(behaviour.get("prefix", "")) + _python_str(command.input)
        else:
            raise AssertionError(f"unknown Lambda behaviour {kind!r}")
        return delay, TaskCompleted(task_id=tid, status="succeeded", result=result)

    def activity(self, command: ScheduleTask) -> None:
        arn = command.queue  # an activity's queue is its ARN
        worker = self.case.get("resources", {}).get(arn)
        if worker is None or ("worker_name" not in worker and not worker.get("steps")):
            # An activity nobody created (or one deleted): the engine cannot queue it.
            error = {"type": "action.not_found", "message": f"no activity {arn}"}
            self.at(0.0, TaskCompleted(task_id=command.task_id, status="failed", error=error))
            return
        if not worker.get("steps"):
            return
        delay = 0.0
        claimed = TaskStarted(task_id=command.task_id, worker=worker["worker_name"])
        self.at(0.0, claimed)
        text = json.dumps(command.input)
        for step in worker.get("steps", []):
            action = step.get("do")
            if action == "sleep":
                delay += float(step.get("seconds", 0))
            elif action == "success":
                output = step.get("output")
                result = command.input if output == "$input" else output
                self.at(delay, TaskCompleted(task_id=command.task_id, result=result))
                return
            elif action == "failure":
                cause = step.get("cause")
                cause = text if cause == "$input" else cause
                error = {"type": step.get("error"), "message": cause}
                result = {"error": step.get("error"), "cause": cause}
                event = TaskCompleted(
                    task_id=command.task_id, status="failed", result=result, error=error
                )
                self.at(delay, event)
                return
            elif action == "nothing":
                return

    # --- the loop ---------------------------------------------------------------------------------

    def send(self, events: list[Event]) -> None:
        for command in self.interpreter.decide(self.state, events, self.now):
            if isinstance(command, RecordMarker):
                self.markers.append(MarkerRecorded(kind=command.kind, details=command.details))
            elif isinstance(command, StartTimer):
                self.at(command.delay, TimerFired(timer_id=command.timer_id))
            elif isinstance(command, ScheduleTask):
                if command.external:
                    self.activity(command)
                else:
                    delay, event = self.lambda_outcome(command)
                    self.at(delay, event)
            elif isinstance(command, CompleteExecution):
                self.final = command

    def run(self) -> dict[str, Any]:
        case, execution = self.case, self.execution
        machine = case.get("state_machine", {})
        name = execution.get("name", "execution")
        machine_arn = machine.get("arn") or (
            f"arn:aws:states:{REGION_ACCOUNT}:stateMachine:{machine.get('name', 'machine')}"
        )
        context = {
            "state_machine_name": machine.get("name", "machine"),
            "state_machine_arn": machine_arn,
            "execution_name": name,
            "execution_arn": execution.get("arn")
            or f"arn:aws:states:{REGION_ACCOUNT}:execution:{machine.get('name')}:{name}",
        }
        if machine.get("role_arn"):
            context["role_arn"] = machine["role_arn"]
        context["unavailable_resources"] = [
            arn
            for arn, resource in case.get("resources", {}).items()
            if resource.get("kind") == "activity_worker"
            and "worker_name" not in resource
            and not resource.get("steps")
        ]
        seed = int.from_bytes(hashlib.sha256(f"{case['name']}/{name}".encode()).digest()[:4], "big")
        meta = {
            "execution_id": name,
            "definition_name": machine.get("name"),
            "start_time": self.now,
        }
        execution_input = {} if execution.get("input_omitted") else execution.get("input")
        self.send([ExecutionStarted(input=execution_input, context=context, seed=seed, meta=meta)])
        for _ in range(MAX_DECISIONS):
            if self.final is not None or not self.agenda:
                break
            due = heapq.heappop(self.agenda)
            batch = [due.event]
            while self.agenda and self.agenda[0].time <= due.time:
                batch.append(heapq.heappop(self.agenda).event)
            self.now = max(self.now, due.time)
            self.send(batch)
        return self.report()

    def report(self) -> dict[str, Any]:
        events = [_recorder_view(e) for e in sfn_history(self.markers)]
        if self.case.get("hints", {}).get("parallel_events_sorted"):
            events = [e for e in events if e.get("type") not in SORTED_STRETCH_DROPS]
        out: dict[str, Any] = {"status": aws_status(self.state), "events": events}
        if self.state["status"] == "SUCCEEDED":
            out["output"] = self.state["output"]
        else:
            if self.state["error"] is not None:
                out["error"] = self.state["error"]
            if self.state["cause"] is not None:
                out["cause"] = _parsed_object(self.state["cause"])
        return out


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    """Every execution of an ``execution`` case, in the comparator's ``actual`` shape."""
    return {"executions": [Driver(case, execution).run() for execution in case["executions"]]}
