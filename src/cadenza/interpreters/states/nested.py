"""Nested state machines: the ``states:startExecution`` integration as child executions.

``arn:aws:states:::states:startExecution[.sync|.sync:2|.waitForTaskToken]``
starts another registered state machine, named by its ARN or its name in
``StateMachineArn``, as a child execution (the kernel's ``StartChild``); the
child's ``Input`` may be a JSON value or JSON text, its ``Name`` is optional
(a name is drawn from the execution's seed when absent, as AWS draws a UUID).

What the Task state's result is, by pattern (AWS's shapes):

* plain — ``{"ExecutionArn", "StartDate"}`` as soon as the child is started;
  the child runs on, and its end is not waited for;
* ``.sync`` — once the child ends, DescribeExecution's fields
  (``ExecutionArn``, ``Input``, ``InputDetails``, ``Name``, ``Output``,
  ``OutputDetails``, ``StartDate``, ``StateMachineArn``, ``Status``,
  ``StopDate``) with ``Input`` and ``Output`` as JSON text;
* ``.sync:2`` — the same with ``Input`` and ``Output`` as JSON values;
* ``.waitForTaskToken`` — the answer sent with the token (usually passed to
  the child in its input), as for any callback task; the child's own end
  does not end the state.

A child that fails, times out or is aborted fails a ``.sync`` task with
``States.TaskFailed`` and the DescribeExecution fields (with ``Error`` and
``Cause``) as JSON text in the cause. A state machine that does not exist
fails the task with ``StepFunctions.StateMachineDoesNotExistException``.
Dates are epoch milliseconds. The child gets its name, state machine name
and role through ``StartChild.meta["context"]`` (its ``ExecutionStarted``
shows them under ``meta["parent"]``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from cadenza.interpreters.states.errors import StateFailure
from cadenza.model.events import TaskCompleted
from cadenza.model.ids import uuid_shaped

__all__ = [
    "ChildRequest",
    "child_outcome",
    "child_request",
    "is_start_execution",
    "started_output",
]

REGION = "us-east-1"
ACCOUNT = "111111111111"

#: What the engine reports a child's final status as, in Step Functions' words.
_STATUS = {
    "succeeded": "SUCCEEDED",
    "failed": "FAILED",
    "timeout": "TIMED_OUT",
    "canceled": "ABORTED",
}

ChildRequest = dict[str, Any]


def is_start_execution(resource: Mapping[str, Any]) -> bool:
    """Whether a classified Task resource is ``states:startExecution`` (any pattern)."""
    return (
        resource.get("kind") == "service"
        and resource.get("resourceType") == "states"
        and resource.get("action") == "startExecution"
    )


def machine_name(reference: str) -> str:
    """The state machine name in an ARN (``…:stateMachine:NAME[:version]``), or
    ``reference`` itself when it is a bare name."""
    if reference.startswith("arn:"):
        parts = reference.split(":")
        if len(parts) >= 7 and parts[5] == "stateMachine":
            return parts[6]
    return reference


def child_request(payload: Any, drawn: bytes, now: float, role_arn: Any) -> ChildRequest:
    """What to start, from the task's ``Parameters``/``Arguments``; ``drawn`` is
    16 bytes from the execution's seed, for a name when none is given.

    Raises ``StateFailure`` (``States.Runtime``) when ``StateMachineArn`` is missing.
    """
    params = payload if isinstance(payload, dict) else {}
    reference = params.get("StateMachineArn")
    if not isinstance(reference, str) or not reference:
        raise StateFailure(
            "States.Runtime", "startExecution needs a StateMachineArn (an ARN or a name)"
        )
    name = str(params.get("Name") or uuid_shaped(drawn))
    machine = machine_name(reference)
    machine_arn = reference if reference.startswith("arn:") else _arn("stateMachine", machine)
    given = params.get("Input", {})
    if isinstance(given, str):
        # Not JSON text: the child gets the string itself.
        with contextlib.suppress(ValueError):
            given = json.loads(given)
    context: dict[str, Any] = {
        "execution_name": name,
        "state_machine_name": machine,
        "state_machine_arn": machine_arn,
    }
    if role_arn:
        context["role_arn"] = role_arn
    return {
        "machine": machine,
        "machine_arn": machine_arn,
        "name": name,
        "arn": _arn("execution", f"{machine}:{name}"),
        "input": given,
        "started": _millis(now),
        "context": context,
    }


def started_output(child: ChildRequest) -> dict[str, Any]:
    """StartExecution's response: what a plain (or callback) start returns."""
    return {"ExecutionArn": child["arn"], "StartDate": child["started"]}


def child_outcome(child: ChildRequest, pattern: str, event: TaskCompleted, now: float) -> Any:
    """The ``.sync``/``.sync:2`` result of the child's end, or the ``StateFailure``
    it fails the state with (returned, not raised)."""
    error = event.error if isinstance(event.error, dict) else {}
    if event.status == "failed" and error.get("type") == "DefinitionNotFound":
        return StateFailure(
            "StepFunctions.StateMachineDoesNotExistException",
            f"State Machine Does Not Exist: '{child['machine_arn']}'",
        )
    as_json = pattern == "sync:2"
    described: dict[str, Any] = {
        "ExecutionArn": child["arn"],
        "Input": child["input"] if as_json else json.dumps(child["input"]),
        "InputDetails": {"Included": True},
        "Name": child["name"],
        "StartDate": child["started"],
        "StateMachineArn": child["machine_arn"],
        "Status": _STATUS.get(event.status, "FAILED"),
        "StopDate": _millis(now),
    }
    if event.status == "succeeded":
        described["Output"] = event.result if as_json else json.dumps(event.result)
        described["OutputDetails"] = {"Included": True}
        return dict(sorted(described.items()))
    errors = error.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else {}
    if isinstance(first, dict):
        if first.get("error") is not None:
            described["Error"] = first["error"]
        if first.get("cause") is not None:
            described["Cause"] = first["cause"]
    return StateFailure("States.TaskFailed", json.dumps(dict(sorted(described.items()))))


def _arn(kind: str, rest: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:{kind}:{rest}"


def _millis(seconds: float) -> int:
    return round(seconds * 1000)
