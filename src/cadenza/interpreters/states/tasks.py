"""Task states: resources, the commands that run them, and their history events.

Resource kinds and what the engine is asked to run (``ScheduleTask``):

* ``arn:aws:lambda:<region>:<account>:function:<name>`` — ``action`` is the
  function ARN, ``input`` the effective payload; events ``LambdaFunction*``;
* ``arn:aws:states:<region>:<account>:lambda:invoke`` — ``action`` is the ARN of the
  ``FunctionName`` parameter, ``input`` its ``Payload``; events ``Task*``; the
  result is the Invoke response (``Payload``, ``StatusCode``, metadata);
* ``arn:aws:states:<region>:<account>:activity:<name>`` — ``external`` work:
  ``queue`` and ``action`` are the activity ARN, and an outside worker polls
  for it; events ``Activity*``;
* ``arn:aws:states:::states:startExecution[.sync|.sync:2|.waitForTaskToken]`` —
  no task: a child execution (``StartChild``), see :mod:`.nested`;
* any other ``arn:aws:states:<region>:<account>:<service>:<action>`` — ``action``
  is the resource; ``aws-sdk:<sdk service>:<action>`` is of type ``aws-sdk:<sdk service>``.

In service ARNs the region and account may be empty (``arn:aws:states:::sqs:…``) or
filled, as on AWS; a filled region is the ``region`` of the ``TaskScheduled`` event.

A Task state the execution's mock test case names runs nothing: its mocked
response answers it at once (see :mod:`.mocks`).

A ``.waitForTaskToken`` resource also waits for ``TaskCompleted`` of the task
id the token names (see ``frontend.py`` for the token format); the answer sent
with the token is the task's result as is, whatever the integration.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, cast

from cadenza.interpreters.states.dataflow import dumps
from cadenza.interpreters.states.errors import StateFailure, runtime_cause
from cadenza.interpreters.states.input_output import effective_input, finish
from cadenza.interpreters.states.lambda_invoke import (
    function_arn,
    invoke_payload,
    invoke_response,
)
from cadenza.interpreters.states.mocks import mocked_response
from cadenza.interpreters.states.nested import (
    child_outcome,
    child_request,
    is_start_execution,
    started_output,
)
from cadenza.model.commands import CancelTask, ScheduleTask, StartChild
from cadenza.model.events import TaskCompleted
from cadenza.model.secrets import SECRET_RESULT
from cadenza.model.tokens import callback_token

if TYPE_CHECKING:
    from cadenza.interpreters.states.runtime import Run
    from cadenza.interpreters.states.state import Resource, RunningTask, Thread, Timer

__all__ = [
    "classify",
    "start_task",
    "task_completed",
    "task_started",
    "task_timed_out",
    "task_token",
]

REGION = "us-east-1"
_FUNCTION = re.compile(r"^arn:aws:lambda:[^:]*:[^:]*:function:[^:]+(:[^:]+)?$")
_ACTIVITY = re.compile(r"^arn:aws:states:[^:]*:[^:]*:activity:.+$")
_SERVICE = re.compile(
    r"^arn:aws:states:(?P<region>[^:]*):(?P<account>[^:]*):"
    r"(?P<service>[^:.]+):(?P<action>[^.]+)(?P<pattern>\..+)?$"
)
#: ``aws-sdk:<sdk service>:<action>``: the type names the SDK service too.
_SDK = "aws-sdk"


def classify(resource: str) -> Resource:
    """What kind of resource an ARN is: ``lambda``, ``activity`` or ``service``."""
    if _FUNCTION.match(resource):
        return {"kind": "lambda", "resource": resource}
    if _ACTIVITY.match(resource):
        return {"kind": "activity", "resource": resource}
    m = _SERVICE.match(resource)
    if m is not None:
        service, action = m.group("service"), m.group("action")
        if service == _SDK and ":" in action:
            sdk_service, action = action.split(":", 1)
            service = f"{_SDK}:{sdk_service}"
        out: Resource = {
            "kind": "service",
            "resource": resource,
            "resourceType": service,
            "action": action,
            "pattern": (m.group("pattern") or "")[1:],
        }
        if m.group("region"):
            out["region"] = m.group("region")
        return out
    return {"kind": "unknown", "resource": resource}


def task_token(execution_id: str, task_id: str) -> str:
    """The task token for ``.waitForTaskToken`` (see ``cadenza.model.tokens``)."""
    return callback_token(execution_id, task_id)


def _seconds(run: Run, th: Thread, field: str) -> float | None:
    spec = run.spec(th)
    if run.definition.is_jsonata(spec):
        if field not in spec:
            return None
        env = run.env(th, {"input": th["input"]})
        value = env.jsonata_typed(
            spec[field], field, "number", lambda v: isinstance(v, int | float)
        )
        return float(value)
    if field in spec:
        return float(spec[field])
    if f"{field}Path" in spec:
        env = run.env(th)
        value = env.value_of(str(spec[f"{field}Path"]), th["input"], f"{field}Path")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise env.failure("States.Runtime", f"The {field}Path value is not a number")
        return float(value)
    return None


def start_task(run: Run, th: Thread) -> None:
    """Compute the payload and schedule the task's resource (each attempt)."""
    spec = run.spec(th)
    resource = classify(str(spec.get("Resource")))
    task_id = f"{th['id']}.{th['state']}.{run.seq()}"
    token = task_token(str(run.state["execution_id"]), task_id)
    extra: dict[str, Any] = {}
    if resource["kind"] == "activity" or resource.get("pattern") == "waitForTaskToken":
        extra["Task"] = {"Token": token}
    if run.definition.is_jsonata(spec):
        env = run.env(th, {"input": th["input"]}, **extra)
        payload = (
            env.jsonata(spec["Arguments"], "Arguments") if "Arguments" in spec else th["input"]
        )
    else:
        env = run.env(th, **extra)
        data = effective_input(run, th, env)
        payload = env.render(spec["Parameters"], data) if "Parameters" in spec else data
    timeout = _seconds(run, th, "TimeoutSeconds")
    heartbeat = _seconds(run, th, "HeartbeatSeconds")
    # The resource's fields and the attempt's, in one flat record.
    task = cast(
        "RunningTask", {"id": task_id, **resource, "timeout": timeout, "heartbeat": heartbeat}
    )
    th["task"] = task
    run.state["tasks"][task_id] = th["id"]
    limits: dict[str, Any] = {}
    if timeout is not None:
        limits["timeoutInSeconds"] = int(timeout)
    if heartbeat is not None:
        limits["heartbeatInSeconds"] = int(heartbeat)
    meta: dict[str, Any] = {"state": th["state"], "thread": th["id"], "token": token}
    secret_paths = run.state.get("secret_results", {}).get(str(th["state"]))
    if secret_paths:
        meta[SECRET_RESULT] = secret_paths  # the worker marks them in the result
    kind = resource["kind"]
    try:
        mocked = _mocked_response(run, th, kind)
    except StateFailure:
        th.pop("task")
        run.state["tasks"].pop(task_id)
        raise
    if mocked is None and resource["resource"] in run.state.get("unavailable", ()):
        th.pop("task")
        run.state["tasks"].pop(task_id)
        what = "activity" if kind == "activity" else "resource"
        raise env.failure("States.Runtime", f"The {what} {resource['resource']} does not exist.")
    external = False
    if kind == "lambda":
        details = {"input": dumps(payload), "inputDetails": {"truncated": False}}
        details.update(resource=resource["resource"], **limits)
        run.emit(th, "LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails", details)
        run.emit(th, "LambdaFunctionStarted")
        action, action_input, queue = resource["resource"], payload, "default"
        task["function"] = action
    elif kind == "activity":
        details = {"input": dumps(payload), "inputDetails": {"truncated": False}}
        details.update(resource=resource["resource"], **limits)
        run.emit(th, "ActivityScheduled", "activityScheduledEventDetails", details)
        # Work for an outside worker, which polls the activity's ARN for it.
        action, action_input = resource["resource"], payload
        queue, external = resource["resource"], True
    else:
        names = _service_names(resource)
        region = resource.get("region") or REGION
        details = {"parameters": dumps(payload), "region": region, **names, **limits}
        run.emit(th, "TaskScheduled", "taskScheduledEventDetails", details)
        run.emit(th, "TaskStarted", "taskStartedEventDetails", dict(names))
        queue = "default"
        if _is_invoke(resource) and isinstance(payload, dict):
            action = function_arn(payload.get("FunctionName"))
            task["function"] = action
            task["log_tail"] = payload.get("LogType") == "Tail"
            action_input = invoke_payload(payload.get("Payload"))
        else:
            action, action_input = resource["resource"], payload
    if mocked is not None:
        # Nothing runs: the test case's response answers the task at once.
        run.state["tasks"].pop(task_id)
        th.pop("task")
        if "Throw" in mocked:
            thrown = mocked["Throw"]
            _report_failure(run, th, task, StateFailure(thrown["Error"], thrown.get("Cause")))
        else:
            _succeeded(run, th, task, mocked["Return"])
        return
    if is_start_execution(resource):
        if not _start_child(run, th, task, payload):
            return  # done at once: a plain start, or a request that could not start
    else:
        call_id = task_id
        if resource.get("pattern") == "waitForTaskToken":
            # The service call is a task of its own; its result does not end the
            # state, the answer to the token (``task_id``) does.
            call_id = f"{task_id}.call"
            run.state["tasks"][call_id] = th["id"]
            task["call"] = call_id
        run.commands.append(
            ScheduleTask(
                task_id=call_id,
                name=th["state"],
                action=action,
                input=action_input,
                meta=meta,
                queue=queue,
                heartbeat_timeout=heartbeat,
                external=external,
            )
        )
    if timeout is not None:
        task["timer"] = run.timer(th, "timeout", timeout, task=task_id)


