"""The Step Functions API on the server's port, for boto3 and the AWS CLI.

AWS's JSON 1.0 protocol: ``POST /`` with ``X-Amz-Target:
AWSStepFunctions.<Operation>`` and a JSON body; errors are a 400 whose body
names the error type in ``__type``, so botocore raises the same exception
classes AWS would (``ExecutionDoesNotExist``, ``InvalidDefinition``, ...).

A state machine is the newest States definition registered under its name;
updating it registers a new definition, and executions keep the definition
they started with. An execution started here has the id
``<state machine>:<execution name>``; one started any other way keeps its id
as its name. Request signatures are not checked: serve this endpoint on
loopback only (the server refuses other addresses without a token, and a
token is not something boto3 sends).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cadenza.api.work_signal import signal_for
from cadenza.engine.engine import Engine
from cadenza.interpreters.states.validation.api import (
    InvalidStatesDefinition,
    UnloadableStatesDefinition,
    validate_state_machine_definition,
)
from cadenza.model.errors import (
    CadenzaError,
    DefinitionError,
    ExecutionNotFound,
    InputError,
    LeaseLost,
)
from cadenza.model.secrets import mask
from cadenza.store.records import DefinitionRecord, ExecutionRecord

#: The protocol's content type.
AMZ_JSON = "application/x-amz-json-1.0"

_TARGET_PREFIX = "AWSStepFunctions."

#: Where ARNs say this server is; the States front end uses the same account.
REGION = "us-east-1"
ACCOUNT = "111111111111"
#: The role reported for every state machine (roles are not kept).
ROLE = f"arn:aws:iam::{ACCOUNT}:role/cadenza"

#: Cadenza's execution statuses as Step Functions names them.
_STATUS = {
    "requested": "RUNNING",
    "running": "RUNNING",
    "pausing": "RUNNING",
    "paused": "RUNNING",
    "resuming": "RUNNING",
    "canceling": "RUNNING",
    "succeeded": "SUCCEEDED",
    "failed": "FAILED",
    "timeout": "TIMED_OUT",
    "canceled": "ABORTED",
    "abandoned": "ABORTED",
}

#: The longest GetActivityTask waits, below botocore's 60 s read timeout.
_ACTIVITY_WAIT = 50.0


class AwsError(Exception):
    """An error answered in AWS's shape."""

    def __init__(self, type: str, message: str) -> None:
        super().__init__(message)
        self.type = type
        self.message = message


