"""Answering a task that waits for a person or another system.

The waiting task is found by name or id, its front end turns the answer into
the task's completion (refusing one that does not fit what the task asked
for), and the task ends with it in one transaction.
"""

from __future__ import annotations

from cadenza.engine.front_ends import FrontEnds
from cadenza.interpreters.protocol import PendingTask, TaskAnswer
from cadenza.model.errors import OperationRefused
from cadenza.store.protocol import FinishRequest, Store
from cadenza.store.records import ExecutionRecord, FinishOutcome, TaskFinish


def answer_waiting_task(
    store: Store,
    front_ends: FrontEnds,
    record: ExecutionRecord,
    task: str,
    answer: TaskAnswer,
    now: float,
) -> None:
    """End the oldest task of ``record`` named ``task`` (or with that task id) that
    waits for an answer, with ``answer``; ``OperationRefused`` if none waits, and
    the front end's ``InputError`` (the task keeps waiting) for a wrong answer."""
    waiting = [t for t in store.waiting_tasks(record.id) if task in (t.name, t.task_id)]
    if not waiting:
        raise OperationRefused(
            f"task {task!r} of execution {record.id} is not waiting for an answer",
            execution_id=record.id,
            task=task,
        )
    target = waiting[0]
    pending = PendingTask(
        execution_id=record.id,
        task_id=target.task_id,
        name=target.name,
        input=target.input,
        attempt=target.attempt,
        meta=target.meta,
    )
    event = front_ends.require(record.kind).answer(pending, answer)
    finish = TaskFinish(FinishOutcome.DONE, [event])
    store.finish_task(FinishRequest(record.id, target.task_id, target.attempt, None, finish), now)
