"""The activities of ``order.sm.yaml`` (load with ``--activities order_activities:register``)."""

from __future__ import annotations

from typing import Any

from cadenza.workers.registry import ActivityRegistry


def price(order: dict[str, Any]) -> dict[str, Any]:
    """The order with its total (30 per item)."""
    return {**order, "total": int(order["qty"]) * 30}


def review(order: dict[str, Any]) -> dict[str, Any]:
    """A large order, marked as reviewed."""
    return {**order, "reviewed": True}


def ship(order: dict[str, Any]) -> dict[str, Any]:
    """The shipping note."""
    return {"shipped": order["qty"], "total": order["total"], "reviewed": "reviewed" in order}


def register(registry: ActivityRegistry) -> None:
    """Register the activities under the names the state machine uses."""
    registry.register("orders.price", price, whole_input=True)
    registry.register("orders.review", review, whole_input=True)
    registry.register("orders.ship", ship, whole_input=True)
