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
from pydantic import BaseModel, ConfigDict

from cadenza.api.models import (
    Accepted,
    AnswerIn,
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
    OfferedRequests,
    OperatorRequestIn,
    ProblemOut,
    QueueList,
    QueueOut,
    RerunIn,
    SignalIn,
    TaskList,
    TaskOut,
    ValidationOut,
)
from cadenza.api.queue_polls import queue_polls
from cadenza.api.work_signal import signal_for
from cadenza.engine.engine import Engine
from cadenza.interpreters.protocol import RerunRequest, operator_requests_of
from cadenza.model.errors import (
    DefinitionError,
    ExecutionNotFound,
    FrontEndError,
    InputError,
    OperationRefused,
)
from cadenza.model.retry import HEARTBEAT_TIMEOUT, WORKER_LOST
from cadenza.model.secrets import mask
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES
from cadenza.store.records import ExecutionRecord

#: Execution ids made from idempotency keys live in their own UUID namespace.
_IDEMPOTENCY = uuid.UUID("6b1f8f0c-1d3a-5a8e-9c57-3f0e2d6b9a41")

_ERRORS: dict[int | str, dict[str, object]] = {
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


class TerminateIn(BaseModel):
    """Why an execution is terminated, and who asks (kept in its error)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = ""
    by: str = ""


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
_LEASE_ERRORS = (WORKER_LOST, HEARTBEAT_TIMEOUT)


def routes(engine: Engine) -> APIRouter:
    """Every endpoint of the API, bound to ``engine``."""
    api = APIRouter(responses=_ERRORS)

    signal = signal_for(engine)
    polls = queue_polls(engine)

    def out(record: ExecutionRecord, tags: Sequence[str] | None = None) -> ExecutionOut:
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
        started = engine.start(record, body.input, execution_id=execution_id, tags=body.tags)
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
        found = engine.store.lost_leases(_LEASE_ERRORS, at_least=at_least, limit=limit)
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
        """Worker queues: tasks by status, and when this server's own serving
        loop last asked each for work (``QueuePolls`` says what is not seen)."""
        now = engine.clock.now()
        counts: dict[str, dict[str, int]] = {}
        for (queue, task_status), n in engine.store.task_counts().items():
            counts.setdefault(queue, {})[task_status] = n
        last = polls.last_polls()
        return QueueList(
            recent=recent,
            queues=[
                QueueOut(
                    queue=queue,
                    tasks=counts.get(queue, {}),
                    last_poll=last.get(queue),
                    polled_recently=queue in last and now - last[queue] <= recent,
                )
                for queue in sorted(counts.keys() | last.keys())
            ],
        )

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

    def accepted(execution_id: str) -> Accepted:
        return Accepted(
            execution=out(engine.get(execution_id)),
            refused=engine.last_rejection(execution_id),
        )

    @api.post("/v1/executions/{execution_id}/cancel", tags=["requests"])
    def cancel(execution_id: str) -> Accepted:
        """Ask the execution to stop (running tasks finish)."""
        engine.cancel(execution_id)
        return accepted(execution_id)

    @api.post("/v1/executions/{execution_id}/terminate", tags=["requests"])
    def terminate(execution_id: str, body: TerminateIn) -> Accepted:
        """End the execution now without asking its language: it ends canceled with
        a ``Terminated`` error giving the reason; its tasks and timers are withdrawn."""
        engine.terminate(execution_id, body.reason, by=body.by)
        return accepted(execution_id)

    @api.post("/v1/executions/{execution_id}/pause", tags=["requests"])
    def pause(execution_id: str) -> Accepted:
        """Ask the execution to pause (running tasks finish, nothing new starts)."""
        engine.pause(execution_id)
        return accepted(execution_id)

    @api.post("/v1/executions/{execution_id}/resume", tags=["requests"])
    def resume(execution_id: str) -> Accepted:
        """Ask a paused execution to go on."""
        engine.resume(execution_id)
        return accepted(execution_id)

    @api.post("/v1/executions/{execution_id}/rerun", tags=["requests"])
    def rerun(execution_id: str, body: RerunIn) -> Accepted:
        """Run a finished execution again, in its language's own terms (a state
        machine is redriven; an Orquesta workflow reruns from named tasks)."""
        engine.rerun(execution_id, RerunRequest(tuple(body.steps), dict(body.options)))
        return accepted(execution_id)

    @api.post("/v1/executions/{execution_id}/signals", tags=["requests"])
    def send_signal(execution_id: str, body: SignalIn) -> Accepted:
        """Send a running execution a named signal (``SignalReceived`` in its
        history); a finished one is a 409. Its language may refuse it (``refused``)."""
        engine.signal(execution_id, body.name, body.data, by=body.by)
        return accepted(execution_id)

    @api.get("/v1/executions/{execution_id}/requests", tags=["requests"])
    def offered_requests(execution_id: str) -> OfferedRequests:
        """The operator requests the execution's language takes."""
        record = engine.get(execution_id)
        offered = operator_requests_of(engine.front_end_for(record.kind))
        return OfferedRequests(kind=record.kind, requests=dict(offered))

    @api.post("/v1/executions/{execution_id}/requests", tags=["requests"])
    def operator_request(execution_id: str, body: OperatorRequestIn) -> Accepted:
        """Ask the execution's language for one of its operator requests
        (``OperatorRequested`` in history, with who asked and why). A name it
        does not take is a 400 listing those it does; one that does not fit
        the execution's state now comes back ``refused``."""
        engine.operator_request(
            execution_id, body.request, body.args, by=body.by, reason=body.reason
        )
        return accepted(execution_id)

    @api.post("/v1/executions/{execution_id}/tasks/{task}/answer", tags=["requests"])
    def answer(execution_id: str, task: str, body: AnswerIn) -> Accepted:
        """Answer a task that waits for one (by task name or task id); an answer
        that does not fit what the task asked for is a 400, and it keeps waiting."""
        engine.respond(execution_id, task, body.result, failed=body.failed)
        return accepted(execution_id)

    return api
