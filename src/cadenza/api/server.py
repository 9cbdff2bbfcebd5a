"""``cadenza server``: the HTTP API and the engine loop in one process.

The API runs on uvicorn in a thread of its own; the engine loop (decisions,
timers, the lease reaper, activity threads) runs on the calling thread. Both
stop together on SIGINT/SIGTERM or when ``stop`` is set.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi import FastAPI

from cadenza.api import errors
from cadenza.api.aws_signature import credentials_from_environment, require_signer
from cadenza.api.cloudevents import cloudevent_routes
from cadenza.api.limits import DEFAULT_BODY_LIMIT, RequestLimits
from cadenza.api.metrics import metrics_routes
from cadenza.api.request_routes import request_routes
from cadenza.api.routes import routes
from cadenza.api.stepfunctions_endpoint import step_functions_request, step_functions_routes
from cadenza.api.workers import worker_routes
from cadenza.engine.engine import Engine
from cadenza.model.errors import InputError
from cadenza.ui import console_request, mount_console

log = logging.getLogger("cadenza.api")

#: Where the API listens unless told otherwise: this machine only.
DEFAULT_BIND = "127.0.0.1:8080"


@dataclass(frozen=True)
class ServerSettings:
    """How the API listens and what it accepts."""

    host: str = "127.0.0.1"
    port: int = 8080
    #: The bearer token every request must carry (None: no token, loopback only).
    token: str | None = None
    body_limit: int = DEFAULT_BODY_LIMIT
    #: AWS access key id -> secret access key that Step Functions requests must
    #: be signed with (SigV4); None: signatures are not checked (loopback only).
    #: Read from the environment unless given (see ``aws_signature``).
    aws_credentials: Mapping[str, str] | None = field(
        default_factory=credentials_from_environment, repr=False
    )


def parse_bind(bind: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) to its parts; ``InputError`` if malformed."""
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise InputError(f"--bind must be HOST:PORT, not {bind!r}", bind=bind)
    number = int(port)
    if number > 65535:
        raise InputError(f"--bind port {number} is not a TCP port", bind=bind)
    return host.strip("[]"), number


def is_loopback(host: str) -> bool:
    """Whether ``host`` only ever reaches this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_settings(settings: ServerSettings) -> None:
    """Refuse to serve beyond this machine without a token, and to take AWS
    credentials without the means to check signatures."""
    if settings.aws_credentials is not None:
        require_signer()
    if not is_loopback(settings.host) and not settings.token:
        raise InputError(
            f"binding {settings.host} serves other machines: give an API token "
            "(--token-file FILE or CADENZA_API_TOKEN)",
            host=settings.host,
        )


def create_app(engine: Engine, settings: ServerSettings) -> FastAPI:
    """The ASGI application over ``engine``."""
    from cadenza import __version__

    app = FastAPI(
        title="Cadenza",
        version=__version__,
        summary="Durable workflows: definitions, executions, history and requests.",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    errors.install(app)
    app.include_router(routes(engine))
    app.include_router(request_routes(engine))
    app.include_router(worker_routes(engine))
    app.include_router(
        step_functions_routes(
            engine,
            credentials=settings.aws_credentials,
            unsigned_allowed=is_loopback(settings.host),
        )
    )
    app.include_router(metrics_routes(engine))
    app.include_router(cloudevent_routes(engine))
    # After every API route: the console only answers paths the API does not.
    mount_console(app)
    app.add_middleware(
        RequestLimits,
        body_limit=settings.body_limit,
        token=settings.token,
        # Step Functions requests carry a SigV4 signature instead, and the
        # console's own page and assets hold no data (its API calls need the token).
        token_exempt=lambda scope: step_functions_request(scope) or console_request(scope),
    )
    return app


def serve_api(
    engine: Engine,
    settings: ServerSettings,
    stop: threading.Event,
    on_listening: Callable[[str, int], None] = lambda host, port: None,
) -> None:
    """Serve the API and run the engine loop until ``stop`` is set."""
    import uvicorn

    check_settings(settings)
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        raise InputError(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}",
            host=settings.host,
            port=settings.port,
        ) from exc
    # Listening now, not when uvicorn's thread gets there: a client told the
    # address may connect at once, and the kernel queues it until served.
    sock.listen(2048)
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        create_app(engine, settings), log_level="warning", access_log=False, lifespan="off"
    )
    # Run off the main thread, uvicorn leaves the process's signals alone: the
    # engine loop owns them, and the API stops when it does.
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="cadenza-api", daemon=True
    )
    thread.start()
    on_listening(host, port)
    try:
        engine.serve(stop)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
