"""Fixtures for the worker tests: a registry, a context, a local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cadenza.workers import ActivityContext, ActivityRegistry, default_registry


@pytest.fixture
def registry() -> ActivityRegistry:
    return default_registry()


@pytest.fixture
def context() -> ActivityContext:
    return ActivityContext(execution_id="exec-1", task_id="task-1", attempt=1)


class _Handler(BaseHTTPRequestHandler):
    """Routes: /json, /text, /bad-json, POST /echo (the request as JSON), else 404."""

    def do_GET(self) -> None:
        if self.path.startswith("/json"):
            self._send(200, "application/json", json.dumps({"ok": True, "path": self.path}))
        elif self.path == "/text":
            self._send(200, "text/plain; charset=utf-8", "plain words\n")
        elif self.path == "/bad-json":
            self._send(200, "application/json", "{not json")
        else:
            self._send(404, "application/json", json.dumps({"error": "no such page"}))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8")
        echo = {
            "method": self.command,
            "body": body,
            "content_type": self.headers.get("Content-Type"),
            "x_token": self.headers.get("X-Token"),
        }
        self._send(201, "application/problem+json", json.dumps(echo))

    def _send(self, status: int, content_type: str, text: str) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Served-By", "cadenza-test")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def http_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The base URL of a real HTTP server on 127.0.0.1, on a free port."""
    # httpx honours proxy variables; a proxy must not sit between the test and 127.0.0.1.
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    # A short poll interval keeps shutdown() (which waits for one poll) fast.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
