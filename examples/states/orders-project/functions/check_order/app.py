"""The order check, as deployed to Lambda (``Handler: app.lambda_handler``)."""

from __future__ import annotations

from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    total = event.get("total", 0)
    if total <= 0:
        return {"approved": False, "reason": "an order must cost something"}
    if total > 1000:
        return {"approved": False, "reason": "orders over 1000 need a person"}
    return {"approved": True, "reason": ""}
