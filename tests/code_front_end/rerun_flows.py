"""A two-step pipeline whose second step takes the first one's result."""

from __future__ import annotations

from typing import Any

from cadenza.code import Workflow, WorkflowContext, activity

#: Calls of each activity in this process, by name.
CALLS: dict[str, int] = {"add": 0, "double": 0}


@activity(name="rerun.add")
def add(x: int, y: int = 1) -> int:
    CALLS["add"] += 1
    return x + y


@activity(name="rerun.double")
def double(x: int) -> int:
    CALLS["double"] += 1
    return 2 * x


class Pipeline(Workflow):
    def run(self, x: int) -> list[Any]:
        total = self.submit(add, x).result
        self.sleep(1)
        return [total, self.submit(double, total).result]


async def pipeline(ctx: WorkflowContext, x: int) -> list[Any]:
    total = await ctx.activity(add, x)
    await ctx.timer(1)
    return [total, await ctx.activity(double, total)]


def register(registry: Any) -> None:
    from cadenza.code import register_activities

    register_activities(registry, add, double)
