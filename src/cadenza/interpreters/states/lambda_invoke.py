"""The ``lambda:invoke`` integration: function names, the payload a function
receives, and the Invoke response the Task state gets back.

Functions are named by ARN, name or partial ARN; a name becomes an ARN in
region ``us-east-1`` and account ``111111111111``. The response has the shape
Step Functions records (``ExecutedVersion``, ``Payload``, ``SdkHttpMetadata``,
``SdkResponseMetadata``, ``StatusCode``, and ``LogResult`` for ``LogType:
Tail``), with request and trace ids redacted to their header names as the
recorded executions have them.
"""

from __future__ import annotations

import base64
import json
from typing import Any

__all__ = ["function_arn", "invoke_payload", "invoke_response"]

REGION = "us-east-1"
ACCOUNT = "111111111111"


def function_arn(name: Any) -> str:
    """A Lambda ``FunctionName`` (name, partial or full ARN) as a full ARN."""
    text = str(name)
    if text.startswith("arn:"):
        return text
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{text}"


def invoke_payload(payload: Any) -> Any:
    """What the function receives: Invoke sends a string Payload as the JSON text it
    holds, and no Payload as an empty object."""
    if payload is None:
        return {}
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except ValueError:
            return payload
    return payload


def invoke_response(payload: Any, log_tail: bool) -> dict[str, Any]:
    """The Lambda Invoke response the ``lambda:invoke`` integration returns."""
    length = str(len(json.dumps(payload)))
    # The recorded responses redact the request and trace ids to their header names.
    request_id = "x-amzn-RequestId"
    headers = {
        "Connection": "keep-alive",
        "Content-Length": length,
        "Content-Type": "application/json",
        "Date": "1970-01-01T00:00:00.000Z",
        "X-Amz-Executed-Version": "$LATEST",
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": request_id,
        "X-Amzn-Trace-Id": "X-Amzn-Trace-Id",
    }
    log = ""
    if log_tail:
        # The tail of the function's log, base64-encoded, as Invoke with LogType=Tail gives.
        log = base64.b64encode(b"START\nEND\n").decode()
        headers["X-Amz-Log-Result"] = log
    flat = ("Date", "X-Amzn-Trace-Id", "x-amzn-RequestId")
    all_headers: dict[str, Any] = {k: [v] for k, v in headers.items() if k not in flat}
    all_headers.update({k: headers[k] for k in flat})
    response: dict[str, Any] = {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": all_headers,
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": "RequestId"},
        "StatusCode": 200,
    }
    if log_tail:
        response["LogResult"] = log
    return response
