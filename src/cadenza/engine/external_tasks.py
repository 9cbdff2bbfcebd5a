"""Tasks answered from outside: activity workers and callback tokens.

An *activity* is a task a worker outside the engine runs (``ScheduleTask``
with ``external=True``): the worker polls the task's queue by name, gets the
input and a task token, and answers with success, failure or heartbeats. A
*callback* is a step that waits for someone to answer a token it handed out
in its payload; it has no task row, only a waiting interpreter.

Both answers end up as a ``TaskCompleted`` in the execution's inbox, in one
store transaction, so an answer is recorded exactly once: an answer to an
attempt that was already given up (its lease expired and it was retried) is
refused with ``LeaseLost``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cadenza.engine.clock import Clock
from cadenza.model.errors import LeaseLost
from cadenza.model.events import JSON, TaskCompleted, TaskStarted
from cadenza.model.secrets import secret_meta
from cadenza.model.tokens import TaskToken, decode_token
from cadenza.store.protocol import ClaimRequest, FinishRequest, Store
from cadenza.store.records import FinishOutcome, TaskFinish

#: How long an activity worker holds a task without a heartbeat timeout of its
#: own: a year; the step's own timeout, if it has one, ends it sooner.
_DEFAULT_ACTIVITY_LEASE = 365 * 24 * 3600.0


@dataclass(frozen=True)
class ActivityTask:
    """A task handed to an outside worker: answer it with its ``token``."""

    token: str
    input: JSON
    execution_id: str
    name: str


class ExternalTasks:
    """Polling and answering tasks from outside the engine."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def poll(self, activity: str, worker_name: str) -> ActivityTask | None:
        """Claim the oldest waiting task of the queue ``activity`` for ``worker_name``."""
        owner = f"activity-worker:{worker_name}"
        request = ClaimRequest(owner, (activity,), 1, _DEFAULT_ACTIVITY_LEASE, external=True)
        claimed = self.store.claim_tasks(request, self.clock.now())
        if not claimed:
            return None
        task = claimed[0]
        # The execution learns who took the task (front ends may record the
        # worker's name).
        self.store.deliver(
            task.execution_id,
            [TaskStarted(task_id=task.task_id, worker=worker_name)],
            self.clock.now(),
        )
        token = TaskToken(task.execution_id, task.task_id, task.attempt, owner).encode()
        return ActivityTask(
            token=token, input=task.input, execution_id=task.execution_id, name=task.name
        )

    def succeed(self, token: str, output: JSON) -> None:
        """Answer the task of ``token`` with ``output``."""
        parsed = decode_token(token)
        result, meta = secret_meta(output)
        self._answer(
            parsed,
            TaskCompleted(
                task_id=parsed.task_id,
                status="succeeded",
                result=result,
                attempt=max(1, parsed.attempt),
                meta=meta,
            ),
        )

    def fail(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        """Answer the task of ``token`` with a failure named ``error``, explained by
        ``cause``; it reaches the interpreter as ``TaskCompleted.error``
        ``{"type": error, "message": cause}``."""
        parsed = decode_token(token)
        failure = {"type": error or "", "message": cause or ""}
        event = TaskCompleted(
            task_id=parsed.task_id,
            status="failed",
            error=failure,
            attempt=max(1, parsed.attempt),
        )
        self._answer(parsed, event)

    def heartbeat(self, token: str) -> None:
        """Tell the engine the task of ``token`` is still being worked on."""
        parsed = decode_token(token)
        if parsed.is_callback:
            self.store.load_execution(parsed.execution_id)
            return
        key = (parsed.execution_id, parsed.task_id)
        held = self.store.heartbeat_tasks(
            parsed.owner, [key], _DEFAULT_ACTIVITY_LEASE, self.clock.now()
        )
        if key not in held:
            raise LeaseLost(
                "the task of this token is no longer waiting for its worker",
                execution_id=parsed.execution_id,
                task_id=parsed.task_id,
            )

    def _answer(self, parsed: TaskToken, event: TaskCompleted) -> None:
        now = self.clock.now()
        if parsed.is_callback:
            self.store.deliver(parsed.execution_id, [event], now)
        else:
            finish = TaskFinish(FinishOutcome.DONE, [event])
            self.store.finish_task(
                FinishRequest(
                    parsed.execution_id, parsed.task_id, parsed.attempt, parsed.owner, finish
                ),
                now,
            )
