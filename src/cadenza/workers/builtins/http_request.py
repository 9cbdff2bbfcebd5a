"""``core.http``: make one HTTP request with httpx.

The parameters are those of StackStorm's ``core.http`` action and
``http-request`` runner (``auth``, ``username``, ``password``,
``verify_ssl_cert``, ``cookies``, ``allow_redirects`` among them). The
result is ``{"status_code": int, "headers": {name: value}, "body": ...,
"parsed": bool}``. Header names are lower-case; a header sent several times
is joined with ``", "``. ``body`` is the parsed document when the response's
media type is JSON (``application/json`` or ``*/*+json``) and parses, else
the text; ``parsed`` says which.

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
bad certificate             failed      ``http.connection_failed``
bad URL, bad input          failed      ``input.invalid`` (non-retryable)
==========================  ==========  ================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

import json
import time
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
    verify_ssl_cert: bool = True,
    verify_ssl: bool = True,
    auth: JSON = None,
    username: str | None = None,
    password: str | None = None,
    cookies: Mapping[str, str] | None = None,
    allow_redirects: bool = False,
) -> ActivityOutcome:
    """Send ``method`` ``url`` and report the response.

    ``body`` is sent as is when it is a string and as JSON otherwise (with
    ``Content-Type: application/json``); ``params`` become the query string.
    ``timeout`` bounds each phase of the exchange and the whole of it (a
    server that trickles its answer is cut off once ``timeout`` has passed).
    ``verify_ssl_cert: false`` (StackStorm's name; ``verify_ssl`` is the
    same) accepts any server certificate. ``username`` and ``password`` send
    HTTP basic authentication. ``auth`` is either a header written
    ``"name=value"`` (StackStorm's ``x-auth-token=XYZ``), or basic
    authentication as ``[username, password]`` or ``{"username": ...,
    "password": ...}``; ``username``/``password`` replace it when given, as
    in StackStorm. ``cookies`` are sent with the request; redirects are
    followed only with ``allow_redirects``. Cancellation is checked before
    the request is sent and while the answer is read.
    """
    if not isinstance(url, str) or not url:
        raise _bad("url must be a non-empty string")
    verb = method.upper() if isinstance(method, str) else ""
    if not verb.isalpha():
        raise _bad(f"invalid method {method!r}")
    header_auth, basic_auth = _auth(auth, username, password)
    if cookies is not None and not (
        isinstance(cookies, Mapping) and all(isinstance(v, str) for v in cookies.values())
    ):
        raise _bad("cookies must be an object of names to strings")
    if context.cancelled:
        return ActivityOutcome.canceled("core.http: cancelled before the request was sent")

    content = body if isinstance(body, str) else None
    json_body = body if body is not None and content is None else None
    # Imported here: httpx costs a noticeable part of every process's start-up.
    import httpx

    sent_headers = dict(headers or {})
    if header_auth is not None and not any(
        name.lower() == header_auth[0].lower() for name in sent_headers
    ):
        sent_headers[header_auth[0]] = header_auth[1]
    try:
        with httpx.Client(
            verify=bool(verify_ssl_cert and verify_ssl),
            timeout=timeout,
            cookies=dict(cookies or {}),
            follow_redirects=bool(allow_redirects),
        ) as client:
            request = client.build_request(
                verb,
                url,
                headers=sent_headers,
                params=dict(params or {}),
                content=content,
                json=json_body,
            )
            started = time.monotonic()
            response = client.send(
                request,
                auth=None if basic_auth is None else httpx.BasicAuth(*basic_auth),
                stream=True,
            )
            try:
                # The whole exchange, not only each phase, must end within the
                # timeout: a server trickling one byte at a time gets no more.
                chunks: list[bytes] = []
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    if time.monotonic() - started > timeout:
                        return ActivityOutcome.timeout(
                            f"core.http: {verb} {url} did not finish within {timeout:g} s"
                        )
                    if context.cancelled:
                        return ActivityOutcome.canceled("core.http: cancelled while reading")
                text = b"".join(chunks).decode(response.encoding or "utf-8", errors="replace")
            finally:
                response.close()
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

    body, parsed = _body(response, text)
    result: dict[str, JSON] = {
        "status_code": response.status_code,
        "headers": dict(response.headers.items()),
        "body": body,
        "parsed": parsed,
    }
    if response.status_code >= 400:
        kind = CLIENT_ERROR if response.status_code < 500 else SERVER_ERROR
        message = f"core.http: {verb} {url} answered {response.status_code}"
        if response.reason_phrase:
            message += f" {response.reason_phrase}"
        return ActivityOutcome.failed(kind, message, result=result)
    return ActivityOutcome.succeeded(result)


def _bad(why: str) -> ActivityError:
    return ActivityError(f"core.http: {why}", type=InputError.code, non_retryable=True)


def _auth(
    auth: JSON, username: str | None, password: str | None
) -> tuple[tuple[str, str] | None, tuple[str, str] | None]:
    """The header to add and the basic-auth pair to send, from the auth parameters."""
    if username is not None or password is not None:
        return None, (str(username or ""), str(password or ""))
    if auth is None or auth == "":
        return None, None
    if isinstance(auth, str):
        name, sep, value = auth.partition("=")
        if not sep or not name.strip():
            raise _bad(f"auth {auth!r} must be written 'header-name=value'")
        return (name.strip(), value), None
    if isinstance(auth, list) and len(auth) == 2 and all(isinstance(v, str) for v in auth):
        return None, (str(auth[0]), str(auth[1]))
    if isinstance(auth, Mapping) and set(auth) == {"username", "password"}:
        user, secret = auth["username"], auth["password"]
        if isinstance(user, str) and isinstance(secret, str):
            return None, (user, secret)
    raise _bad(
        "auth must be 'header-name=value', [username, password] "
        'or {"username": ..., "password": ...}'
    )


def _body(response: httpx.Response, text: str) -> tuple[JSON, bool]:
    """The body (``text``), parsed when it is JSON, and whether it was parsed."""
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if text and (media_type == "application/json" or media_type.endswith("+json")):
        try:
            return json.loads(text), True
        except ValueError:
            pass  # A server that mislabels its body still gets its text reported.
    return text, False


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
