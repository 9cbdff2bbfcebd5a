"""Workflows written as Python code, replayed from history (the ``code`` front end).

The simpleflow shape::

    from cadenza.code import Workflow, activity, futures

    @activity(task_list="money", retry=3)
    def raise_money(goal): ...

    class Business(Workflow):
        def run(self, goal):
            money = self.submit(raise_money, goal)
            return money.result

and the ``async def`` shape on the same machinery::

    async def business(ctx, goal):
        return await ctx.activity(raise_money, goal)

Register with ``engine.register(CodeReference("pkg.flows:Business", "1"))``
and put the activities in a worker's registry with
:func:`register_activities`. See ``docs/reference/code.md``.
"""

from __future__ import annotations

from cadenza.interpreters.code import futures
from cadenza.interpreters.code.activities import (
    ActivityDefinition,
    activity,
    register_activities,
)
from cadenza.interpreters.code.futures import Future, FutureState, TaskFailed, all_of, wait
from cadenza.interpreters.code.runtime import WorkflowUsageError
from cadenza.interpreters.code.workflow import Workflow, WorkflowContext

__all__ = [
    "ActivityDefinition",
    "Future",
    "FutureState",
    "TaskFailed",
    "Workflow",
    "WorkflowContext",
    "WorkflowUsageError",
    "activity",
    "all_of",
    "futures",
    "register_activities",
    "wait",
]
