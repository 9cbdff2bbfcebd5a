"""``core.http``: make one HTTP request with httpx.

The result is ``{"status_code": int, "headers": {name: value}, "body": ...}``.
Header names are lower-case; a header sent several times is joined with
``", "``. ``body`` is the parsed document when the response's media type is
JSON (``application/json`` or ``*/*+json``) and parses, else the text.

Outcomes and error types:

==========================  ==========  ================================
what happened               status      error type
==========================  ==========  ================================
status 100-399              succeeded   none
status 400-499              failed      ``http.client_error`` (result kept)
status 500-599              failed      ``http.server_error`` (result kept)
connect/read/write timeout  timeout     ``task.timeout``
connection refused, DNS     failed      ``http.connection_failed``
other transport error       failed      ``http.request_failed``
bad URL, bad input          failed      ``input.invalid`` (non-retryable)
==========================  ==========  ================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

import json
from collections.abc import Mapping

from cadenza.model.errors import ActivityError, InputError
from cadenza.model.events import JSON
from cadenza.workers.context import ActivityContext
from cadenza.workers.outcome import ActivityOutcome

CLIENT_ERROR = "http.client_error"
SERVER_ERROR = "http.server_error"
CONNECTION_FAILED = "http.connection_failed"
REQUEST_FAILED = "http.request_failed"

#: Default seconds for each phase (connect, read, write, pool), as StackStorm's 60.
DEFAULT_TIMEOUT = 60.0


def http_request(
    *,
    url: str,
    context: ActivityContext,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: JSON = None,
    params: Mapping[str, JSON] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    verify_ssl: bool = True,
) -> ActivityOutcome:
    """Send ``method`` ``url`` and report the response.

    ``body`` is sent as is when it is a string and as JSON otherwise (with
    ``Content-Type: application/json``); ``params`` become the query string.
    ``timeout`` applies to each phase of the exchange, not to the whole.
    Cancellation is checked before the request is sent; a request in flight
    runs until it ends or times out.
    """
    if not isinstance(url, str) or not url:
        raise ActivityError("core.http: url must be a non-empty string", type=InputError.code)
    verb = method.upper() if isinstance(method, str) else ""
    if not verb.isalpha():
        raise ActivityError(f"core.http: invalid method {method!r}", type=InputError.code)
    if context.cancelled:
        return ActivityOutcome.canceled("core.http: cancelled before the request was sent")

    content = body if isinstance(body, str) else None
    json_body = body if body is not None and content is None else None
    # Imported here: httpx costs a noticeable part of every process's start-up.
    import httpx

    try:
        with httpx.Client(verify=verify_ssl, timeout=timeout) as client:
            response = client.request(
                verb,
                url,
                headers=dict(headers or {}),
                params=dict(params or {}),
                content=content,
                json=json_body,
            )
    except httpx.TimeoutException as exc:
        return ActivityOutcome.timeout(f"core.http: {verb} {url} timed out: {_reason(exc)}")
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        return ActivityOutcome.failed(
            InputError.code, f"core.http: invalid url {url!r}: {_reason(exc)}", non_retryable=True
        )
    except httpx.ConnectError as exc:
        return ActivityOutcome.failed(
            CONNECTION_FAILED, f"core.http: cannot connect to {url}: {_reason(exc)}"
        )
    except httpx.HTTPError as exc:
        return ActivityOutcome.failed(REQUEST_FAILED, f"core.http: {verb} {url}: {_reason(exc)}")

    result: dict[str, JSON] = {
        "status_code": response.status_code,
        "headers": dict(response.headers.items()),
        "body": _body(response),
    }
    if response.status_code >= 400:
        kind = CLIENT_ERROR if response.status_code < 500 else SERVER_ERROR
        message = f"core.http: {verb} {url} answered {response.status_code}"
        if response.reason_phrase:
            message += f" {response.reason_phrase}"
        return ActivityOutcome.failed(kind, message, result=result)
    return ActivityOutcome.succeeded(result)


def _body(response: httpx.Response) -> JSON:
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    text = response.text
    if text and (media_type == "application/json" or media_type.endswith("+json")):
        try:
            return json.loads(text)
        except ValueError:
            pass  # A server that mislabels its body still gets its text reported.
    return text


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
