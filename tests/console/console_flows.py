"""A code workflow for the console's browser tests: a first activity, two in
parallel, a retried activity, a durable timer and a signal, so the task tree
and the timeline have every kind of node and an attempt that failed."""

from __future__ import annotations

from typing import Any

from cadenza.code import Workflow, activity
from cadenza.model.errors import ActivityError
from cadenza.model.retry import RetryPolicy
from cadenza.testing.clock import FakeClock

#: Attempts of ``flaky`` so far: it fails the first time and succeeds after its backoff.
ATTEMPTS = {"flaky": 0}
#: The fake clock of the engine running these, if any: activities move it on by
#: the time their work "takes", so a timeline has bars of some length.
WORK_CLOCK: dict[str, FakeClock | None] = {"clock": None}


def work(seconds: float) -> None:
    clock = WORK_CLOCK["clock"]
    if clock is not None:
        clock.advance(seconds)


@activity
def fetch_order(order: str) -> dict[str, Any]:
    work(2)
    return {"order": order, "items": ["rum", "rope"]}


@activity
def reserve(item: str) -> str:
    work(3)
    return f"reserved {item}"


@activity(retry=RetryPolicy(max_attempts=3, initial_delay=5.0))
def flaky_charge(order: str) -> str:
    work(2)
    ATTEMPTS["flaky"] += 1
    if ATTEMPTS["flaky"] == 1:
        raise ActivityError("the bank is closed", type="BankClosed")
    return f"charged {order}"


class Shipment(Workflow):
    """Fetch, reserve every item at once, charge (retried), wait a minute, then
    wait for the ``shipped`` signal."""

    def run(self, order: str) -> dict[str, Any]:
        found = self.submit(fetch_order, order).result
        reserved = [f.result for f in self.map(reserve, found["items"])]
        charged = self.submit(flaky_charge, order).result
        self.sleep(60)
        self.record_marker("charged", {"order": order})
        shipped = self.wait_signal("shipped").result
        return {"reserved": reserved, "charged": charged, "shipped": shipped}


class Crew(Workflow):
    """Reserve every item at once: a fan-out the console draws as one step."""

    def run(self, items: list[str]) -> list[str]:
        return [f.result for f in self.map(reserve, items)]


@activity(retry=RetryPolicy(max_attempts=1))
def price_of(item: str) -> int:
    """Ten per letter; a kraken has no price (the activity fails, not retried)."""
    if item == "kraken":
        raise ActivityError("no price for a kraken", type="NoPrice")
    return 10 * len(item)


class Quote(Workflow):
    """Price one item: rerun from ``price_of`` with new input after it failed."""

    def run(self, item: str) -> dict[str, Any]:
        return {"price": self.submit(price_of, item).result}
