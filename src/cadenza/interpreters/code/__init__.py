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

from typing import TYPE_CHECKING

from cadenza.interpreters.lazy_exports import lazy_exports

if TYPE_CHECKING:
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

#: The submodule that defines each name of ``__all__``. They are imported on
#: first use: importing the front end (``.frontend``) runs this module, and
#: every process that detects a definition's kind imports the front end.
_DEFINED_IN = {
    "ActivityDefinition": "activities",
    "Future": "futures",
    "FutureState": "futures",
    "TaskFailed": "futures",
    "Workflow": "workflow",
    "WorkflowContext": "workflow",
    "WorkflowUsageError": "runtime",
    "activity": "activities",
    "all_of": "futures",
    "futures": "futures",
    "register_activities": "activities",
    "wait": "futures",
}


# Only at run time: type checkers see the imports above, and an unknown name
# stays an error for them.
if not TYPE_CHECKING:
    __getattr__ = lazy_exports(__name__, _DEFINED_IN, globals())
