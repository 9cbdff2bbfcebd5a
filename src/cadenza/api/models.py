"""Request and response bodies of the HTTP API.

Requests refuse unknown fields, so a misspelt field is a 422 naming it rather
than a silently ignored value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cadenza.model.events import RecordedEvent
from cadenza.model.secrets import mask
from cadenza.store.records import DefinitionRecord, ExecutionRecord


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DefinitionIn(_Request):
    """A definition to check and keep."""

    source: str = Field(description="the definition's text (YAML, JSON, ...)")
    kind: str | None = Field(
        None, description="the language (a front end's kind); recognised when omitted"
    )
    name: str | None = Field(None, description="a name for people; a hash prefix when omitted")
    origin: str | None = Field(
        None, description="the file name it came from, for messages and suffix detection"
    )


class DefinitionOut(BaseModel):
    """A registered definition."""

    id: str
    kind: str
    name: str
    version: str | None
    created_at: float

    @classmethod
    def of(cls, record: DefinitionRecord) -> DefinitionOut:
        return cls(
            id=record.id,
            kind=record.kind,
            name=record.name,
            version=record.version,
            created_at=record.created_at,
        )


class DefinitionDetail(DefinitionOut):
    """A registered definition with its source."""

    source: str

    @classmethod
    def of(cls, record: DefinitionRecord) -> DefinitionDetail:
        return cls(**DefinitionOut.of(record).model_dump(), source=record.source)


class DefinitionList(BaseModel):
    """Definitions, newest first."""

    definitions: list[DefinitionOut]


class ProblemOut(BaseModel):
    """One thing wrong with a definition."""

    spec_path: str
    message: str
    category: str
    line: int | None = None


class ValidationOut(BaseModel):
    """Whether a definition is valid, and every problem if not."""

    valid: bool
    kind: str | None = None
    problems: list[ProblemOut] = Field(default_factory=list)


class ExecutionIn(_Request):
    """An execution to start."""

    definition_id: str = Field(min_length=1)
    input: Any = Field(None, description="the input; an object unless the language allows more")
    secret_paths: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="paths of secret input values ('$.password', '$.users[*].token'): "
        'marked as {"$secret": value} is, stored encrypted and masked in every view',
    )
    secret_results: dict[str, list[str]] = Field(
        default_factory=dict,
        max_length=100,
        description="state machines: secret paths of the results of named states "
        '({"Login": ["$.token"]}), stored encrypted and masked like secret_paths',
    )
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="the same key starts the execution once; a retry gets the same id",
    )
    tags: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="labels to find it by: key=value or a bare word, matched whole",
    )


class ExecutionOut(BaseModel):
    """An execution as the store keeps it."""

    id: str
    definition_id: str
    kind: str
    name: str
    status: str
    created_at: float
    updated_at: float
    output: Any = None
    errors: list[Any] = Field(default_factory=list)
    last_seq: int
    final: bool | None = Field(
        default=None, description="nothing more happens to it (by its language's statuses)"
    )
    settled: bool | None = Field(
        default=None, description="it does nothing on its own: final, or waiting for an operator"
    )
    tags: list[str] = Field(default_factory=list, description="the tags it was started with")

    @classmethod
    def of(cls, record: ExecutionRecord) -> ExecutionOut:
        return cls(
            id=record.id,
            definition_id=record.definition_id,
            kind=record.kind,
            name=record.name,
            status=record.status,
            created_at=record.created_at,
            updated_at=record.updated_at,
            output=record.output,
            errors=list(record.errors),
            last_seq=record.last_seq,
        )


class ExecutionList(BaseModel):
    """Executions, newest first; ask again with ``cursor=next_cursor`` for more."""

    executions: list[ExecutionOut]
    next_cursor: str | None = None


class ExecutionCounts(BaseModel):
    """How many executions match the filters (every page), by status."""

    counts: dict[str, int] = Field(description="status -> executions; statuses with none left out")
    total: int


class LostLeaseOut(BaseModel):
    """A task of a live execution whose attempts lost their lease more than once
    (its worker died or stopped heartbeating): likely a poison task."""

    execution_id: str
    task_id: str
    name: str | None = Field(description="the task's name while it waits or runs")
    queue: str | None
    lost: int = Field(description="attempts that ended by losing their lease")
    last_time: float = Field(description="when the last of them did (epoch s)")


class LostLeaseList(BaseModel):
    """Tasks whose lease expired at least ``at_least`` times, most recent first."""

    tasks: list[LostLeaseOut]


class PollerOut(BaseModel):
    """One poller of a queue: a worker loop, or the HTTP workers of one server."""

    poller: str = Field(description="its owner id (HTTP workers: the server's, plus /http)")
    description: str = Field(description="who it is to a person: host and pid")
    last_poll: float = Field(description="epoch s, by the poller's clock")


class QueueOut(BaseModel):
    """A worker queue: its tasks by status, and who last asked it for work."""

    queue: str
    tasks: dict[str, int] = Field(description="status (scheduled, claimed, suspended) -> tasks")
    last_poll: float | None = Field(description="epoch s; None: no poll in the last day")
    polled_recently: bool = Field(description="last_poll is within the last ``recent`` seconds")
    pollers: list[PollerOut] = Field(
        description="pollers seen in the last day, latest first (the store's records "
        "and this server's own)"
    )


class QueueList(BaseModel):
    """Every queue with tasks, or polled in the last day by any worker of the store."""

    recent: float
    queues: list[QueueOut]


class EventOut(BaseModel):
    """One recorded event."""

    seq: int
    decision: int
    time: float
    type: str
    payload: dict[str, Any]

    @classmethod
    def of(cls, recorded: RecordedEvent, secrets: Sequence[str] = ()) -> EventOut:
        return cls(
            seq=recorded.seq,
            decision=recorded.decision,
            time=recorded.time,
            type=recorded.event.type,
            payload=mask(recorded.event.payload(), secrets),
        )


class TaskOut(BaseModel):
    """One task of an execution as its language describes it."""

    name: str
    key: str
    status: str


class TaskList(BaseModel):
    """An execution's tasks, rebuilt from its history."""

    tasks: list[TaskOut]


