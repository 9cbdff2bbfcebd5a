"""W1 as a code workflow: ``steps`` sequential no-op activities in one Python workflow.

The same shape as DBOS's ``@DBOS.workflow`` calling ``@DBOS.step``s in a loop,
in both faces of Cadenza's code front end.
"""

from __future__ import annotations

from typing import Any

from cadenza.code import Workflow, WorkflowContext, activity, register_activities


@activity(name="bench.code.step")
def step(v: int) -> int:
    """The no-op step: adds one, so the result proves every step ran in order."""
    return v + 1


async def chain(ctx: WorkflowContext, steps: int) -> int:
    """``steps`` activities one after another (async face: one live coroutine)."""
    v = 0
    for _ in range(steps):
        v = await ctx.activity(step, v)
    return v


class Chain(Workflow):
    """The same chain in the simpleflow face (run again from the start at each step)."""

    def run(self, steps: int) -> int:
        v = 0
        for _ in range(steps):
            v = self.submit(step, v).result
        return v


def register(registry: Any) -> None:
    register_activities(registry, step)
