"""Errors as JSON answers: a stable code, a message, and a 4xx for bad input.

A Cadenza error becomes the status its kind calls for; a malformed request
(bad JSON, wrong types, unknown fields) a 422 that names each field. Anything
else is a defect: logged with its traceback, answered with a 500 that says
nothing about the inside.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cadenza.model.errors import (
    CadenzaError,
    DefinitionError,
    FrontEndError,
    InputError,
    LeaseLost,
    NotFoundError,
    OperationRefused,
    PayloadTooLarge,
    StoreError,
    Unauthorized,
)

log = logging.getLogger("cadenza.api")

#: HTTP status by error class; the first match in order wins.
_STATUS: tuple[tuple[type[CadenzaError], int], ...] = (
    (Unauthorized, 401),
    # A value larger than the store keeps (``payload.too_large``): the request
    # is refused whole, as one whose body is over the size limit is.
    (PayloadTooLarge, 413),
    (NotFoundError, 404),
    (DefinitionError, 400),
    (InputError, 400),
    (FrontEndError, 400),
    (OperationRefused, 409),
    (LeaseLost, 409),
    (StoreError, 503),
)


def status_of(error: CadenzaError) -> int:
    """The HTTP status an error is answered with."""
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 500


def error_body(error: CadenzaError) -> dict[str, Any]:
    """The JSON body of an error answer."""
    return error.to_dict()


def _problem(error: Any) -> dict[str, str]:
    """One malformed field as ``{field, message}``."""
    if error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "")
        return {"field": "(body)", "message": f"not valid JSON{': ' if reason else ''}{reason}"}
    location = [str(part) for part in error.get("loc", ()) if part != "body"]
    return {
        "field": ".".join(location) or "(body)",
        "message": str(error.get("msg", "invalid")),
    }


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as JSON."""

    @app.exception_handler(CadenzaError)
    async def cadenza_error(_request: Request, exc: CadenzaError) -> JSONResponse:
        status = status_of(exc)
        if status >= 500:
            log.error("request failed: [%s] %s", exc.code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(error_body(exc), status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def malformed(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_problem(error) for error in exc.errors()]
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return JSONResponse(
            {
                "code": "request.invalid",
                "message": f"the request is malformed: {message}",
                "details": {"errors": problems},
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # The framework's own refusals (an unreadable body, an unknown path or
        # method) in the same shape as every other error.
        codes = {404: "not_found", 405: "request.method_not_allowed"}
        code = codes.get(exc.status_code, "request.invalid")
        return JSONResponse(
            {"code": code, "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def defect(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error answering a request")
        return JSONResponse(
            {"code": "api.internal", "message": "the server failed; see its log"},
            status_code=500,
        )