class HistoryPage(BaseModel):
    """A page of history; ask again with ``after_seq=next_after_seq`` for more."""

    events: list[EventOut]
    next_after_seq: int | None


class RerunIn(_Request):
    """Run a finished execution again: from what failed, or from named steps."""

    steps: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(
        default_factory=dict, description="the language's own switches (Orquesta: reset_items)"
    )


class AnswerIn(_Request):
    """An answer to a task that waits for one."""

    result: Any = None
    failed: bool = False


class SignalIn(_Request):
    """A named message for a running execution; its language decides what it means."""

    name: str = Field(min_length=1, max_length=200, description="the signal's name")
    data: Any = Field(None, description="what comes with it (any JSON)")
    by: str = Field("", max_length=200, description="who sends it, for the audit trail")


class SignalWithStartIn(_Request):
    """A signal for the open run of a workflow id, or a run started to take it."""

    definition: str = Field(
        min_length=1, description="the definition a run is started of: its id, or its name"
    )
    workflow_id: str = Field(min_length=1, max_length=200, description="the caller's name for it")
    name: str = Field(min_length=1, max_length=200, description="the signal's name")
    data: Any = Field(None, description="what comes with it (any JSON)")
    input: Any = Field(None, description="the input of a run it starts")
    by: str = Field("", max_length=200, description="who sends it, for the audit trail")


class OperatorRequestIn(_Request):
    """A request only the execution's language understands (``GET .../requests``
    lists them), with who asks and why."""

    request: str = Field(min_length=1, max_length=200, description="one of the offered names")
    args: dict[str, Any] = Field(default_factory=dict, description="the request's arguments")
    by: str = Field("", max_length=200, description="who asks, for the audit trail")
    reason: str = Field(min_length=1, max_length=2000, description="why, for the audit trail")


class OfferedRequests(BaseModel):
    """The operator requests an execution's language takes: name -> what it does."""

    kind: str
    requests: dict[str, str]


class Accepted(BaseModel):
    """A request recorded, and what the execution looks like after its decision."""

    execution: ExecutionOut
    refused: Any = Field(None, description="why the execution refused the request, if it did")


class ErrorOut(BaseModel):
    """Every error answer: a stable code, a message, and details."""

    code: str
    message: str
    details: dict[str, Any] | None = None
    problems: list[ProblemOut] | None = None


class Health(BaseModel):
    """Liveness and readiness."""

    status: str
    store: str | None = None
