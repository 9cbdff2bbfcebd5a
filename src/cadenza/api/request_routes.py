"""The endpoints that ask something of an execution: cancel, terminate, pause,
resume, rerun, signals (and signal-with-start), operator requests and answers.

Each records its request and decides it before answering, so the answer
(``Accepted``) shows the execution as the request left it, with ``refused``
set when its language turned the request down.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from cadenza.api.models import (
    Accepted,
    AnswerIn,
    OfferedRequests,
    OperatorRequestIn,
    RerunIn,
    SignalIn,
    SignalWithStartIn,
)
from cadenza.api.routes import ERROR_RESPONSES, execution_out
from cadenza.engine.engine import Engine
from cadenza.interpreters.protocol import RerunRequest, operator_requests_of


class TerminateIn(BaseModel):
    """Why an execution is terminated, and who asks (kept in its error)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = ""
    by: str = ""


def request_routes(engine: Engine) -> APIRouter:
    """The request endpoints, bound to ``engine``."""
    api = APIRouter(responses=ERROR_RESPONSES)

    def accepted(execution_id: str) -> Accepted:
        return Accepted(
            execution=execution_out(engine, engine.get(execution_id)),
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

    @api.post("/v1/executions/signal-with-start", tags=["requests"])
    def signal_with_start(body: SignalWithStartIn) -> Accepted:
        """Signal the open run of ``workflow_id``, or start a run of ``definition``
        (id or name) with ``input`` under that workflow id and deliver the signal
        with its start; ``execution`` is that run. A race between two callers
        starts one run, and the other signals it."""
        execution_id = engine.signal_with_start(
            body.definition, body.workflow_id, body.name, body.data, input=body.input, by=body.by
        )
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