def _start_child(run: Run, th: Thread, task: RunningTask, payload: Any) -> bool:
    """Start the child execution of a ``states:startExecution`` task; whether the
    state now waits (``.sync``, ``.sync:2``, ``.waitForTaskToken``)."""
    role = run.state["context"]["Execution"].get("RoleArn")
    try:
        child = child_request(payload, run.entropy(16), run.now, role)
    except StateFailure as failure:
        run.state["tasks"].pop(task["id"], None)
        th.pop("task")
        _report_failure(run, th, task, failure)
        return False
    pattern = task.get("pattern", "")
    waits = pattern in ("sync", "sync:2")
    # Only a waiting start is answered by the child's end; the others' children
    # live on their own, as AWS's do: nothing reports their end or cancels them.
    run.commands.append(
        StartChild(
            task_id=task["id"] if waits else f"{task['id']}.child",
            name=th["state"],
            definition=child["machine"],
            input=child["input"],
            meta={"context": child["context"]},
            detached=not waits,
        )
    )
    if waits:
        task["child"] = child
        return True
    if pattern == "waitForTaskToken":
        details = {"output": dumps(started_output(child)), "outputDetails": {"truncated": False}}
        run.emit(
            th, "TaskSubmitted", "taskSubmittedEventDetails", {**details, **_service_names(task)}
        )
        return True
    run.state["tasks"].pop(task["id"], None)
    th.pop("task")
    _succeeded(run, th, task, started_output(child))
    return False


