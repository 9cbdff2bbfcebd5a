"""The Step Functions API on the server's port, for boto3 and the AWS CLI.

AWS's JSON 1.0 protocol (``aws_protocol``): ``POST /`` with ``X-Amz-Target:
AWSStepFunctions.<Operation>`` and a JSON body, errors in AWS's shape.
Activities and their tasks are ``stepfunctions_activities``; TestState is
``stepfunctions_test_state``.

A state machine is the newest States definition registered under its name;
updating it registers a new definition, and executions keep the definition
they started with. An execution started here has the id
``<state machine>:<execution name>``; one started any other way keeps its id
as its name. State machine types, deletions and activities are kept in the
store's catalog (``aws_catalog``). The HTTP endpoint, which checks request
signatures (``aws_signature``) before an operation runs, is ``stepfunctions_endpoint``.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from typing import Any

from cadenza.api.aws_catalog import ACTIVE, DELETED, Catalog
from cadenza.api.aws_protocol import (
    ROLE,
    Arns,
    AwsError,
    arn_names,
    json_text,
    page_of,
    required,
    without_data,
)
from cadenza.api.stepfunctions_activities import Activities
from cadenza.api.stepfunctions_test_state import run_test_state
from cadenza.api.work_signal import signal_for
from cadenza.engine.engine import Engine
from cadenza.interpreters.states.validation.api import (
    InvalidStatesDefinition,
    UnloadableStatesDefinition,
    validate_state_machine_definition,
)
from cadenza.model.errors import DefinitionError, ExecutionNotFound
from cadenza.model.secrets import mask
from cadenza.store.records import DefinitionRecord, ExecutionRecord

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

#: The longest a StartSyncExecution runs before it is stopped as TIMED_OUT
#: (Step Functions' limit for synchronous Express executions).
SYNC_LIMIT = 300.0

#: State machine types.
_TYPES = ("STANDARD", "EXPRESS")


class StepFunctions:
    """The operations, over one engine."""

    def __init__(
        self, engine: Engine, arns: Arns | None = None, *, sync_limit: float = SYNC_LIMIT
    ) -> None:
        self.engine = engine
        self.arns = arns or Arns()
        self.signal = signal_for(engine)
        self.catalog = Catalog(engine)
        self.sync_limit = sync_limit
        self.operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateStateMachine": self.create_state_machine,
            "UpdateStateMachine": self.update_state_machine,
            "DescribeStateMachine": self.describe_state_machine,
            "ListStateMachines": self.list_state_machines,
            "DeleteStateMachine": self.delete_state_machine,
            "ValidateStateMachineDefinition": self.validate_definition,
            "TestState": run_test_state,
            "StartExecution": self.start_execution,
            "StartSyncExecution": self.start_sync_execution,
            "DescribeExecution": self.describe_execution,
            "ListExecutions": self.list_executions,
            "GetExecutionHistory": self.get_execution_history,
            "StopExecution": self.stop_execution,
            "RedriveExecution": self.redrive_execution,
            **Activities(engine, self.arns, self.catalog, self.signal).operations(),
        }

    # --- state machines -----------------------------------------------------------------

    def _newest(self, name: str) -> DefinitionRecord | None:
        """The newest definition of the state machine ``name``, unless it was deleted."""
        found = self.engine.store.list_definitions(name=name, kind="states", limit=1)
        entry = self.catalog.get("stateMachine", name)
        if not found or (entry is not None and not entry.active):
            return None
        return found[0]

    def _machine(self, arn: Any) -> DefinitionRecord:
        (name,) = arn_names(arn, "stateMachine")
        found = self._newest(name)
        if found is None:
            raise AwsError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return found

    def _type_of(self, name: str) -> str:
        entry = self.catalog.get("stateMachine", name)
        return entry.type if entry is not None else "STANDARD"

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
        name = required(body, "name")
        required(body, "roleArn")
        if not isinstance(name, str) or len(name) > 80 or ":" in name:
            raise AwsError("InvalidName", f"Invalid Name: '{name}'")
        machine_type = body.get("type") or "STANDARD"
        if machine_type not in _TYPES:
            raise AwsError(
                "ValidationException", f"'type' must be STANDARD or EXPRESS, not '{machine_type}'"
            )
        definition = required(body, "definition")
        existing = self._newest(name)
        if existing is not None:
            # As AWS: creating the same machine again is no change; a different one
            # under the name is refused, and nothing of it is kept.
            same = existing.source == definition and self._type_of(name) == machine_type
            if not same:
                raise AwsError(
                    "StateMachineAlreadyExists",
                    f"State Machine Already Exists: '{self.arns.state_machine(name)}'",
                )
            return {
                "stateMachineArn": self.arns.state_machine(name),
                "creationDate": self._created(name, existing),
            }
        record = self._register(name, definition)
        entry = self.catalog.get("stateMachine", name)
        if entry is not None or machine_type != "STANDARD":
            entry = self.catalog.put("stateMachine", name, ACTIVE, machine_type)
        return {
            "stateMachineArn": self.arns.state_machine(name),
            "creationDate": self._created(name, record),
        }

    def _created(self, name: str, record: DefinitionRecord) -> float:
        """When the machine was (last) created: its catalog entry, else its first version."""
        entry = self.catalog.get("stateMachine", name)
        if entry is not None:
            return entry.at
        versions = self.engine.store.list_definitions(name=name, kind="states", limit=10_000)
        return versions[-1].created_at if versions else record.created_at

    def delete_state_machine(self, body: dict[str, Any]) -> dict[str, Any]:
        """Delete a state machine; its executions stay readable (and running ones run on)."""
        (name,) = arn_names(required(body, "stateMachineArn"), "stateMachine")
        if self._newest(name) is not None:
            self.catalog.put("stateMachine", name, DELETED, self._type_of(name))
        return {}

    def update_state_machine(self, body: dict[str, Any]) -> dict[str, Any]:
        current = self._machine(required(body, "stateMachineArn"))
        record = current
        if "definition" in body:
            record = self._register(current.name, body["definition"])
        return {"updateDate": record.created_at}

    def describe_state_machine(self, body: dict[str, Any]) -> dict[str, Any]:
        record = self._machine(required(body, "stateMachineArn"))
        return {
            "stateMachineArn": self.arns.state_machine(record.name),
            "name": record.name,
            "status": "ACTIVE",
            "definition": record.source,
            "roleArn": ROLE,
            "type": self._type_of(record.name),
            "creationDate": self._created(record.name, record),
        }

    def list_state_machines(self, body: dict[str, Any]) -> dict[str, Any]:
        first: dict[str, DefinitionRecord] = {}
        for record in self.engine.store.list_definitions(kind="states", limit=100_000):
            first[record.name] = record  # newest first: the last one seen is the oldest
        entries = {e.name: e for e in self.catalog.entries("stateMachine")}
        machines = [
            (name, first[name], entries.get(name))
            for name in sorted(first)
            if entries.get(name) is None or entries[name].active
        ]
        items = [
            {
                "stateMachineArn": self.arns.state_machine(name),
                "name": name,
                "type": entry.type if entry is not None else "STANDARD",
                "creationDate": entry.at if entry is not None else record.created_at,
            }
            for name, record, entry in machines
        ]
        page, token = page_of(items, body)
        return {"stateMachines": page, **token}

    def validate_definition(self, body: dict[str, Any]) -> dict[str, Any]:
        definition = required(body, "definition")
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
        machine, name = arn_names(arn, "execution", 2)
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
        execution_id, arn = self._start(self._machine(required(body, "stateMachineArn")), body)
        return {"executionArn": arn, "startDate": self.engine.get(execution_id).created_at}

    def start_sync_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        """Start an execution of an EXPRESS machine and answer with its end."""
        definition = self._machine(required(body, "stateMachineArn"))
        if self._type_of(definition.name) != "EXPRESS":
            raise AwsError(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            )
        execution_id, _ = self._start(definition, body)
        deadline = self.engine.clock.now() + self.sync_limit
        while True:
            seen = self.signal.generation()
            record = self.engine.get(execution_id)
            if _STATUS.get(record.status, "RUNNING") != "RUNNING":
                break
            left = deadline - self.engine.clock.now()
            if left <= 0:
                self.engine.cancel(execution_id)
                return self._sync_answer(self.engine.get(execution_id), timed_out=True)
            # Woken by this process's decisions; the cap is for an execution that
            # another server on the same store decides, which does not wake us.
            self.signal.wait(seen, min(left, 1.0))
        return self._sync_answer(record)

    def _sync_answer(self, record: ExecutionRecord, *, timed_out: bool = False) -> dict[str, Any]:
        described = mask(self._describe(record), self.engine.secrets_of(record.id))
        out = dict(described)
        if timed_out:
            out.update(
                status="TIMED_OUT",
                error="States.Timeout",
                cause=f"The execution ran longer than {self.sync_limit:g} seconds",
            )
            out.pop("output", None)
        elif out["status"] == "ABORTED":
            # A synchronous execution ends SUCCEEDED, FAILED or TIMED_OUT only.
            out.update(status="FAILED", error="States.Aborted", cause="The execution was stopped")
        stop = float(out.get("stopDate") or self.engine.clock.now())
        out["stopDate"] = stop
        duration_ms = max(0.0, stop - record.created_at) * 1000
        # Nothing is billed here; these are the figures AWS's rounding would give.
        out["billingDetails"] = {
            "billedMemoryUsedInMB": 64,
            "billedDurationInMilliseconds": max(100, math.ceil(duration_ms / 100) * 100),
        }
        return out

    def _start(self, definition: DefinitionRecord, body: dict[str, Any]) -> tuple[str, str]:
        """Start (or find, as AWS does for the same name and input) an execution:
        its id and ARN."""
        name = body.get("name") or str(uuid.uuid4())
        if not isinstance(name, str) or len(name) > 80 or ":" in name:
            raise AwsError("InvalidName", f"Invalid Name: '{name}'")
        given = json_text(body.get("input"), "input")
        execution_id = f"{definition.name}:{name}"
        arn = self.arns.execution(definition.name, name)
        try:
            existing = self.engine.get(execution_id)
        except ExecutionNotFound:
            existing = None
        if existing is not None:
            # As AWS: the same name and input while it runs is the same start.
            if _STATUS[existing.status] == "RUNNING" and self._input_of(existing) == given:
                return execution_id, arn
            raise AwsError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        context = {
            "state_machine_name": definition.name,
            "state_machine_arn": self.arns.state_machine(definition.name),
            "execution_name": name,
            "execution_arn": arn,
            "role_arn": ROLE,
        }
        self.engine.start(definition, given, context=context, execution_id=execution_id)
        return execution_id, arn

    def describe_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        record = self._execution(required(body, "executionArn"))
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
        machine = self._machine(required(body, "stateMachineArn"))
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
        record = self._execution(required(body, "executionArn"))
        events = list(
            mask(self.engine.history_view(record.id, "sfn"), self.engine.secrets_of(record.id))
        )
        if body.get("includeExecutionData") is False:
            events = [without_data(event) for event in events]
        if body.get("reverseOrder"):
            events.reverse()
        page, token = page_of(events, body)
        return {"events": page, **token}

    def stop_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        record = self._execution(required(body, "executionArn"))
        self.engine.cancel(record.id)
        return {"stopDate": self.engine.get(record.id).updated_at}

    def redrive_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        record = self._execution(required(body, "executionArn"))
        self.engine.rerun(record.id)
        refused = self.engine.last_rejection(record.id)
        if refused:
            message = refused.get("message") if isinstance(refused, dict) else refused
            raise AwsError("ExecutionNotRedrivable", str(message))
        return {"redriveDate": self.engine.get(record.id).updated_at}
