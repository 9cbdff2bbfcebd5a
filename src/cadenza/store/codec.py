"""How records become column values and back; shared by every backend."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cadenza.model.errors import HistoryCorrupt
from cadenza.model.events import JSON, Event, RecordedEvent, event_from_payload
from cadenza.model.retry import RetryPolicy
from cadenza.store.records import (
    DefinitionRecord,
    ExecutionRecord,
    FinishOutcome,
    NewTask,
    TaskRecord,
)


def dumps(value: JSON) -> str:
    """Compact JSON; non-JSON values are a bug upstream and fail loudly here."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def loads(text: str | None) -> JSON:
    return None if text is None else json.loads(text)


def encode_event(event: Event) -> tuple[str, str]:
    return event.type, dumps(event.payload())


def decode_event(type_name: str, payload: str) -> Event:
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise HistoryCorrupt(f"event payload of type {type_name} is not JSON") from exc
    return event_from_payload(type_name, data)


def encode_retry(policy: RetryPolicy | None) -> str | None:
    return None if policy is None else dumps(policy.to_dict())


def decode_retry(text: str | None) -> RetryPolicy | None:
    return None if text is None else RetryPolicy.from_dict(json.loads(text))


def task_from_row(row: Mapping[str, Any]) -> TaskRecord:
    """Build a ``TaskRecord`` from a row mapping with the ``tasks`` columns."""
    return TaskRecord(
        execution_id=row["execution_id"],
        task_id=row["task_id"],
        name=row["name"],
        action=row["action"],
        input=loads(row["input"]),
        queue=row["queue"],
        status=row["status"],
        attempt=row["attempt"],
        available_at=row["available_at"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        deadline=row["deadline"],
        retry=decode_retry(row["retry"]),
        timeout=row["timeout"],
        heartbeat_timeout=row["heartbeat_timeout"],
        meta=loads(row["meta"]) or {},
        external=bool(row["external"]),
    )


def task_values(execution_id: str, task: NewTask, now: float) -> tuple[Any, ...]:
    """A new task's ``tasks`` row, in the column order both backends insert:
    execution_id, task_id, name, action, input, queue, status, attempt,
    available_at, retry, timeout, heartbeat_timeout, meta, created_at,
    updated_at, external."""
    return (
        execution_id,
        task.task_id,
        task.name,
        task.action,
        dumps(task.input),
        task.queue,
        "scheduled",
        0,
        task.available_at,
        encode_retry(task.retry),
        task.timeout,
        task.heartbeat_timeout,
        dumps(task.meta),
        now,
        now,
        task.external,
    )


def definition_values(definition: DefinitionRecord) -> dict[str, Any]:
    """A definition's ``definitions`` row, by column name."""
    return {
        "id": definition.id,
        "kind": definition.kind,
        "name": definition.name,
        "source": definition.source,
        "created_at": definition.created_at,
        "version": definition.version,
    }


def definition_from_row(row: Mapping[str, Any]) -> DefinitionRecord:
    """Build a ``DefinitionRecord`` from a ``definitions`` row mapping."""
    return DefinitionRecord(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        source=row["source"],
        created_at=row["created_at"],
        version=row["version"],
    )


def recorded_event(row: Mapping[str, Any]) -> RecordedEvent:
    """A ``history`` row as the event it records."""
    return RecordedEvent(
        row["seq"], row["decision"], row["time"], decode_event(row["type"], row["payload"])
    )


def execution_from_row(row: Mapping[str, Any]) -> ExecutionRecord:
    """Build an ``ExecutionRecord`` from a row mapping with the ``executions`` columns."""
    return ExecutionRecord(
        id=row["id"],
        definition_id=row["definition_id"],
        kind=row["kind"],
        name=row["name"],
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        output=loads(row["output"]),
        errors=loads(row["errors"]) or [],
        last_seq=row["next_seq"] - 1,
        parent_id=row["parent_id"],
        parent_task_id=row["parent_task_id"],
    )


#: The statement (in each backend's ``queries.sql``) that ends an attempt each way.
FINISH_STATEMENTS = {
    FinishOutcome.DONE: "finish_task_done",
    FinishOutcome.RETRY: "finish_task_retry",
    FinishOutcome.SUSPEND: "finish_task_suspend",
}


def finish_values(
    execution_id: str,
    task_id: str,
    attempt: int,
    owner: str | None,
    available_at: float,
    now: float,
) -> dict[str, Any]:
    """The named parameters of the ``FINISH_STATEMENTS``."""
    return {
        "execution_id": execution_id,
        "task_id": task_id,
        "attempt": attempt,
        "owner": owner,
        "available_at": available_at,
        "now": now,
    }