def _mocked_response(run: Run, th: Thread, kind: str) -> dict[str, Any] | None:
    """The mocked response of this invocation of the current state, if the
    execution's test case mocks it (each call counts one invocation).

    Raises ``States.Runtime`` as Step Functions Local does for a mocked
    activity, and for an invocation no key of the response covers.
    """
    name = th["state"]
    table = run.state.get("mocks", {}).get(name)
    if table is None:
        return None
    if kind == "activity":
        raise StateFailure(
            "States.Runtime",
            f"The activity state '{name}' cannot be mocked: remove it from the test case.",
        )
    calls = run.state.setdefault("mock_calls", {})
    invocation = calls.get(name, 0)
    calls[name] = invocation + 1
    response = mocked_response(table, invocation)
    if response is None:
        raise StateFailure(
            "States.Runtime",
            f"The mocked response of state '{name}' has no entry for invocation "
            f"{invocation} (keys count invocations of the state from 0).",
        )
    return response


def _is_invoke(resource: Resource) -> bool:
    """Whether the resource is the ``lambda:invoke`` service integration."""
    return resource["kind"] == "service" and resource.get("resourceType") == "lambda"


def _service_names(resource: Resource) -> dict[str, str]:
    action = resource.get("action", "")
    if resource.get("pattern"):
        action = f"{action}.{resource['pattern']}"
    return {"resource": str(action), "resourceType": str(resource.get("resourceType", ""))}


