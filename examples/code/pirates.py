"""Build a pirate business: the seed deck's example, as a Cadenza code workflow.

Raise money; with enough of it build a boat, else steal one; then find a crew
and a parrot in parallel. Each activity runs on its own task list, so
separate worker processes can serve them (see README.md beside this file).

The same workflow is written twice, once per face: ``PirateBusiness`` in the
simpleflow shape (``self.submit``, ``future.result``) and
``pirate_business`` as ``async def`` (``await ctx.activity``).
"""

from __future__ import annotations

from typing import Any

from cadenza.code import Workflow, WorkflowContext, activity, futures, register_activities
from cadenza.model.retry import RetryPolicy

#: What a boat costs to build; with less money the pirates steal one.
BOAT_PRICE = 1000

#: Calls of each activity in this process, for the tests (never read by workflows).
CALLS: dict[str, int] = {}


def _count(name: str) -> None:
    CALLS[name] = CALLS.get(name, 0) + 1


@activity(task_list="money", retry=RetryPolicy(max_attempts=3, initial_delay=5.0))
def raise_money(goal: int) -> int:
    """Sell maps to gullible merchants: raises what the goal asks, up to 1500."""
    _count("raise_money")
    return min(goal, 1500)


@activity(task_list="boats", start_to_close_timeout=3600)
def build_boat(budget: int) -> dict[str, Any]:
    """A shipwright builds a sloop for the whole budget."""
    _count("build_boat")
    return {"boat": "sloop", "how": "built", "cost": budget}


@activity(task_list="boats")
def steal_boat() -> dict[str, Any]:
    """Borrow, permanently, a rowing boat from the harbour."""
    _count("steal_boat")
    return {"boat": "rowing boat", "how": "stolen", "cost": 0}


@activity(task_list="tavern")
def find_crew(size: int) -> list[str]:
    """Recruit ``size`` sailors at the tavern."""
    _count("find_crew")
    names = ["Anne", "Mary", "Jack", "Edward", "Grace", "William"]
    return names[:size]


@activity(task_list="tavern", idempotent=True)
def buy_parrot(colour: str) -> str:
    """A parrot of the given colour (idempotent: buying the same one twice is one purchase)."""
    _count("buy_parrot")
    return f"a {colour} parrot"


class PirateBusiness(Workflow):
    """The business, simpleflow style."""

    def run(self, goal: int = 2000, crew_size: int = 3) -> dict[str, Any]:
        money = self.submit(raise_money, goal).result
        # Enough money builds a boat; too little steals one.
        boat = self.submit(build_boat, money) if money >= BOAT_PRICE else self.submit(steal_boat)
        crew = self.submit(find_crew, crew_size)
        parrot = self.submit(buy_parrot, "green")
        futures.wait(boat, crew, parrot)
        return {"money": money, "boat": boat.result, "crew": crew.result, "parrot": parrot.result}


async def pirate_business(ctx: WorkflowContext, goal: int = 2000, crew_size: int = 3) -> Any:
    """The same business with ``async def``."""
    money = await ctx.activity(raise_money, goal)
    boat = ctx.activity(build_boat, money) if money >= BOAT_PRICE else ctx.activity(steal_boat)
    crew = ctx.activity(find_crew, crew_size)
    parrot = ctx.activity(buy_parrot, "green")
    boat_done, crew_done, parrot_done = await ctx.all_of(boat, crew, parrot)
    return {"money": money, "boat": boat_done, "crew": crew_done, "parrot": parrot_done}


def register(registry: Any) -> None:
    """For ``cadenza worker --activities pirates:register``: every activity above."""
    register_activities(registry, raise_money, build_boat, steal_boat, find_crew, buy_parrot)
