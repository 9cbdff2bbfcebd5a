"""Workers in any language: claim tasks over HTTP, heartbeat, complete, fail.

A worker names the actions it can run and the queue it serves, and long-polls
for tasks: the answer comes the moment a task is claimable (this process's
decisions, a finished attempt, another process's notification relayed by the
serve loop), or when the wait it chose runs out. Each task carries a token
that names the attempt; leases, heartbeats and the task's retry policy apply
exactly as for the engine's own workers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cadenza.api.models import ErrorOut
from cadenza.api.queue_polls import queue_polls
from cadenza.api.work_signal import signal_for
from cadenza.engine.engine import Engine
from cadenza.model.errors import InputError, LeaseLost
from cadenza.model.tokens import TaskToken, decode_token
from cadenza.store.protocol import ClaimRequest
from cadenza.store.records import TaskRecord
from cadenza.workers.outcome import ActivityOutcome

#: Owners of tasks claimed over HTTP are ``http-worker:<name>``.
OWNER_PREFIX = "http-worker:"

_NAME = r"^[A-Za-z0-9_.:@/\-]+$"


class ClaimIn(BaseModel):
    """What a worker asks for."""

    model_config = {"extra": "forbid"}

    worker: str = Field(min_length=1, max_length=100, pattern=_NAME)
    actions: list[str] = Field(min_length=1, max_length=500, description="actions it can run")
    queue: str = Field("default", min_length=1, max_length=200)
    limit: int = Field(1, ge=1, le=100)
    wait: float = Field(20.0, ge=0, le=60, description="seconds to wait for a task")
    lease: float = Field(60.0, ge=1, le=3600, description="seconds before an unbeaten lease lapses")


class ClaimedTask(BaseModel):
    """One task to run, and the token to answer it with."""

    token: str
    execution_id: str
    task_id: str
    name: str
    action: str | None
    input: Any = None
    attempt: int
    lease_expires_at: float | None


class Claimed(BaseModel):
    """The tasks claimed (none when the wait ran out)."""

    tasks: list[ClaimedTask]


class TokenIn(BaseModel):
    model_config = {"extra": "forbid"}

    token: str = Field(min_length=1, max_length=4096)


class HeartbeatIn(TokenIn):
    details: Any = None
    lease: float = Field(60.0, ge=1, le=3600)


class HeartbeatOut(BaseModel):
    """Whether the worker still holds the task; when not, stop working on it."""

    held: bool
    cancel_requested: bool


class CompleteIn(TokenIn):
    result: Any = None


class FailIn(TokenIn):
    type: str = Field("Error", min_length=1, max_length=200, description="the error's type")
    message: str = Field("", max_length=32_768)
    result: Any = None
    non_retryable: bool = False


class Finished(BaseModel):
    """What became of the attempt: ``done``, or ``retry`` (another attempt later)."""

    outcome: str


def worker_routes(engine: Engine) -> APIRouter:
    """The endpoints for workers outside the engine, bound to ``engine``."""
    api = APIRouter(
        prefix="/v1/workers/tasks",
        tags=["workers"],
        responses={code: {"model": ErrorOut} for code in (400, 401, 409, 422, 503)},
    )
    signal = signal_for(engine)
    polls = queue_polls(engine)

    @api.post("/claim")
    def claim(body: ClaimIn) -> Claimed:
        """Claim up to ``limit`` due tasks of ``queue`` whose action is one of
        ``actions``, waiting up to ``wait`` seconds for one to arrive."""
        owner = f"{OWNER_PREFIX}{body.worker}"
        request = ClaimRequest(
            owner, (body.queue,), body.limit, body.lease, actions=tuple(body.actions)
        )
        deadline = engine.clock.now() + body.wait
        while True:
            seen = signal.generation()
            now = engine.clock.now()
            polls.saw((body.queue,), now)
            claimed = engine.store.claim_tasks(request, now)
            if claimed or now >= deadline:
                return Claimed(tasks=[_claimed(task, owner) for task in claimed])
            # Wait for a wake-up, but no later than the next of these tasks falls
            # due (a retry's backoff) or the deadline.
            due = engine.store.next_wakeup(kinds=(), actions=body.actions)
            until = deadline if due is None else min(deadline, max(due, now + 0.01))
            signal.wait(seen, until - now)

    @api.post("/heartbeat")
    def heartbeat(body: HeartbeatIn) -> HeartbeatOut:
        """Extend the lease; ``held: false`` means stop (the task was withdrawn, or
        its lease lapsed and another attempt took over)."""
        token = _attempt(body.token)
        key = (token.execution_id, token.task_id)
        held = engine.store.heartbeat_tasks(token.owner, [key], body.lease, engine.clock.now())
        return HeartbeatOut(held=key in held, cancel_requested=key not in held)

    @api.post("/complete")
    def complete(body: CompleteIn) -> Finished:
        """The attempt succeeded with ``result``."""
        return _finish(engine, body.token, ActivityOutcome.succeeded(body.result))

    @api.post("/fail")
    def fail(body: FailIn) -> Finished:
        """The attempt failed; the task's retry policy decides whether it runs again."""
        outcome = ActivityOutcome.failed(
            type=body.type,
            message=body.message,
            result=body.result,
            non_retryable=body.non_retryable,
        )
        return _finish(engine, body.token, outcome)

    return api


def _claimed(task: TaskRecord, owner: str) -> ClaimedTask:
    return ClaimedTask(
        token=TaskToken(task.execution_id, task.task_id, task.attempt, owner).encode(),
        execution_id=task.execution_id,
        task_id=task.task_id,
        name=task.name,
        action=task.action,
        input=task.input,
        attempt=task.attempt,
        lease_expires_at=task.lease_expires_at,
    )


def _attempt(raw: str) -> TaskToken:
    """A worker's token (``InputError`` for any other)."""
    token = decode_token(raw)
    if token.is_callback or not token.owner.startswith(OWNER_PREFIX):
        raise InputError("the token is not one a worker claimed over this API")
    return token


def _finish(engine: Engine, raw: str, outcome: ActivityOutcome) -> Finished:
    token = _attempt(raw)
    task = engine.store.held_task(token.execution_id, token.task_id, token.attempt, token.owner)
    if task is None:
        raise LeaseLost(
            "the attempt of this token is no longer held (it was answered, withdrawn, "
            "or its lease lapsed and another attempt took over)",
            execution_id=token.execution_id,
            task_id=token.task_id,
            attempt=token.attempt,
        )
    request = engine.runner.finish_request(task, outcome, token.owner)
    engine.store.finish_task(request, engine.clock.now())
    engine.wake()
    return Finished(outcome=str(request.finish.outcome))