def _call_completed(run: Run, th: Thread, task: RunningTask, event: TaskCompleted) -> None:
    """The service call of a ``.waitForTaskToken`` task ended: on success the state
    goes on waiting for its token (``TaskSubmitted``); a failure fails the state."""
    task.pop("call")
    if event.status == "succeeded":
        result = event.result
        if _is_invoke(task):
            # The call was an Invoke: what it returned is the Invoke response.
            result = invoke_response(result, bool(task.get("log_tail")))
        details = {"output": dumps(result), "outputDetails": {"truncated": False}}
        run.emit(
            th, "TaskSubmitted", "taskSubmittedEventDetails", {**details, **_service_names(task)}
        )
        return
    th.pop("task")
    run.state["tasks"].pop(task["id"], None)
    if task.get("timer"):
        run.state["timers"].pop(task["timer"], None)
    _report_failure(run, th, task, _failure_of(run, th, task, event))


def _failure_of(run: Run, th: Thread, task: RunningTask, event: TaskCompleted) -> StateFailure:
    error = event.error if isinstance(event.error, dict) else {}
    kind = str(error.get("type") or "States.TaskFailed")
    message = error.get("message")
    if kind == "action.not_found":
        if task["kind"] == "activity":
            return StateFailure(
                "States.Runtime",
                runtime_cause(
                    th["state"], th["entered"], f"The activity {task['resource']} does not exist."
                ),
                details="no-event",
            )
        if task.get("function") is None:
            # A service integration nobody provides here: say how to provide it.
            return StateFailure(
                "States.Runtime",
                f"No handler for resource {task['resource']}: add it to the resource map.",
            )
        return StateFailure(
            "Lambda.ResourceNotFoundException",
            f"Function not found: {task.get('function')} (Service: AWSLambda; Status Code: 404; "
            "Error Code: ResourceNotFoundException)",
        )
    if kind == "task.heartbeat_timeout":
        return StateFailure("States.HeartbeatTimeout", "")
    if task["kind"] == "activity" or not isinstance(event.result, dict | str):
        cause = None if message is None else str(message)
    elif isinstance(event.result, str):
        cause = event.result
    elif task["kind"] == "lambda":
        cause = json.dumps(event.result)  # the Lambda runtime's own JSON text
    else:
        cause = dumps(event.result)
    return StateFailure(kind, cause)


def task_started(run: Run, task_id: str, worker: Any) -> None:
    """An activity worker took the task (``TaskStarted`` with the worker's name)."""
    tid = run.state["tasks"].get(task_id)
    th = None if tid is None else run.state["threads"].get(tid)
    task = None if th is None else th.get("task")
    if th is None or th["done"] or task is None or task.get("started"):
        return
    task["started"] = True
    details = {"workerName": str(worker)} if worker else {}
    run.emit(th, "ActivityStarted", "activityStartedEventDetails", details)


