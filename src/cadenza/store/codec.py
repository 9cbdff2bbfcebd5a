"""How records become column values and back; shared by every backend.

Values are stored as compact JSON text. Inside a store operation (a payload
scope, see ``cadenza.store.blobs``) two more things happen at this edge,
the same for every backend: values above the store's inline threshold are
kept in its blob table with a reference in their row (``claim_check``), and
the secrets of an ``ExecutionStarted`` are encrypted when the store has a
key, and so is every whole copy of them in other stored values
(``secrets_at_rest``). Reading undoes both, so nothing past this module
sees a reference or a ciphertext (except a reader without the key).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cadenza.model.errors import HistoryCorrupt
from cadenza.model.events import (
    JSON,
    Event,
    ExecutionStarted,
    RecordedEvent,
    SignalReceived,
    event_from_payload,
)
from cadenza.model.retry import RetryPolicy
from cadenza.store import secrets_at_rest
from cadenza.store.blobs import PayloadScope, current_scope
from cadenza.store.claim_check import Path, resolved, stored_text, text_size
from cadenza.store.payloads import too_large

if TYPE_CHECKING:
    from cadenza.store.protocol import FinishRequest

from cadenza.store.records import (
    DefinitionRecord,
    ExecutionRecord,
    FinishOutcome,
    NewTask,
    TaskRecord,
)

#: The encoder ``json.dumps`` would build for these options at every call: one
#: is kept, since every stored value goes through it (several per step).
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def json_text(value: JSON) -> str:
    """Compact JSON; non-JSON values are a bug upstream and fail loudly here."""
    return _COMPACT.encode(value)


def dumps(value: JSON) -> str:
    """The stored text of ``value``: its compact JSON, or a claim when it is above
    the inline threshold of the store operation running or holds a secret."""
    scope = current_scope()
    text = json_text(value)
    if scope is None:
        return text
    value, text, sealed = _sealed(value, text, scope)
    return stored_text(value, text, sealed)


def _sealed(value: JSON, text: str, scope: PayloadScope) -> tuple[JSON, str, list[Path]]:
    """``value`` and its text with the known secrets in it encrypted, and where."""
    known = scope.options.secrets.current()
    if not known:
        return value, text, []
    key = scope.options.key()
    if key is None:
        return value, text, []
    value, paths = secrets_at_rest.sealed(value, text, known, key)
    return value, json_text(value) if paths else text, paths


def loads(text: str | None) -> JSON:
    """The value a stored text holds (blob references resolved)."""
    return None if text is None else resolved(text)


def encode_event(event: Event) -> tuple[str, str]:
    """An event's type and stored payload (secrets encrypted when the store has a key)."""
    payload = event.payload()
    scope = current_scope()
    if scope is None:
        return event.type, json_text(payload)
    if isinstance(event, ExecutionStarted):
        payload = secrets_at_rest.encrypted(payload, scope.options.key, scope.options.secrets)
    else:
        secrets_at_rest.learn(payload, scope.options.key, scope.options.secrets)
    text = json_text(payload)
    # The engine fails a step whose result is too large before it gets here;
    # what still arrives too large is a request (a start, a signal, an
    # answer), refused whole: its transaction writes nothing.
    limit = scope.options.limits.max_value_bytes
    if len(text) > limit // 4 and text_size(text) > limit:
        raise too_large(_described(event), text_size(text), limit, "max_value_bytes")
    sealed_payload, text, sealed = _sealed(payload, text, scope)
    return event.type, stored_text(sealed_payload, text, sealed)


def _described(event: Event) -> str:
    """What an event carries, for an error message about its size."""
    if isinstance(event, ExecutionStarted):
        return "the execution input"
    if isinstance(event, SignalReceived):
        return f"the data of signal {event.name!r}"
    return f"the {event.type} event"


def _no_key() -> None:
    return None


def decode_event(type_name: str, payload: str) -> Event:
    """The event a stored type and payload hold."""
    try:
        data = resolved(payload)
    except ValueError as exc:
        raise HistoryCorrupt(f"event payload of type {type_name} is not JSON") from exc
    if not isinstance(data, dict):
        raise HistoryCorrupt(f"event payload of type {type_name} is not a JSON object")
    if type_name == ExecutionStarted.type:
        scope = current_scope()
        data = secrets_at_rest.decrypted(
            data,
            _no_key if scope is None else scope.options.key,
            secrets_at_rest.KnownSecrets() if scope is None else scope.options.secrets,
            required=scope is not None and scope.deciding,
        )
    return event_from_payload(type_name, data)


def encode_retry(policy: RetryPolicy | None) -> str | None:
    return None if policy is None else dumps(policy.to_dict())


def decode_retry(text: str | None) -> RetryPolicy | None:
    return None if text is None else RetryPolicy.from_dict(json.loads(text))


#: The column a claim adds to its task rows: the execution's stored payload bytes.
CLAIMED_TOTAL_COLUMN = "execution_payload_bytes"


def task_from_row(row: Mapping[str, Any]) -> TaskRecord:
    """Build a ``TaskRecord`` from a row mapping with the ``tasks`` columns (a
    claimed row also brings its execution's stored bytes: noted for the
    ceiling check of its result)."""
    # The names, not ``in row``: a SQLite row's ``in`` looks among its values.
    columns = row.keys()
    if CLAIMED_TOTAL_COLUMN in columns:
        scope = current_scope()
        total = row[CLAIMED_TOTAL_COLUMN]
        # The database counts only blobs of its own table, not files.
        if scope is not None and total is not None and scope.options.blob_dir is None:
            scope.options.claimed_totals.note(row["execution_id"], int(total))
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
        # Rows of a store not yet migrated to priorities have no such column.
        priority=int(row["priority"]) if "priority" in columns else 0,
    )


def task_values(execution_id: str, task: NewTask, now: float) -> tuple[Any, ...]:
    """A new task's ``tasks`` row, in the column order both backends insert:
    execution_id, task_id, name, action, input, queue, status, attempt,
    available_at, retry, timeout, heartbeat_timeout, meta, created_at,
    updated_at, external, priority."""
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
        task.priority,
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


def finish_values(request: FinishRequest, now: float) -> dict[str, Any]:
    """The named parameters of the ``FINISH_STATEMENTS`` for ``request``."""
    return {
        "execution_id": request.execution_id,
        "task_id": request.task_id,
        "attempt": request.attempt,
        "owner": request.owner,
        "available_at": request.finish.available_at,
        "now": now,
    }
