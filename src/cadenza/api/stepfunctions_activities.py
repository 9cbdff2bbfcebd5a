"""The activity operations of the Step Functions API: activities kept in the
catalog, and workers polling for their tasks and answering with task tokens."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cadenza.api.aws_catalog import ACTIVE, DELETED, Catalog, CatalogEntry
from cadenza.api.aws_protocol import Arns, AwsError, arn_names, json_text, page_of, required
from cadenza.api.work_signal import WorkSignal
from cadenza.engine.engine import Engine
from cadenza.model.errors import ExecutionNotFound, InputError, LeaseLost

#: The longest GetActivityTask waits, below botocore's 60 s read timeout.
_ACTIVITY_WAIT = 50.0


class Activities:
    """CreateActivity ... SendTaskHeartbeat, over one engine."""

    def __init__(self, engine: Engine, arns: Arns, catalog: Catalog, signal: WorkSignal) -> None:
        self.engine = engine
        self.arns = arns
        self.catalog = catalog
        self.signal = signal

    def operations(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        """The operations by name."""
        return {
            "CreateActivity": self.create_activity,
            "DescribeActivity": self.describe_activity,
            "ListActivities": self.list_activities,
            "DeleteActivity": self.delete_activity,
            "GetActivityTask": self.get_activity_task,
            "SendTaskSuccess": self.send_task_success,
            "SendTaskFailure": self.send_task_failure,
            "SendTaskHeartbeat": self.send_task_heartbeat,
        }

    def create_activity(self, body: dict[str, Any]) -> dict[str, Any]:
        name = required(body, "name")
        if not isinstance(name, str) or len(name) > 80 or ":" in name:
            raise AwsError("InvalidName", f"Invalid Name: '{name}'")
        entry = self.catalog.get("activity", name)
        if entry is None or not entry.active:
            entry = self.catalog.put("activity", name, ACTIVE)
        return {"activityArn": self.arns.activity(name), "creationDate": entry.at}

    def _activity_item(self, entry: CatalogEntry) -> dict[str, Any]:
        return {
            "activityArn": self.arns.activity(entry.name),
            "name": entry.name,
            "creationDate": entry.at,
        }

    def describe_activity(self, body: dict[str, Any]) -> dict[str, Any]:
        arn = required(body, "activityArn")
        (name,) = arn_names(arn, "activity")
        entry = self.catalog.get("activity", name)
        if entry is None or not entry.active:
            raise AwsError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
        return self._activity_item(entry)

    def list_activities(self, body: dict[str, Any]) -> dict[str, Any]:
        items = [self._activity_item(e) for e in self.catalog.entries("activity") if e.active]
        page, token = page_of(items, body)
        return {"activities": page, **token}

    def delete_activity(self, body: dict[str, Any]) -> dict[str, Any]:
        (name,) = arn_names(required(body, "activityArn"), "activity")
        entry = self.catalog.get("activity", name)
        if entry is not None and entry.active:
            self.catalog.put("activity", name, DELETED)
        return {}

    def get_activity_task(self, body: dict[str, Any]) -> dict[str, Any]:
        """Wait for a task of the activity. One never created may be polled (its
        tasks exist once a state machine names it); a deleted one may not."""
        arn = required(body, "activityArn")
        (name,) = arn_names(arn, "activity")
        entry = self.catalog.get("activity", name)
        if entry is not None and not entry.active:
            raise AwsError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
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
        token = required(body, "taskToken")
        output = json_text(required(body, "output"), "output")
        return self._answer(lambda: self.engine.external.succeed(token, output))

    def send_task_failure(self, body: dict[str, Any]) -> dict[str, Any]:
        token = required(body, "taskToken")
        return self._answer(
            lambda: self.engine.external.fail(token, body.get("error"), body.get("cause"))
        )

    def send_task_heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        token = required(body, "taskToken")
        return self._answer(lambda: self.engine.external.heartbeat(token))
