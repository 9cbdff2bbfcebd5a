"""Workflows for the tests of ``cadenza.testing``, continue-as-new, workflow ids,
activity timeouts and child policies."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import distant

from cadenza.code import TaskFailed, Workflow, WorkflowContext, activity
from cadenza.model.errors import ActivityError
from cadenza.model.retry import RetryPolicy


@activity(task_list="money", retry=RetryPolicy(max_attempts=3, initial_delay=60.0))
def raise_money(goal: int) -> int:
    raise AssertionError("the tests always mock raise_money")


@activity(task_list="boats")
def buy_boat(money: int) -> str:
    return f"a boat for {money}"


@activity(task_list="boats")
def steal_boat() -> str:
    return "a stolen boat"


@activity(task_list="tavern")
def hire(who: str, key: str) -> str:
    return f"{who} hired ({len(key)})"


class Voyage(Workflow):
    """Waits two days for the tide, raises money, then buys or steals a boat."""

    def run(self, goal: int) -> dict[str, Any]:
        started = self.now()
        self.sleep(2 * 24 * 3600)
        try:
            money = self.submit(raise_money, goal).result
        except TaskFailed as failure:
            return {"boat": self.submit(steal_boat).result, "why": failure.status}
        boat = buy_boat if money >= goal else steal_boat
        args = [money] if boat is buy_boat else []
        return {"boat": self.submit(boat, *args).result, "waited": self.now() - started}


async def hires_with_a_stdlib_uuid(ctx: WorkflowContext, who: str) -> str:
    """A replay-only bug: the key is drawn anew on every run of the code."""
    key = str(uuid.uuid4())
    return str(await ctx.activity(hire, who, key))


async def hires_with_a_workflow_uuid(ctx: WorkflowContext, who: str) -> str:
    """The fix: ``ctx.uuid4()`` is drawn from the recorded seed."""
    return str(await ctx.activity(hire, who, ctx.uuid4()))


#: Process-wide state a workflow must not read (the bug of ``Remembers``).
SEEN = {"runs": 0}


class Remembers(Workflow):
    """A replay-only bug in the simpleflow face: it branches on module state."""

    def run(self) -> str:
        SEEN["runs"] += 1
        first = SEEN["runs"] == 1
        return str(self.submit(hire, "cook" if first else "gunner", "k").result)


@activity
def add(total: int, value: int) -> int:
    return total + value


async def counting(ctx: WorkflowContext, start: int, stop: int, total: int) -> Any:
    """Adds ``start..stop-1`` in runs of 100 iterations, continuing as new between."""
    end = min(start + 100, stop)
    for value in range(start, end):
        total = await ctx.activity(add, total, value)
    if end < stop:
        ctx.continue_as_new(end, stop, total)
    return {"total": total, "workflow_id": ctx.workflow_id}


class Counting(Workflow):
    """``counting`` in the simpleflow face, in runs of ``batch``."""

    def run(self, start: int, stop: int, batch: int, total: int = 0) -> int:
        end = min(start + batch, stop)
        for value in range(start, end):
            total = self.submit(add, total, value).result
        if end < stop:
            self.continue_as_new(end, stop, batch, total)
        return total


class Inbox(Workflow):
    """Collects ``count`` ``item`` signals."""

    def run(self, count: int) -> dict[str, Any]:
        items = [self.wait_signal("item").result for _ in range(count)]
        return {"items": items, "workflow_id": self.workflow_id}


@activity(task_list="outside", external=True, schedule_to_start_timeout=10.0)
def slow_to_start(x: int) -> int:
    """Answered by an outside worker, which must take it within 10 s."""
    raise NotImplementedError


@activity(task_list="outside", external=True, schedule_to_close_timeout=30.0)
def slow_to_finish(x: int) -> int:
    """Answered by an outside worker, which must finish within 30 s of scheduling."""
    raise NotImplementedError


@activity(
    schedule_to_close_timeout=100.0,
    retry=RetryPolicy(max_attempts=5, initial_delay=60.0, backoff=2.0),
)
def keeps_failing() -> None:
    raise ActivityError("the winch is stuck", type="Stuck")


@activity(task_list="nowhere", schedule_to_start_timeout=10.0)
def nobody_serves(x: int) -> int:
    """On a task list no engine of the tests serves: nobody takes it."""
    raise NotImplementedError


#: Set by a test to let ``held_until_released`` finish.
RELEASE = threading.Event()


@activity(schedule_to_start_timeout=0.2)
def held_until_released(x: int) -> int:
    """Taken at once by the engine's own workers, then held past its
    schedule-to-start limit until a test releases it."""
    if not RELEASE.wait(60):
        raise ActivityError("never released", type="NotReleased")
    return x + 1


class Deadlines(Workflow):
    """Runs one activity and reports how it ended."""

    def run(self, which: str) -> dict[str, Any]:
        if which == "retry":
            future = self.submit(keeps_failing)
        elif which in ("nobody", "held"):
            future = self.submit(nobody_serves if which == "nobody" else held_until_released, 1)
        else:
            future = self.submit(slow_to_start if which == "start" else slow_to_finish, 1)
        try:
            return {"result": future.result}
        except TaskFailed as failure:
            error = failure.error if isinstance(failure.error, dict) else {}
            return {"status": failure.status, "type": error.get("type")}


class Lookout(Workflow):
    """A child that waits for a signal that never comes."""

    def run(self) -> str:
        return str(self.wait_signal("land-ho").result)


class Captain(Workflow):
    """Starts a ``Lookout`` under ``policy`` and ends without waiting for it."""

    def run(self, policy: str) -> Any:
        started = self.child("Lookout", None, policy=policy)
        return started.result if policy == "abandon" else "ended"


class AbandonedLookout(Lookout):
    name = "Lookout"
    child_policy = "abandon"


class SubmitsAnAbandoned(Workflow):
    def run(self) -> Any:
        return self.submit(AbandonedLookout).result


class BadPolicy(Workflow):
    def run(self) -> Any:
        return self.child("Lookout", None, policy="sink").result


class ContinuesWithAnObject(Workflow):
    def run(self) -> None:
        self.continue_as_new(object())


class UsesADistantActivity(Workflow):
    """Submits an activity its module does not hold at top level."""

    def run(self, x: int) -> int:
        return int(self.submit(distant.triple, x).result)


class WaitingCaptain(Workflow):
    """Starts a ``Lookout`` under ``policy`` and waits for it."""

    def run(self, policy: str) -> Any:
        return self.child("Lookout", None, policy=policy).result


class Sleeper(Workflow):
    """Sleeps an hour on a durable timer."""

    def run(self) -> str:
        self.sleep(3600)
        return "awake"
