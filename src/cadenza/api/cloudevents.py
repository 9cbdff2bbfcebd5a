"""CloudEvents over HTTP, delivered to a running execution.

``POST /v1/executions/{id}/cloudevents`` takes the three content modes of the
CloudEvents HTTP binding (binary ``ce-*`` headers, structured, batched). The
events, checked with the ``cloudevents`` package, are recorded in one
transaction as one ``SignalReceived`` named ``cloudevents`` whose data is
the list of events: a trigger workspace consumes them as it consumes a batch
from a broker (deduplicating on ``source`` and ``id``, so a sender may retry),
and any other language can read them as a signal. The answer comes after the
commit: a 202 means the events are kept.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from starlette.concurrency import run_in_threadpool

from cadenza.api.models import ErrorOut
from cadenza.engine.engine import Engine
from cadenza.model.errors import InputError

#: The signal name a batch of CloudEvents is recorded under.
CLOUDEVENTS_SIGNAL = "cloudevents"


def cloudevent_routes(engine: Engine) -> APIRouter:
    """The CloudEvents endpoint for ``engine``."""
    api = APIRouter(
        responses={code: {"model": ErrorOut} for code in (400, 401, 404, 409, 413, 422, 503)}
    )

    @api.post(
        "/v1/executions/{execution_id}/cloudevents",
        tags=["requests"],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=None,
    )
    async def cloudevents(execution_id: str, request: Request) -> dict[str, object]:
        """Deliver the CloudEvents of this request (binary, structured or batched
        content mode) to the execution; a bad event refuses the whole request
        (400, naming it), a finished execution is a 409."""
        # Imported here: only servers that receive events pay for the package.
        from cadenza.triggers.http_binding import events_from_http

        body = await request.body()
        try:
            events = events_from_http(dict(request.headers), body)
        except ValueError as exc:
            raise InputError(f"not CloudEvents: {exc}") from exc
        await run_in_threadpool(engine.signal, execution_id, CLOUDEVENTS_SIGNAL, events, by="http")
        return {"execution_id": execution_id, "accepted": len(events)}

    return api
