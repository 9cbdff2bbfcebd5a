"""The pieces of AWS's JSON 1.0 protocol the Step Functions endpoint speaks:
errors in AWS's shape, ARNs, required fields, JSON text fields and pages.

AWS's JSON 1.0 protocol: ``POST /`` with ``X-Amz-Target:
AWSStepFunctions.<Operation>`` and a JSON body; errors are a 400 whose body
names the error type in ``__type``, so botocore raises the same exception
classes AWS would (``ExecutionDoesNotExist``, ``InvalidDefinition``, ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse

#: The protocol's content type.
AMZ_JSON = "application/x-amz-json-1.0"

TARGET_PREFIX = "AWSStepFunctions."

#: Where ARNs say this server is; the States front end uses the same account.
REGION = "us-east-1"
ACCOUNT = "111111111111"
#: The role reported for every state machine (roles are not kept).
ROLE = f"arn:aws:iam::{ACCOUNT}:role/cadenza"

#: Fields of history event details that hold execution data.
DATA_FIELDS = frozenset({"input", "inputDetails", "output", "outputDetails"})


class AwsError(Exception):
    """An error answered in AWS's shape."""

    def __init__(self, type: str, message: str) -> None:
        super().__init__(message)
        self.type = type
        self.message = message


@dataclass(frozen=True)
class Arns:
    """ARN shapes of this server's region and account."""

    region: str = REGION
    account: str = ACCOUNT

    def state_machine(self, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name}"

    def execution(self, machine: str, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:execution:{machine}:{name}"

    def activity(self, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:activity:{name}"


def arn_names(arn: Any, kind: str, parts: int = 1) -> list[str]:
    """The trailing name parts of an ARN of ``kind``; ``InvalidArn`` otherwise."""
    if not isinstance(arn, str):
        raise AwsError("InvalidArn", f"Invalid Arn: '{arn}'")
    fields = arn.split(":")
    if len(fields) != 6 + parts or fields[:3] != ["arn", "aws", "states"] or fields[5] != kind:
        raise AwsError("InvalidArn", f"Invalid Arn: '{arn}'")
    names = fields[6:]
    if not all(names):
        raise AwsError("InvalidArn", f"Invalid Arn: '{arn}'")
    return names


def required(body: dict[str, Any], field: str) -> Any:
    """``body[field]``; ``ValidationException`` when it is missing or empty."""
    if field not in body or body[field] in (None, ""):
        raise AwsError("ValidationException", f"1 validation error detected: '{field}' is required")
    return body[field]


def json_text(value: Any, field: str) -> Any:
    """A field holding JSON text, read (``{}`` when absent)."""
    if value is None:
        return {}
    if not isinstance(value, str):
        raise AwsError("ValidationException", f"'{field}' must be a string of JSON")
    try:
        return json.loads(value)
    except ValueError as exc:
        raise AwsError(
            "InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'"
        ) from exc


def page_of(items: list[Any], body: dict[str, Any]) -> tuple[list[Any], dict[str, str]]:
    """One page of ``items`` by ``maxResults`` and ``nextToken``, and the token
    of the next page (``{}`` on the last)."""
    start = 0
    token = body.get("nextToken")
    if token is not None:
        if not (isinstance(token, str) and token.isdigit()):
            raise AwsError("InvalidToken", f"Invalid Token: '{token}'")
        start = int(token)
    size = body.get("maxResults") or 1000
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= 1000:
        raise AwsError("ValidationException", "'maxResults' must be between 1 and 1000")
    page = items[start : start + size]
    return page, ({"nextToken": str(start + size)} if start + size < len(items) else {})


def without_data(event: Any) -> Any:
    """A history event without its input and output (``includeExecutionData=false``)."""
    if not isinstance(event, dict):
        return event
    return {
        key: (
            {k: v for k, v in value.items() if k not in DATA_FIELDS}
            if key.endswith("EventDetails") and isinstance(value, dict)
            else value
        )
        for key, value in event.items()
    }


def aws_response(status: int, body: dict[str, Any]) -> JSONResponse:
    """An answer in the protocol's content type."""
    return JSONResponse(body, status_code=status, media_type=AMZ_JSON)
