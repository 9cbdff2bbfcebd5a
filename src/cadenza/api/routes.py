"""The REST endpoints over one ``Engine``.

Handlers are plain functions (FastAPI runs them on its thread pool): the
engine and its store are thread-safe, and a request that records an event
(cancel, pause, an answer) is decided before it is answered, so the answer
shows its effect.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel

from cadenza.api import graph_views
from cadenza.api.models import (
    DefinitionDetail,
    DefinitionIn,
    DefinitionList,
    DefinitionOut,
    ErrorOut,
    EventOut,
    ExecutionCounts,
    ExecutionIn,
    ExecutionList,
    ExecutionOut,
    Health,
    HistoryPage,
    LostLeaseList,
    LostLeaseOut,
    ProblemOut,
    QueueList,
    TaskList,
    TaskOut,
    ValidationOut,
)
from cadenza.api.queue_polls import polled_queues, queue_polls
from cadenza.api.work_signal import signal_for
from cadenza.engine.engine import Engine
from cadenza.interpreters.protocol import (
    start_settings_of,
)
from cadenza.model.errors import (
    DefinitionError,
    ExecutionNotFound,
    FrontEndError,
    InputError,
    OperationRefused,
)
from cadenza.model.retry import HEARTBEAT_TIMEOUT, WORKER_LOST
from cadenza.model.secrets import mark_secrets, mask
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES
from cadenza.store.records import ExecutionRecord

#: Execution ids made from idempotency keys live in their own UUID namespace.
_IDEMPOTENCY = uuid.UUID("6b1f8f0c-1d3a-5a8e-9c57-3f0e2d6b9a41")

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut} for code in (400, 401, 404, 409, 413, 422, 503)
}


def encode_cursor(created_at: float, execution_id: str) -> str:
    """The opaque cursor of the page after the row ``(created_at, execution_id)``."""
    text = json.dumps([created_at, execution_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The row a cursor points after; ``InputError`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, execution_id = json.loads(raw)
        if isinstance(created_at, bool) or not isinstance(created_at, int | float):
            raise TypeError("time")
        if not isinstance(execution_id, str):
            raise TypeError("id")
    except (ValueError, TypeError) as exc:
        raise InputError(
            "cursor is not one this API handed out (use next_cursor as given)", cursor=cursor
        ) from exc
    return float(created_at), execution_id


def etagged(request: Request, body: BaseModel) -> Response:
    """``body`` as JSON with an ``ETag`` of its bytes, or an empty 304 when the
    client's ``If-None-Match`` names it: a poller that already holds this
    answer gets a few bytes back, and the console re-renders nothing."""
    content = body.model_dump_json().encode()
    tag = f'W/"{hashlib.sha256(content).hexdigest()[:32]}"'
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    wanted = request.headers.get("if-none-match", "")
    if tag in (t.strip() for t in wanted.split(",")) or wanted.strip() == "*":
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content=content, media_type="application/json", headers=headers)


#: ``q``: text searched for in execution ids and names.
_SEARCH = Query(max_length=200, description="text in the execution's id or name (any case)")
#: ``tag``: repeated, every one must be on the execution.
_TAGS = Query(alias="tag", description="a tag the execution carries (repeat: all of them)")
_STALLED = Query(
    ge=0,
    description="only executions not final whose last change is older than this (seconds)",
)


#: The errors an attempt ends with when its lease lapsed (not a timeout of its own).
_LEASEERROR_RESPONSES = (WORKER_LOST, HEARTBEAT_TIMEOUT)


def execution_out(
    engine: Engine, record: ExecutionRecord, tags: Sequence[str] | None = None
) -> ExecutionOut:
    """An execution as the API shows it: tags, masked output and errors, and
    whether it is final and settled (unknown when this server lacks its language)."""
    secrets = engine.secrets_of(record.id)
    body = ExecutionOut.of(record)
    if tags is None:
        tags = engine.store.execution_tags([record.id]).get(record.id, ())
    body.tags = list(tags)
    if secrets:
        body.output = mask(body.output, secrets)
        body.errors = mask(body.errors, secrets)
    try:
        body.final = engine.is_final(record)
        body.settled = engine.is_settled(record)
    except FrontEndError:
        pass  # this server lacks the language: it cannot say
    return body


def routes(engine: Engine) -> APIRouter:
    """Every endpoint of the API, bound to ``engine``."""
    api = APIRouter(responses=ERROR_RESPONSES)

    signal = signal_for(engine)
    polls = queue_polls(engine)

    def out(record: ExecutionRecord, tags: Sequence[str] | None = None) -> ExecutionOut:
        return execution_out(engine, record, tags)

    @api.get("/health", tags=["health"])
    def health() -> Health:
        """The process is up."""
        return Health(status="ok")

    @api.get("/ready", tags=["health"])
    def ready() -> Health:
        """The store answers (503 with the store's error when it does not)."""
        return Health(status="ready", store=f"schema {engine.store.schema_version()}")

    # --- definitions ------------------------------------------------------------------

    @api.post("/v1/definitions", status_code=status.HTTP_201_CREATED, tags=["definitions"])
    def register(body: DefinitionIn) -> DefinitionOut:
        """Check a definition and keep it; the same source gives the same id.
        An invalid one is a 400 listing every problem, and nothing is kept."""
        record = engine.register(body.source, kind=body.kind, name=body.name, origin=body.origin)
        return DefinitionOut.of(record)

    @api.post("/v1/definitions/validate", tags=["definitions"])
    def validate(body: DefinitionIn) -> ValidationOut:
        """Check a definition without keeping it."""
        kind = body.kind or engine.kind_of(body.source, body.origin)
        try:
            engine.compile(body.source, kind=kind, origin=body.origin)
        except DefinitionError as exc:
            problems = [
                ProblemOut(
                    spec_path=p.spec_path, message=p.message, category=p.category, line=p.line
                )
                for p in exc.problems
            ]
            return ValidationOut(valid=False, kind=kind, problems=problems)
        return ValidationOut(valid=True, kind=kind)

    @api.get("/v1/definitions", tags=["definitions"])
    def definitions(
        name: str | None = None,
        kind: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> DefinitionList:
        """Registered definitions, newest first, of one name and kind when given:
        the versions of a workflow, its newest first."""
        records = engine.store.list_definitions(name=name, kind=kind, limit=limit)
        return DefinitionList(definitions=[DefinitionOut.of(r) for r in records])

    @api.get("/v1/definitions/{definition_id}", tags=["definitions"])
    def definition(definition_id: str) -> DefinitionDetail:
        """A registered definition, with its source."""
        return DefinitionDetail.of(engine.store.load_definition(definition_id))

    @api.get("/v1/definitions/{definition_id}/document", tags=["definitions"])
    def definition_document(definition_id: str) -> Any:
        """The definition read as data: ``{"kind", "document"}``; a trigger set
        is the workspace it compiles to. A code workflow has none (400)."""
        return graph_views.definition_document(engine, definition_id)

    # --- executions -------------------------------------------------------------------

    @api.post("/v1/executions", status_code=status.HTTP_201_CREATED, tags=["executions"])
    def start(body: ExecutionIn, response: Response) -> ExecutionOut:
        """Start an execution. With an ``idempotency_key``, a retry of the same
        request gets the execution the first one started (200, not 201)."""
        record = engine.store.load_definition(body.definition_id)
        execution_id = None
        if body.idempotency_key is not None:
            execution_id = str(uuid.uuid5(_IDEMPOTENCY, body.idempotency_key))
            try:
                existing = engine.get(execution_id)
            except ExecutionNotFound:
                pass
            else:
                if existing.definition_id != record.id:
                    raise OperationRefused(
                        f"the idempotency key {body.idempotency_key!r} already started an "
                        f"execution of another definition ({existing.definition_id})",
                        execution_id=execution_id,
                    )
                response.status_code = status.HTTP_200_OK
                return out(existing)
        given = mark_secrets(body.input, body.secret_paths, required=True)
        context = None
        if body.secret_results:  # checked and recorded by the front end (400 if it has none)
            options = {"secret_result": json.dumps(body.secret_results)}
            front_end = engine.front_end_for(record.kind)
            context = start_settings_of(
                front_end, options, definition_name=record.name, source=record.source
            ).context
        started = engine.start(
            record, given, context=context, execution_id=execution_id, tags=body.tags
        )
        return out(engine.get(started))

    def filters(
        statuses: list[str],
        kinds: list[str],
        definition_id: str | None,
        since: float | None,
        until: float | None,
        tags: list[str],
        q: str | None,
        stalled_for: float | None,
    ) -> dict[str, Any]:
        updated_before = None if stalled_for is None else engine.clock.now() - stalled_for
        return {
            "statuses": statuses,
            "excluding": sorted(FINAL_EXECUTION_STATUSES) if stalled_for is not None else (),
            "kinds": kinds or None,
            "definition_id": definition_id,
            "since": since,
            "until": until,
            "tags": tags,
            "text": q or None,
            "updated_before": updated_before,
        }

    @api.get("/v1/executions", tags=["executions"], response_model=ExecutionList)
    def executions(
        request: Request,
        status_: Annotated[list[str], Query(alias="status")] = [],  # noqa: B006
        kind: Annotated[list[str], Query()] = [],  # noqa: B006
        definition_id: str | None = None,
        since: Annotated[float | None, Query(description="created at or after (epoch s)")] = None,
        until: Annotated[float | None, Query(description="created before (epoch s)")] = None,
        tag: Annotated[list[str], _TAGS] = [],  # noqa: B006
        q: Annotated[str | None, _SEARCH] = None,
        stalled_for: Annotated[float | None, _STALLED] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(description="next_cursor of the page before")] = None,
    ) -> Response:
        """Executions, newest first, filtered by status, kind, definition,
        creation time, tags, text in the id or name, and no progress for a
        while; a page at a time. Answers carry an ``ETag``: ask with
        ``If-None-Match`` and an unchanged page is a 304."""
        records = engine.store.list_executions(
            limit=limit,
            before=None if cursor is None else decode_cursor(cursor),
            **filters(status_, kind, definition_id, since, until, tag, q, stalled_for),
        )
        tags = engine.store.execution_tags([r.id for r in records])
        last = records[-1] if len(records) == limit else None
        page = ExecutionList(
            executions=[out(r, tags.get(r.id, ())) for r in records],
            next_cursor=None if last is None else encode_cursor(last.created_at, last.id),
        )
        return etagged(request, page)

    @api.get("/v1/executions/counts", tags=["executions"], response_model=ExecutionCounts)
    def execution_counts(
        request: Request,
        status_: Annotated[list[str], Query(alias="status")] = [],  # noqa: B006
        kind: Annotated[list[str], Query()] = [],  # noqa: B006
        definition_id: str | None = None,
        since: Annotated[float | None, Query(description="created at or after (epoch s)")] = None,
        until: Annotated[float | None, Query(description="created before (epoch s)")] = None,
        tag: Annotated[list[str], _TAGS] = [],  # noqa: B006
        q: Annotated[str | None, _SEARCH] = None,
        stalled_for: Annotated[float | None, _STALLED] = None,
    ) -> Response:
        """How many executions the list's filters match (every page), by status;
        with an ``ETag`` like the list."""
        counts = engine.store.count_executions(
            **filters(status_, kind, definition_id, since, until, tag, q, stalled_for)
        )
        return etagged(request, ExecutionCounts(counts=counts, total=sum(counts.values())))

    @api.get("/v1/tasks/lost-leases", tags=["tasks"])
    def lost_leases(
        at_least: Annotated[int, Query(ge=1, le=1000)] = 2,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> LostLeaseList:
        """Tasks of executions not final whose lease expired at least ``at_least``
        times (the worker was lost or missed its heartbeats), most recent first."""
        found = engine.store.lost_leases(_LEASEERROR_RESPONSES, at_least=at_least, limit=limit)
        return LostLeaseList(
            tasks=[
                LostLeaseOut(
                    execution_id=t.execution_id,
                    task_id=t.task_id,
                    name=t.name,
                    queue=t.queue,
                    lost=t.count,
                    last_time=t.last_time,
                )
                for t in found
            ]
        )

    @api.get("/v1/queues", tags=["tasks"])
    def queues(
        recent: Annotated[
            float, Query(gt=0, le=86_400, description="seconds a poll counts as recent")
        ] = 60,
    ) -> QueueList:
        """Worker queues: tasks by status, and which workers of the store (``cadenza
        worker`` processes, servers' loops, HTTP workers) last asked each for work."""
        return polled_queues(engine, polls, recent)

    @api.get("/v1/executions/{execution_id}", tags=["executions"], response_model=ExecutionOut)
    def execution(request: Request, execution_id: str) -> Response:
        """One execution, with an ``ETag`` (``If-None-Match``: 304 when unchanged)."""
        return etagged(request, out(engine.get(execution_id)))

    @api.get("/v1/executions/{execution_id}/history", tags=["executions"])
    def history(
        execution_id: str,
        after_seq: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
        wait: Annotated[
            float, Query(ge=0, le=30, description="seconds to wait for an event after after_seq")
        ] = 0,
    ) -> HistoryPage:
        """Recorded events after ``after_seq``, at most ``limit`` of them; with
        ``wait``, an empty answer waits until an event is recorded (a long poll)."""
        deadline = engine.clock.now() + wait
        while True:
            seen = signal.generation()
            # One more than asked for says whether there are more.
            events = engine.store.read_history(execution_id, after_seq, limit + 1)
            left = deadline - engine.clock.now()
            if events or left <= 0:
                break
            signal.wait(seen, left)
        page = events[:limit]
        more = len(events) > limit
        secrets = engine.secrets_of(execution_id)
        return HistoryPage(
            events=[EventOut.of(e, secrets) for e in page],
            next_after_seq=page[-1].seq if more and page else None,
        )

    @api.get("/v1/executions/{execution_id}/tasks", tags=["executions"], response_model=TaskList)
    def tasks(request: Request, execution_id: str) -> Response:
        """The execution's tasks and their statuses, as its language sees them
        (rebuilt from its saved state and the history after it), with an ``ETag``."""
        view = engine.describe(execution_id)
        listed = TaskList(
            tasks=[TaskOut(name=t.name, key=t.key, status=t.status) for t in view.tasks]
        )
        return etagged(request, listed)

    @api.get("/v1/executions/{execution_id}/views/{view}", tags=["executions"])
    def history_view(execution_id: str, view: str) -> Any:
        """A projection of the history its language offers (``sfn`` for a state
        machine); an unknown name is a 400 listing the ones offered."""
        return mask(engine.history_view(execution_id, view), engine.secrets_of(execution_id))

    @api.get("/v1/executions/{execution_id}/triggers", tags=["executions"])
    def workspace_triggers(execution_id: str) -> Any:
        """A trigger workspace's triggers, with how many times each fired; other
        kinds of execution have none (400)."""
        found = graph_views.workspace_triggers(engine, execution_id)
        return mask(found, engine.secrets_of(execution_id))

    return api
