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

An answer is held to the same limits as a result the engine's own workers
save: an activity's to the payload ceilings of its execution's definition
(``DefinitionLimits``) and the store's, and over them its step fails for good
with ``payload.too_large``, the answer dropped; a callback's (which has no task
row, and no step to fail here) is refused with ``PayloadTooLarge``, nothing
recorded. The secret paths a step declares for its result
(``meta["secret_result"]``) are marked in an activity's answer before it is
recorded, as for a result the engine's workers save.
"""

from __future__ import annotations

from dataclasses import dataclass

from cadenza.engine.clock import Clock
from cadenza.engine.payload_ceilings import LimitsByDefinition, bounded_outcome
from cadenza.model.errors import DefinitionNotFound, LeaseLost
from cadenza.model.events import JSON, TaskCompleted, TaskStarted
from cadenza.model.secrets import mark_declared_result, secret_meta
from cadenza.model.tokens import TaskToken, decode_token
from cadenza.store.payloads import PayloadLimits, too_large
from cadenza.store.protocol import ClaimRequest, FinishRequest, Store
from cadenza.store.records import FinishOutcome, TaskFinish, TaskRecord
from cadenza.workers.outcome import ActivityOutcome, OutcomeStatus

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

    def __init__(
        self,
        store: Store,
        clock: Clock,
        definition_limits: LimitsByDefinition | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        #: The engine's limits by definition (None or empty: the store's only).
        self.definition_limits = definition_limits
        self._result_ceilings = (
            None if definition_limits is None else definition_limits.result_ceilings(store)
        )

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
        """Answer the task of ``token`` with ``output``.

        An activity's answer over its definition's or the store's ceilings fails
        its step (``payload.too_large``, not retried); a callback's is refused with
        ``PayloadTooLarge``. ``LeaseLost`` when the activity's attempt is no longer
        held.
        """
        parsed = decode_token(token)
        if parsed.is_callback:
            self._check_callback_answer(parsed, output)
            result, meta = secret_meta(output)
            event = TaskCompleted(
                task_id=parsed.task_id,
                status="succeeded",
                result=result,
                attempt=max(1, parsed.attempt),
                meta=meta,
            )
            self._answer(parsed, event)
            return
        task = self.store.held_task(
            parsed.execution_id, parsed.task_id, parsed.attempt, parsed.owner
        )
        if task is None:
            raise LeaseLost(
                "the task of this token is no longer waiting for its worker",
                execution_id=parsed.execution_id,
                task_id=parsed.task_id,
            )
        self._answer(parsed, self._activity_answer(task, parsed, output))

    def _activity_answer(self, task: TaskRecord, parsed: TaskToken, output: JSON) -> TaskCompleted:
        """The event that records ``output`` as the answer to the held ``task``."""
        limits = self._ceilings(task)
        outcome = bounded_outcome(
            task,
            ActivityOutcome(OutcomeStatus.SUCCEEDED, output),
            limits,
            self.store.stored_payload_bytes,
        )
        attempt = max(1, parsed.attempt)
        if outcome.error is not None:
            return TaskCompleted(
                task_id=parsed.task_id,
                status=outcome.status.value,
                error=outcome.error.to_dict(),
                attempt=attempt,
            )
        # Values the worker marked secret, or the step declared secret: recorded
        # plain, their places in meta.
        result, meta = secret_meta(mark_declared_result(output, task.meta))
        return TaskCompleted(
            task_id=parsed.task_id, status="succeeded", result=result, attempt=attempt, meta=meta
        )

    def _ceilings(self, task: TaskRecord) -> PayloadLimits:
        """The ceilings of ``task``'s result: the store's, narrowed by its definition's."""
        ceilings = self._result_ceilings
        return self.store.payload_limits if ceilings is None else ceilings(task)

    def _check_callback_answer(self, parsed: TaskToken, output: JSON) -> None:
        """``PayloadTooLarge`` when a callback's answer is over the ceilings of its
        execution's definition (the store refuses one over its own as it writes)."""
        held = self.definition_limits
        if not held:
            return
        definition_id = self.store.load_execution(parsed.execution_id).definition_id
        if held.of(definition_id) is None:
            # A definition this process has not seen: learn its name (limits may
            # be given by name).
            try:
                held.learn(self.store.load_definition(definition_id))
            except DefinitionNotFound:
                return
        if held.of(definition_id) is None:
            return
        limits = held.payload_limits(definition_id, self.store.payload_limits)
        where = f"the answer to the callback {parsed.task_id!r}"
        size = limits.check(output, where)
        total = self.store.stored_payload_bytes(parsed.execution_id) + size
        if total > limits.max_execution_bytes:
            raise too_large(
                f"the stored payload of execution {parsed.execution_id} with {where}",
                total,
                limits.max_execution_bytes,
                "max_execution_bytes",
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
