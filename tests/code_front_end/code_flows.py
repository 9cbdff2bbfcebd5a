"""Workflows and activities the code front end's tests run."""

from __future__ import annotations

from typing import Any

from cadenza.code import TaskFailed, Workflow, WorkflowContext, activity, futures
from cadenza.model.errors import ActivityError
from cadenza.model.retry import RetryPolicy

#: Switches the tests flip to change a workflow's code between two decisions.
VARIANT = {"second": "b", "patched": False}


#: Calls of ``step_a`` in this process; ``fragile`` fails while ``BROKEN["flag"]``.
CALLS = {"step_a": 0}
BROKEN = {"flag": False}


@activity
def step_a() -> str:
    CALLS["step_a"] += 1
    return "a"


@activity
def fragile(x: int) -> int:
    if BROKEN["flag"]:
        raise ActivityError("the mast is broken", type="Broken")
    return 10 * x


@activity
def step_b() -> str:
    return "b"


@activity
def step_c() -> str:
    return "c"


@activity
def double(x: int) -> int:
    return 2 * x


@activity(idempotent=True)
def shout(word: str) -> str:
    return word.upper()


@activity(retry=RetryPolicy(max_attempts=2, initial_delay=10.0))
def always_fails(why: str) -> None:
    raise ActivityError(why, type="Broken")


class Switchable(Workflow):
    """``a`` then ``b`` (or ``c`` when a test says so)."""

    def run(self) -> list[str]:
        first = self.submit(step_a).result
        if VARIANT["patched"]:
            second = step_c if self.patched("use-c") else step_b
        else:
            second = step_b if VARIANT["second"] == "b" else step_c
        return [first, self.submit(second).result]


async def switchable(ctx: WorkflowContext) -> list[str]:
    """``Switchable`` in the async face."""
    first = await ctx.activity(step_a)
    second = step_b if VARIANT["second"] == "b" else step_c
    return [first, await ctx.activity(second)]


class Sleepy(Workflow):
    """Sleeps an hour, then waits for a signal; reports workflow-safe values."""

    def run(self) -> dict[str, Any]:
        started = self.now()
        draws = [self.random(), self.uuid4()]
        self.sleep(3600)
        go = self.wait_signal("go").result
        return {"slept": self.now() - started, "signal": go, "draws": draws}


async def sleepy(ctx: WorkflowContext) -> dict[str, Any]:
    """``Sleepy`` in the async face."""
    started = ctx.now()
    draws = [ctx.random(), ctx.uuid4()]
    await ctx.timer(3600)
    go = await ctx.wait_signal("go")
    return {"slept": ctx.now() - started, "signal": go, "draws": draws}


class Fails(Workflow):
    def run(self, catch: bool) -> Any:
        try:
            return self.submit(always_fails, "the hull leaks").result
        except TaskFailed as failure:
            if not catch:
                raise
            return {"caught": failure.status, "type": failure.error["type"]}


#: Loop iterations of the workflow code of ``Sequence``/``sequence`` (instrumentation
#: for the tests of replay cost; a real workflow has no such side effect).
ITERATIONS = {"count": 0}


class Sequence(Workflow):
    """``n`` doublings one after another."""

    def run(self, n: int) -> int:
        value = 1
        for _ in range(n):
            ITERATIONS["count"] += 1
            value = self.submit(double, value).result
        return value


async def sequence(ctx: WorkflowContext, n: int) -> int:
    value = 1
    for _ in range(n):
        ITERATIONS["count"] += 1
        value = await ctx.activity(double, value)
    return value


class Fanout(Workflow):
    def run(self, items: list[int]) -> list[int]:
        return [f.result for f in self.map(double, items)]


class Child(Workflow):
    def run(self, x: int) -> int:
        return int(self.submit(double, x).result) + 1


class Parent(Workflow):
    def run(self, x: int) -> list[int]:
        first = self.submit(Child, x)
        second = self.submit(Child, x + 1)
        return [first.result, second.result]


class Shouts(Workflow):
    """The same idempotent call twice, and another."""

    def run(self) -> list[str]:
        calls = [self.submit(shout, "ahoy"), self.submit(shout, "arr"), self.submit(shout, "ahoy")]
        return futures.wait(*calls)


@activity(task_list="translations", external=True)
def translate(text: str, to: str) -> str:
    """Answered by an outside worker polling the ``translations`` task list."""
    raise NotImplementedError


class Translates(Workflow):
    def run(self, text: str) -> str:
        return str(self.submit(translate, text, to="pirate").result)


class Repairable(Workflow):
    def run(self) -> list[Any]:
        first = self.submit(step_a).result
        return [first, self.submit(fragile, 4).result, self.submit(double, 5).result]


async def repairable(ctx: WorkflowContext) -> list[Any]:
    first = await ctx.activity(step_a)
    return [first, await ctx.activity(fragile, 4), await ctx.activity(double, 5)]


ACTIVITIES = [step_a, step_b, step_c, double, shout, fragile, always_fails]


class NoRun(Workflow):
    """Forgot to define run."""


NOT_A_WORKFLOW = ["a", "list"]


async def awaits_asyncio(ctx: WorkflowContext) -> None:
    import asyncio

    await asyncio.sleep(0)


async def reads_result_in_async(ctx: WorkflowContext) -> Any:
    return ctx.activity(step_a).result


class PassesAnObject(Workflow):
    def run(self) -> Any:
        return self.submit(double, object()).result
