"""Local stand-ins for the data pipeline's three Lambda functions.

Each handler takes the event (the state's payload, as JSON) and returns the
result. Raising an exception fails the task; the exception's class name is
the Step Functions error name that Retry and Catch match (as a Lambda
function's ``errorType`` is).
"""

from __future__ import annotations

import json
import os
from typing import Any


class InvalidBillingData(Exception):
    """The input cannot be processed: retrying will not help."""


class WarehouseBusy(Exception):
    """A transient failure: the next attempt may succeed."""


REQUIRED = ("account", "service", "cost")


def validate(event: dict[str, Any]) -> dict[str, Any]:
    """Check every record has an account, a service and a non-negative cost."""
    records = event.get("records")
    if not isinstance(records, list) or not records:
        raise InvalidBillingData("the input has no records")
    problems = []
    for index, record in enumerate(records):
        missing = [key for key in REQUIRED if key not in record]
        if missing:
            problems.append(f"record {index}: missing {', '.join(missing)}")
        elif not isinstance(record["cost"], int | float) or record["cost"] < 0:
            problems.append(f"record {index}: cost must be a number >= 0")
    if problems:
        raise InvalidBillingData("; ".join(problems))
    return {"records": len(records), "source": event.get("source", "unknown")}


def transform(event: dict[str, Any]) -> dict[str, Any]:
    """Normalise one record: lower-case service name, cost in cents."""
    record = event["record"]
    return {
        "account": str(record["account"]),
        "service": str(record["service"]).strip().lower(),
        "cents": round(float(record["cost"]) * 100),
        "period": event["period"],
    }


def load(event: dict[str, Any]) -> dict[str, Any]:
    """'Load' the rows: sum them per service and append one line to a local file.

    Set PIPELINE_WAREHOUSE_BUSY=1 to make every attempt fail with WarehouseBusy
    (to watch Retry, then Catch, at work).
    """
    if os.environ.get("PIPELINE_WAREHOUSE_BUSY"):
        raise WarehouseBusy("the warehouse refused the connection")
    rows = event["rows"]
    per_service: dict[str, int] = {}
    for row in rows:
        per_service[row["service"]] = per_service.get(row["service"], 0) + row["cents"]
    with open("warehouse.jsonl", "a", encoding="utf-8") as out:
        out.write(json.dumps({"period": event["period"], "totals": per_service}) + "\n")
    return {"loaded": len(rows), "totals_cents": per_service}
