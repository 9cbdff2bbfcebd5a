"""The Step Functions endpoint: ``POST /`` with ``X-Amz-Target``, signatures checked.

Which requests are Step Functions' (the ``X-Amz-Target`` header on ``POST /``),
refusing unsigned or wrongly signed ones, decoding the JSON body and answering
in AWS's error shape; the operations themselves are ``stepfunctions``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cadenza.api.aws_protocol import TARGET_PREFIX, AwsError, aws_response
from cadenza.api.aws_signature import ReceivedRequest, SignatureRefused, verify
from cadenza.api.stepfunctions import StepFunctions
from cadenza.engine.engine import Engine
from cadenza.model.errors import CadenzaError


def step_functions_request(scope: Mapping[str, Any]) -> bool:
    """Whether an ASGI request is for the Step Functions endpoint."""
    if scope.get("path") != "/" or scope.get("method") != "POST":
        return False
    return any(name == b"x-amz-target" for name, _ in scope.get("headers", ()))


def step_functions_routes(
    engine: Engine,
    *,
    credentials: Mapping[str, str] | None = None,
    unsigned_allowed: bool = True,
) -> APIRouter:
    """``POST /`` answering ``X-Amz-Target: AWSStepFunctions.*`` requests.

    With ``credentials``, every request must be signed with one of them (SigV4);
    without, signatures are not checked when ``unsigned_allowed`` (a loopback
    bind) and every request is refused otherwise.
    """
    api = APIRouter()
    service = StepFunctions(engine)

    def refused(body: bytes, request: Request) -> JSONResponse | None:
        if credentials is None:
            if unsigned_allowed:
                return None
            return aws_response(
                403,
                {
                    "__type": "UnrecognizedClientException",
                    "message": "this server checks no AWS signatures, so it serves Step "
                    "Functions on loopback only: configure credentials "
                    "(CADENZA_AWS_ACCESS_KEY_ID and CADENZA_AWS_SECRET_ACCESS_KEY)",
                },
            )
        received = ReceivedRequest(
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            headers=dict(request.headers),
            body=body,
        )
        try:
            verify(received, credentials, datetime.datetime.now(datetime.UTC))
        except SignatureRefused as exc:
            return aws_response(403, {"__type": exc.type, "message": exc.message})
        return None

    @api.post("/", include_in_schema=False)
    async def step_functions(request: Request) -> JSONResponse:
        raw = await request.body()
        refusal = refused(raw, request)
        if refusal is not None:
            return refusal
        target = request.headers.get("x-amz-target", "")
        if not target.startswith(TARGET_PREFIX):
            return aws_response(400, {"__type": "UnknownOperationException", "message": target})
        operation = service.operations.get(target[len(TARGET_PREFIX) :])
        if operation is None:
            message = f"{target} is not served here"
            return aws_response(400, {"__type": "UnknownOperationException", "message": message})
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return aws_response(
                400, {"__type": "SerializationException", "message": "body is not JSON"}
            )
        if not isinstance(body, dict):
            return aws_response(
                400, {"__type": "SerializationException", "message": "not an object"}
            )
        try:
            answer = await run_in_threadpool(operation, body)
        except AwsError as exc:
            return aws_response(400, {"__type": exc.type, "message": exc.message})
        except CadenzaError as exc:
            return aws_response(400, {"__type": "ValidationException", "message": exc.message})
        return aws_response(200, answer)

    return api
