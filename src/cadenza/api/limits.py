"""What every request must pass before a route sees it: a size limit and,
when the API has one, its bearer token.

Both are plain ASGI middleware, so a refused request is answered before its
body is read into memory.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The default largest request body: 1 MiB for the request itself, plus the
#: largest payload a workflow input may be (256 KiB, Step Functions' limit).
DEFAULT_BODY_LIMIT = 1024 * 1024 + 256 * 1024

#: Paths a load balancer may probe without a token.
OPEN_PATHS = frozenset({"/health", "/ready"})


class _TooLarge(Exception):
    pass


async def _answer(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"code": code, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """Refuse bodies over ``body_limit`` bytes (413) and, with a ``token``,
    requests without ``Authorization: Bearer <token>`` (401)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        body_limit: int,
        token: str | None,
        token_exempt: Callable[[Scope], bool] = lambda scope: False,
    ) -> None:
        self.app = app
        self.body_limit = body_limit
        self.token = token.encode() if token else None
        #: Requests that authenticate another way (checked by their route).
        self.token_exempt = token_exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exempt = scope.get("path") in OPEN_PATHS or self.token_exempt(scope)
        if self.token is not None and not exempt:
            given = b""
            for name, value in scope.get("headers", ()):
                if name == b"authorization" and value[:7].lower() == b"bearer ":
                    given = value[7:].strip()
            # Constant time: the answer must not tell how much of a guess was right.
            if not hmac.compare_digest(given, self.token):
                await _answer(send, 401, "api.unauthorized", "a valid bearer token is required")
                return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.body_limit:
                await _answer(send, 413, "request.too_large", self._too_large())
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.body_limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _answer(send, 413, "request.too_large", self._too_large())

    def _too_large(self) -> str:
        return f"the request body is larger than the limit of {self.body_limit} bytes"