@dataclass(frozen=True)
class Arns:
    """ARN shapes of this server's region and account."""

    region: str = REGION
    account: str = ACCOUNT

    def state_machine(self, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name}"

    def execution(self, machine: str, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:execution:{machine}:{name}"

    def activity(self, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:activity:{name}"


def _name_of(arn: Any, kind: str, parts: int = 1) -> list[str]:
    """The trailing name parts of an ARN of ``kind``; ``InvalidArn`` otherwise."""
    if not isinstance(arn, str):
        raise AwsError("InvalidArn", f"Invalid Arn: '{arn}'")
    fields = arn.split(":")
    if len(fields) != 6 + parts or fields[:3] != ["arn", "aws", "states"] or fields[5] != kind:
        raise AwsError("InvalidArn", f"Invalid Arn: '{arn}'")
    names = fields[6:]
    if not all(names):
        raise AwsError("InvalidArn", f"Invalid Arn: '{arn}'")
    return names


def _required(body: dict[str, Any], field: str) -> Any:
    if field not in body or body[field] in (None, ""):
        raise AwsError("ValidationException", f"1 validation error detected: '{field}' is required")
    return body[field]


def _json_text(value: Any, field: str) -> Any:
    if value is None:
        return {}
    if not isinstance(value, str):
        raise AwsError("ValidationException", f"'{field}' must be a string of JSON")
    try:
        return json.loads(value)
    except ValueError as exc:
        raise AwsError(
            "InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'"
        ) from exc


class StepFunctions:
    """The operations, over one engine."""

    def __init__(self, engine: Engine, arns: Arns | None = None) -> None:
        self.engine = engine
        self.arns = arns or Arns()
        self.signal = signal_for(engine)
        self.operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateStateMachine": self.create_state_machine,
            "UpdateStateMachine": self.update_state_machine,
            "DescribeStateMachine": self.describe_state_machine,
            "ListStateMachines": self.list_state_machines,
            "ValidateStateMachineDefinition": self.validate_definition,
            "StartExecution": self.start_execution,
            "DescribeExecution": self.describe_execution,
            "ListExecutions": self.list_executions,
            "GetExecutionHistory": self.get_execution_history,
            "StopExecution": self.stop_execution,
            "RedriveExecution": self.redrive_execution,
            "CreateActivity": self.create_activity,
            "GetActivityTask": self.get_activity_task,
            "SendTaskSuccess": self.send_task_success,
            "SendTaskFailure": self.send_task_failure,
            "SendTaskHeartbeat": self.send_task_heartbeat,
        }

    # --- state machines -----------------------------------------------------------------

    def _machine(self, arn: Any) -> DefinitionRecord:
        (name,) = _name_of(arn, "stateMachine")
        found = self.engine.store.list_definitions(name=name, kind="states", limit=1)
        if not found:
            raise AwsError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return found[0]

    def _register(self, name: str, definition: Any) -> DefinitionRecord:
        if not isinstance(definition, str):
            raise AwsError("ValidationException", "'definition' must be a string")
        try:
            return self.engine.register(definition, kind="states", name=name)
        except (InvalidStatesDefinition, UnloadableStatesDefinition) as exc:
            raise AwsError("InvalidDefinition", exc.aws_message) from exc
        except DefinitionError as exc:
            raise AwsError("InvalidDefinition", exc.message) from exc

    def create_state_machine(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _required(body, "name")
        _required(body, "roleArn")
        if body.get("type", "STANDARD") != "STANDARD":
            raise AwsError("ValidationException", "only STANDARD state machines are served here")
        existing = self.engine.store.list_definitions(name=name, kind="states", limit=1)
        record = self._register(name, _required(body, "definition"))
        if existing and existing[0].id != record.id:
            raise AwsError(
                "StateMachineAlreadyExists",
                f"State Machine Already Exists: '{self.arns.state_machine(name)}'",
            )
        return {
            "stateMachineArn": self.arns.state_machine(name),
            "creationDate": (existing[0] if existing else record).created_at,
        }

    def update_state_machine(self, body: dict[str, Any]) -> dict[str, Any]:
        current = self._machine(_required(body, "stateMachineArn"))
        record = current
        if "definition" in body:
            record = self._register(current.name, body["definition"])
        return {"updateDate": record.created_at}

    def describe_state_machine(self, body: dict[str, Any]) -> dict[str, Any]:
        record = self._machine(_required(body, "stateMachineArn"))
        return {
            "stateMachineArn": self.arns.state_machine(record.name),
            "name": record.name,
            "status": "ACTIVE",
            "definition": record.source,
            "roleArn": ROLE,
            "type": "STANDARD",
            "creationDate": record.created_at,
        }

    def list_state_machines(self, body: dict[str, Any]) -> dict[str, Any]:
        newest: dict[str, DefinitionRecord] = {}
        for record in self.engine.store.list_definitions(kind="states", limit=10_000):
            newest.setdefault(record.name, record)
        machines = sorted(newest.values(), key=lambda r: r.name)
        return {
            "stateMachines": [
                {
                    "stateMachineArn": self.arns.state_machine(r.name),
                    "name": r.name,
                    "type": "STANDARD",
                    "creationDate": r.created_at,
                }
                for r in machines
            ]
        }

    def validate_definition(self, body: dict[str, Any]) -> dict[str, Any]:
        definition = _required(body, "definition")
        try:
            return validate_state_machine_definition(
                definition,
                machine_type=body.get("type") or "STANDARD",
                severity=body.get("severity"),
                max_results=body.get("maxResults"),
            )
        except ValueError as exc:
            raise AwsError("ValidationException", str(exc)) from exc

    # --- executions ---------------------------------------------------------------------

    def _execution_arn(self, record: ExecutionRecord) -> str:
        machine = record.name
        prefix = f"{machine}:"
        name = record.id[len(prefix) :] if record.id.startswith(prefix) else record.id
        return self.arns.execution(machine, name)

    def _execution(self, arn: Any) -> ExecutionRecord:
        machine, name = _name_of(arn, "execution", 2)
        for candidate in (f"{machine}:{name}", name):
            try:
                record = self.engine.get(candidate)
            except ExecutionNotFound:
                continue
            if record.kind == "states" and record.name == machine:
                return record
        raise AwsError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")

    def _input_of(self, record: ExecutionRecord) -> Any:
        first = self.engine.history(record.id)[:1]
        return getattr(first[0].event, "input", None) if first else None

    def start_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        definition = self._machine(_required(body, "stateMachineArn"))
        name = body.get("name") or str(uuid.uuid4())
        if not isinstance(name, str) or len(name) > 80 or ":" in name:
            raise AwsError("InvalidName", f"Invalid Name: '{name}'")
        given = _json_text(body.get("input"), "input")
        execution_id = f"{definition.name}:{name}"
        arn = self.arns.execution(definition.name, name)
        try:
            existing = self.engine.get(execution_id)
        except ExecutionNotFound:
            existing = None
        if existing is not None:
            # As AWS: the same name and input while it runs is the same start.
            if _STATUS[existing.status] == "RUNNING" and self._input_of(existing) == given:
                return {"executionArn": arn, "startDate": existing.created_at}
            raise AwsError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        context = {
            "state_machine_name": definition.name,
            "state_machine_arn": self.arns.state_machine(definition.name),
            "execution_name": name,
            "execution_arn": arn,
            "role_arn": ROLE,
        }
        self.engine.start(definition, given, context=context, execution_id=execution_id)
        return {"executionArn": arn, "startDate": self.engine.get(execution_id).created_at}

    def describe_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        record = self._execution(_required(body, "executionArn"))
        secrets = self.engine.secrets_of(record.id)
        return dict(mask(self._describe(record), secrets))

    def _describe(self, record: ExecutionRecord) -> dict[str, Any]:
        status = _STATUS.get(record.status, "RUNNING")
        out: dict[str, Any] = {
            "executionArn": self._execution_arn(record),
            "stateMachineArn": self.arns.state_machine(record.name),
            "name": self._execution_arn(record).rsplit(":", 1)[1],
            "status": status,
            "startDate": record.created_at,
            "input": json.dumps(self._input_of(record)),
        }
        if status != "RUNNING":
            out["stopDate"] = record.updated_at
        if status == "SUCCEEDED":
            out["output"] = json.dumps(record.output)
        errors = [e for e in record.errors if isinstance(e, dict)]
        if errors and status != "SUCCEEDED":
            if errors[0].get("error") is not None:
                out["error"] = str(errors[0]["error"])
            if errors[0].get("cause") is not None:
                out["cause"] = str(errors[0]["cause"])
        return out

    def list_executions(self, body: dict[str, Any]) -> dict[str, Any]:
        machine = self._machine(_required(body, "stateMachineArn"))
        wanted = body.get("statusFilter")
        records = [
            r
            for r in self.engine.store.list_executions(limit=1000, kinds=["states"])
            if r.name == machine.name and (wanted is None or _STATUS[r.status] == wanted)
        ]
        return {
            "executions": [
                {
                    "executionArn": self._execution_arn(r),
                    "stateMachineArn": self.arns.state_machine(r.name),
                    "name": self._execution_arn(r).rsplit(":", 1)[1],
                    "status": _STATUS[r.status],
                    "startDate": r.created_at,
                    **({"stopDate": r.updated_at} if _STATUS[r.status] != "RUNNING" else {}),
                }
                for r in records
            ]
        }

    def get_execution_history(self, body: dict[str, Any]) -> dict[str, Any]:
        record = self._execution(_required(body, "executionArn"))
        events = list(
            mask(self.engine.history_view(record.id, "sfn"), self.engine.secrets_of(record.id))
        )
        if body.get("reverseOrder"):
            events.reverse()
        start = 0
        token = body.get("nextToken")
        if token is not None:
            if not (isinstance(token, str) and token.isdigit()):
                raise AwsError("InvalidToken", f"Invalid Token: '{token}'")
            start = int(token)
        size = body.get("maxResults") or 1000
        if not isinstance(size, int) or not 0 < size <= 1000:
            raise AwsError("ValidationException", "'maxResults' must be between 1 and 1000")
        page = events[start : start + size]
        out: dict[str, Any] = {"events": page}
        if start + size < len(events):
            out["nextToken"] = str(start + size)
        return out

    def stop_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        record = self._execution(_required(body, "executionArn"))
        self.engine.cancel(record.id)
        return {"stopDate": self.engine.get(record.id).updated_at}

    def redrive_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        record = self._execution(_required(body, "executionArn"))
        self.engine.rerun(record.id)
        refused = self.engine.last_rejection(record.id)
        if refused:
            message = refused.get("message") if isinstance(refused, dict) else refused
            raise AwsError("ExecutionNotRedrivable", str(message))
        return {"redriveDate": self.engine.get(record.id).updated_at}

    # --- activities ---------------------------------------------------------------------

    def create_activity(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _required(body, "name")
        return {"activityArn": self.arns.activity(name), "creationDate": self.engine.clock.now()}

    def get_activity_task(self, body: dict[str, Any]) -> dict[str, Any]:
        arn = _required(body, "activityArn")
        _name_of(arn, "activity")
        worker = body.get("workerName") or ""
        deadline = self.engine.clock.now() + _ACTIVITY_WAIT
        while True:
            seen = self.signal.generation()
            task = self.engine.external.poll(arn, worker)
            if task is not None:
                return {"taskToken": task.token, "input": json.dumps(task.input)}
            left = deadline - self.engine.clock.now()
            if left <= 0:
                return {}
            self.signal.wait(seen, left)

    def _answer(self, call: Callable[[], None]) -> dict[str, Any]:
        try:
            call()
        except InputError as exc:
            raise AwsError("InvalidToken", f"Invalid Token: {exc.message}") from exc
        except ExecutionNotFound as exc:
            raise AwsError("TaskDoesNotExist", "Task Does Not Exist") from exc
        except LeaseLost as exc:
            raise AwsError("TaskTimedOut", "Task Timed Out") from exc
        self.engine.wake()
        return {}

    def send_task_success(self, body: dict[str, Any]) -> dict[str, Any]:
        token = _required(body, "taskToken")
        output = _json_text(_required(body, "output"), "output")
        return self._answer(lambda: self.engine.external.succeed(token, output))

    def send_task_failure(self, body: dict[str, Any]) -> dict[str, Any]:
        token = _required(body, "taskToken")
        return self._answer(
            lambda: self.engine.external.fail(token, body.get("error"), body.get("cause"))
        )

    def send_task_heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        token = _required(body, "taskToken")
        return self._answer(lambda: self.engine.external.heartbeat(token))


def _aws(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=AMZ_JSON)


def step_functions_routes(engine: Engine) -> APIRouter:
    """``POST /`` answering ``X-Amz-Target: AWSStepFunctions.*`` requests."""
    api = APIRouter()
    service = StepFunctions(engine)

    @api.post("/", include_in_schema=False)
    async def step_functions(request: Request) -> JSONResponse:
        target = request.headers.get("x-amz-target", "")
        if not target.startswith(_TARGET_PREFIX):
            return _aws(400, {"__type": "UnknownOperationException", "message": target})
        operation = service.operations.get(target[len(_TARGET_PREFIX) :])
        if operation is None:
            message = f"{target} is not served here"
            return _aws(400, {"__type": "UnknownOperationException", "message": message})
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return _aws(400, {"__type": "SerializationException", "message": "body is not JSON"})
        if not isinstance(body, dict):
            return _aws(400, {"__type": "SerializationException", "message": "not an object"})
        try:
            answer = await run_in_threadpool(operation, body)
        except AwsError as exc:
            return _aws(400, {"__type": exc.type, "message": exc.message})
        except CadenzaError as exc:
            return _aws(400, {"__type": "ValidationException", "message": exc.message})
        return _aws(200, answer)

    return api