def task_completed(run: Run, event: TaskCompleted) -> None:
    """The engine answered a task: record it and continue the state."""
    tid = run.state["tasks"].pop(event.task_id, None)
    th = None if tid is None else run.state["threads"].get(tid)
    if th is None or th["done"]:
        return
    current = th.get("task")
    if current is not None and current.get("call") == event.task_id:
        _call_completed(run, th, current, event)
        return
    task = th.pop("task")
    if task.get("call"):
        run.state["tasks"].pop(task["call"], None)
    if task.get("timer"):
        run.state["timers"].pop(task["timer"], None)
    child = task.get("child")
    if child is not None:
        outcome = child_outcome(child, task.get("pattern", ""), event, run.now)
        if isinstance(outcome, StateFailure):
            _report_failure(run, th, task, outcome)
        else:
            _succeeded(run, th, task, outcome)
        return
    if event.status == "succeeded":
        result = event.result
        # A token's answer is the task's result as sent, whatever the integration;
        # only a plain ``lambda:invoke`` result is the Invoke response.
        if _is_invoke(task) and task.get("pattern") != "waitForTaskToken":
            result = invoke_response(result, bool(task.get("log_tail")))
        _succeeded(run, th, task, result)
        return
    _report_failure(run, th, task, _failure_of(run, th, task, event))


def _succeeded(run: Run, th: Thread, task: RunningTask, result: Any) -> None:
    """The task returned ``result`` (as the integration returns it): record it and
    finish the state (or fail it, if the result is too large)."""
    kind = task["kind"]
    text = dumps(result)
    limit = run.definition.payload_limit
    if limit is not None and len(text.encode()) > limit:
        _report_failure(
            run,
            th,
            task,
            StateFailure(
                "States.DataLimitExceeded",
                f"The state/task '{task.get('resourceType') or th['state']}' returned a result "
                "with a size exceeding "
                "the maximum number of bytes service limit.",
            ),
        )
        return
    details = {"output": text, "outputDetails": {"truncated": False}}
    if kind == "lambda":
        run.emit(th, "LambdaFunctionSucceeded", "lambdaFunctionSucceededEventDetails", details)
    elif kind == "activity":
        run.emit(th, "ActivitySucceeded", "activitySucceededEventDetails", details)
    else:
        run.emit(
            th, "TaskSucceeded", "taskSucceededEventDetails", {**details, **_service_names(task)}
        )
    try:
        finish(run, th, result)
    except StateFailure as failure:
        run.state_failed(th, failure)


def _report_failure(run: Run, th: Thread, task: RunningTask, failure: StateFailure) -> None:
    kind = task["kind"]
    if failure.details == "no-event":
        run.state_failed(th, failure)
        return
    th["work_failed"] = True
    details: dict[str, Any] = {"error": failure.error}
    if failure.cause:
        details["cause"] = failure.cause
    timed_out = failure.error in ("States.Timeout", "States.HeartbeatTimeout")
    if kind == "lambda":
        name = "LambdaFunctionTimedOut" if timed_out else "LambdaFunctionFailed"
        run.emit(th, name, f"{name[0].lower()}{name[1:]}EventDetails", details)
    elif kind == "activity":
        name = "ActivityTimedOut" if timed_out else "ActivityFailed"
        run.emit(th, name, f"{name[0].lower()}{name[1:]}EventDetails", details)
    else:
        name = "TaskTimedOut" if timed_out else "TaskFailed"
        run.emit(
            th,
            name,
            f"{name[0].lower()}{name[1:]}EventDetails",
            {**details, **_service_names(task)},
        )
    run.state_failed(th, failure)


def task_timed_out(run: Run, th: Thread, timer: Timer) -> None:
    """The state's TimeoutSeconds passed before the task answered."""
    task = th.get("task")
    if task is None or task["id"] != timer.get("task"):
        return
    th.pop("task")
    run.state["tasks"].pop(task["id"], None)
    # Withdraw it: no worker may take it now, and a late answer is refused.
    run.commands.append(CancelTask(task["id"]))
    _report_failure(run, th, task, StateFailure("States.Timeout", ""))
