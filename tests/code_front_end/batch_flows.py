"""Workflows whose one decision issues more tasks than a decision schedules."""

from __future__ import annotations

from cadenza.code import Workflow, WorkflowContext, activity, futures


@activity(name="batch.square")
def square(x: int) -> int:
    return x * x


@activity(name="batch.idle", task_list="nobody")
def idle(x: int) -> int:
    """On a task list no test engine serves: its tasks are never taken."""
    return x


class FanOut(Workflow):
    """``n`` squares in parallel (one decision issues them all); their sum."""

    def run(self, n: int) -> int:
        return sum(futures.wait(*self.map(square, range(n))))


async def fan_out(ctx: WorkflowContext, n: int) -> int:
    """The same fan-out in the async face, with a timer among the tasks."""
    squares = [ctx.activity(square, x) for x in range(n)]
    await ctx.timer(5)
    return sum(await ctx.all_of(*squares))


class FanOutThenWait(Workflow):
    """``n`` tasks nobody takes, then wait for a signal: nothing the code waits
    for arrives, so only the engine's wake-up schedules what the cap held back."""

    def run(self, n: int) -> str:
        self.map(idle, range(n))
        return str(self.wait_signal("go").result)


class FanOutAndLeave(Workflow):
    """``n`` tasks, and return at once without waiting for any."""

    def run(self, n: int) -> str:
        self.map(idle, range(n))
        return "left"
